"""Procedural videos for tests, demos and the bundled model: `synth_video(seed, num_frames, resolution, t0)`.

Each video (one seed) is a scene: a two-colour background gradient that slowly turns (half the scenes add
soft low-frequency stripes), and 2-4 shapes (discs, squares, triangles, soft blobs) in a few colours of one
palette. Motion is hierarchical:
  slow      a smooth random walk (Catmull-Rom value noise with seeded knots every 60-140 frames),
  medium    elliptical oscillation: two sinusoids with incommensurate periods (20-60 frames and ×φ),
  fast      a small jitter (~1/3 px at 64²) with a 3-6 frame period,
plus slow rotation and a gentle size pulse. Knots and incommensurate periods make it aperiodic over any
horizon. Everything is kept smooth and low-frequency (1.5 px antialiased edges, no pixel noise), so a
small GAN can learn it at 64² on a CPU in about an hour.

Determinism: frame t of seed s is a pure function of (s, t, R). Scene parameters come from numpy's PCG64
(platform-independent); per-frame trajectories from integer hashing and Python's `math` functions; pixels
from elementwise float32 +, −, ×, ÷, sqrt, min/max only (IEEE-exact, no reductions across frames, no
SIMD-dependent transcendental functions), so any window renders to the same bytes as the same frames
inside a longer one, in any chunking.
"""

from __future__ import annotations

import colorsys
import math
import os
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.data.base import META_FILE, DatasetError
from engine.data.layout import (
    FORMAT_NAME,
    FORMAT_VERSION,
    ZipDatasetWriter,
    commit_dir,
    encode_frame,
    frame_name,
    temp_dir_for,
    write_meta,
)

SYNTH_FPS = 25.0  # the frame rate synthetic datasets declare
SYNTH_VERSION = 1  # bump when the picture of a (seed, t, R) changes
SHAPE_KINDS = ("disc", "square", "triangle", "blob")
EDGE_PX = 1.5  # antialiased edge width in pixels
_GOLDEN = (1 + 5**0.5) / 2
_TAU = 2 * math.pi


# ----------------------------------------------------------------------------------------------------
# Deterministic scalar signals of time


def _hash01(key: int, k: np.ndarray) -> np.ndarray:
    """Uniform [0, 1) from (key, integer k): splitmix64, counter-based, so any knot costs the same."""
    x = k.astype(np.int64).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(key)
    x ^= x >> np.uint64(30)
    x *= np.uint64(0xBF58476D1CE4E5B9)
    x ^= x >> np.uint64(27)
    x *= np.uint64(0x94D049BB133111EB)
    x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


def _walk(key: int, t: np.ndarray, spacing: float) -> np.ndarray:
    """A smooth seeded random walk in about [-1, 1]: Catmull-Rom through random knots every `spacing` frames."""
    u = t / spacing
    k = np.floor(u)
    f = u - k
    k = k.astype(np.int64)
    p0, p1, p2, p3 = (2 * _hash01(key, k + d) - 1 for d in (-1, 0, 1, 2))
    return 0.5 * (2 * p1 + (p2 - p0) * f + (2 * p0 - 5 * p1 + 4 * p2 - p3) * f**2 + (3 * p1 - p0 - 3 * p2 + p3) * f**3)


def _sin(x: np.ndarray) -> np.ndarray:
    # math.sin (the C library's), not np.sin: numpy's vectorised sin may differ in the last bit between CPUs.
    return np.fromiter((math.sin(v) for v in x.tolist()), dtype=np.float64, count=len(x))


def _wave(t: np.ndarray, period: float, phase: float) -> np.ndarray:
    return _sin(_TAU * t / period + phase)


# ----------------------------------------------------------------------------------------------------
# Scene: everything about one video that does not change with t


@dataclass(frozen=True)
class _Motion:
    """One 1-D trajectory: home + slow walk + medium oscillation (2 periods) + fast jitter."""

    home: float
    walk_key: int
    walk_amp: float
    walk_spacing: float
    osc_amp: float
    osc_period: float
    osc_phase: float
    osc2_amp: float
    osc2_phase: float
    jit_amp: float
    jit_period: float
    jit_phase: float

    def __call__(self, t: np.ndarray) -> np.ndarray:
        return (
            self.home
            + self.walk_amp * _walk(self.walk_key, t, self.walk_spacing)
            + self.osc_amp * _wave(t, self.osc_period, self.osc_phase)
            + self.osc2_amp * _wave(t, self.osc_period * _GOLDEN, self.osc2_phase)
            + self.jit_amp * _wave(t, self.jit_period, self.jit_phase)
        )


@dataclass(frozen=True)
class _Shape:
    kind: str
    color: tuple[float, float, float]
    radius: float  # fraction of the frame width
    x: _Motion
    y: _Motion
    angle0: float  # radians
    spin: float  # radians per frame
    wobble_key: int
    pulse_amp: float
    pulse_period: float
    opacity: float


@dataclass(frozen=True)
class _Scene:
    bg0: tuple[float, float, float]
    bg1: tuple[float, float, float]
    bg_angle0: float
    bg_turn: float  # radians per frame
    bg_key: int
    bg_gain: float
    stripes: float  # amplitude, 0 = none
    stripe_freq: tuple[float, float]  # cycles per frame width in x, y
    stripe_period: float  # frames for the stripes to drift one cycle
    stripe_tint: tuple[float, float, float]
    shapes: tuple[_Shape, ...]


def _rng(seed: int | Sequence[int]) -> np.random.Generator:
    entropy = [seed] if isinstance(seed, int | np.integer) else list(seed)
    if not entropy or any(not isinstance(s, int | np.integer) or s < 0 for s in entropy):
        raise ValueError(f"synthetic video seed must be a non-negative integer (or a tuple of them), got {seed!r}")
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(s) for s in entropy])))


def _hsv(h: float, s: float, v: float) -> tuple[float, float, float]:
    return tuple(float(c) for c in colorsys.hsv_to_rgb(h % 1.0, s, v))


def _motion(rng: np.random.Generator, home: float) -> _Motion:
    return _Motion(
        home=home,
        walk_key=int(rng.integers(0, 2**62)),
        walk_amp=float(rng.uniform(0.08, 0.16)),
        walk_spacing=float(rng.uniform(60, 140)),
        osc_amp=float(rng.uniform(0.02, 0.06)),
        osc_period=float(rng.uniform(20, 60)),
        osc_phase=float(rng.uniform(0, _TAU)),
        osc2_amp=float(rng.uniform(0.005, 0.02)),
        osc2_phase=float(rng.uniform(0, _TAU)),
        jit_amp=float(rng.uniform(0.003, 0.007)),
        jit_period=float(rng.uniform(3, 6)),
        jit_phase=float(rng.uniform(0, _TAU)),
    )


def make_scene(seed: int | Sequence[int]) -> _Scene:
    rng = _rng(seed)
    bg_hue = rng.uniform()
    bg0 = _hsv(bg_hue, rng.uniform(0.2, 0.5), rng.uniform(0.12, 0.3))
    bg1 = _hsv(bg_hue + rng.uniform(-0.15, 0.15), rng.uniform(0.2, 0.5), rng.uniform(0.45, 0.7))
    base_hue = rng.uniform()
    n_colors = int(rng.integers(2, 4))
    palette = [
        _hsv(base_hue + i / n_colors + rng.uniform(-0.04, 0.04), rng.uniform(0.55, 0.9), rng.uniform(0.8, 1.0))
        for i in range(n_colors)
    ]
    shapes = []
    for _ in range(int(rng.integers(2, 5))):
        kind = SHAPE_KINDS[int(rng.integers(0, len(SHAPE_KINDS)))]
        shapes.append(
            _Shape(
                kind=kind,
                color=palette[int(rng.integers(0, n_colors))],
                radius=float(rng.uniform(0.08, 0.18)),
                x=_motion(rng, float(rng.uniform(0.3, 0.7))),
                y=_motion(rng, float(rng.uniform(0.3, 0.7))),
                angle0=float(rng.uniform(0, _TAU)),
                spin=float(rng.choice([-1, 1]) * _TAU / rng.uniform(90, 300)),
                wobble_key=int(rng.integers(0, 2**62)),
                pulse_amp=float(rng.uniform(0.0, 0.12)),
                pulse_period=float(rng.uniform(30, 90)),
                opacity=float(rng.uniform(0.75, 0.95)) if kind == "blob" else 1.0,
            )
        )
    has_stripes = bool(rng.uniform() < 0.5)
    stripe_angle = rng.uniform(0, _TAU)
    stripe_cycles = rng.uniform(1.0, 2.5)
    return _Scene(
        bg0=bg0,
        bg1=bg1,
        bg_angle0=float(rng.uniform(0, _TAU)),
        bg_turn=float(rng.choice([-1, 1]) * _TAU / rng.uniform(600, 2000)),
        bg_key=int(rng.integers(0, 2**62)),
        bg_gain=float(rng.uniform(0.8, 1.3)),
        stripes=float(rng.uniform(0.08, 0.14)) if has_stripes else 0.0,
        stripe_freq=(float(stripe_cycles * math.cos(stripe_angle)), float(stripe_cycles * math.sin(stripe_angle))),
        stripe_period=float(rng.uniform(80, 250)),
        stripe_tint=_hsv(base_hue + 0.5, 0.3, 1.0),
        shapes=tuple(shapes),
    )


# ----------------------------------------------------------------------------------------------------
# Rendering


def _f32(x: np.ndarray) -> np.ndarray:
    return np.asarray(x, dtype=np.float32).reshape(-1, 1, 1)  # [F, 1, 1]: broadcasts over pixels


def _sdf(kind: str, x: np.ndarray, y: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Signed distance (frame-width units) to a shape centred at 0 with size r, in local coordinates."""
    if kind == "disc":
        return np.sqrt(x * x + y * y) - r
    if kind == "square":
        b = r * np.float32(0.85)
        qx, qy = np.abs(x) - b, np.abs(y) - b
        ox, oy = np.maximum(qx, 0), np.maximum(qy, 0)
        return np.sqrt(ox * ox + oy * oy) + np.minimum(np.maximum(qx, qy), 0)
    if kind == "triangle":  # equilateral (Inigo Quilez's exact sdf)
        k = np.float32(math.sqrt(3.0))
        px, py = np.abs(x) - r, y + r / k
        fold = px + k * py > 0
        px, py = np.where(fold, (px - k * py) / 2, px), np.where(fold, (-k * px - py) / 2, py)
        px = px - np.clip(px, -2 * r, 0)
        return -np.sqrt(px * px + py * py) * np.sign(py)
    raise ValueError(kind)


def _render(scene: _Scene, t: np.ndarray, resolution: int) -> np.ndarray:
    """uint8 [F, R, R, 3] for frame times t (float64 [F])."""
    r = resolution
    c = ((np.arange(r, dtype=np.float32) + np.float32(0.5)) / np.float32(r)).astype(np.float32)
    xs, ys = c.reshape(1, 1, r), c.reshape(1, r, 1)

    # Background: a turning two-colour gradient, optionally with drifting soft stripes.
    angle = scene.bg_angle0 + scene.bg_turn * t + 0.6 * _walk(scene.bg_key, t, 250.0)
    ca, sa = _f32(_sin(angle + math.pi / 2)), _f32(_sin(angle))
    shift = _f32(0.15 * _walk(scene.bg_key ^ 0x5BD1E995, t, 180.0))
    g = np.clip(((xs - 0.5) * ca + (ys - 0.5) * sa) * np.float32(scene.bg_gain) + 0.5 + shift, 0, 1)
    g = g * g * (3 - 2 * g)  # smoothstep
    bg0, bg1 = np.asarray(scene.bg0, np.float32), np.asarray(scene.bg1, np.float32)
    img = bg0 + (bg1 - bg0) * g[..., None]  # [F, R, R, 3]
    if scene.stripes > 0:
        phase = _f32(t / scene.stripe_period)
        u = xs * np.float32(scene.stripe_freq[0]) + ys * np.float32(scene.stripe_freq[1]) + phase
        f = u - np.floor(u)
        w = (4 * f * (1 - f)) ** 2  # a smooth periodic bump, arithmetic only
        img = img + (np.float32(scene.stripes) * (w - np.float32(0.5)))[..., None] * np.asarray(
            scene.stripe_tint, np.float32
        )

    # Shapes, painted in order.
    for sh in scene.shapes:
        cx, cy = _f32(sh.x(t)), _f32(sh.y(t))
        rad = _f32(sh.radius * (1 + sh.pulse_amp * _wave(t, sh.pulse_period, 0.0)))
        a = sh.angle0 + sh.spin * t + 0.8 * _walk(sh.wobble_key, t, 120.0)
        ca, sa = _f32(_sin(a + math.pi / 2)), _f32(_sin(a))
        dx, dy = xs - cx, ys - cy
        lx, ly = dx * ca + dy * sa, dy * ca - dx * sa  # rotate into the shape's frame
        if sh.kind == "blob":
            q = np.clip(1 - (lx * lx + ly * ly) / (rad * rad * np.float32(1.96)), 0, 1)
            alpha = np.float32(sh.opacity) * q * q
        else:
            alpha = np.clip(0.5 - _sdf(sh.kind, lx, ly, rad) * np.float32(r / EDGE_PX), 0, 1)
        img = img + (np.asarray(sh.color, np.float32) - img) * alpha[..., None]

    return np.floor(np.clip(img, 0, 1) * np.float32(255) + np.float32(0.5)).astype(np.uint8)


def synth_video(seed: int | Sequence[int], num_frames: int, resolution: int, t0: int = 0) -> np.ndarray:
    """Frames t0 … t0 + num_frames − 1 of synthetic video `seed` as uint8 [F, R, R, 3].

    Frame t depends only on (seed, t, resolution): any window renders independently. Video i of
    `sgv dataset synth --seed S` is `synth_video((S, i), ...)`.
    """
    if num_frames < 0 or resolution < 1:
        raise ValueError(f"need num_frames >= 0 and resolution >= 1, got {num_frames}, {resolution}")
    scene = make_scene(seed)
    out = np.empty((num_frames, resolution, resolution, 3), dtype=np.uint8)
    chunk = max(1, (1 << 19) // (resolution * resolution))  # ~0.5 M pixels per pass bounds the memory
    for s in range(0, num_frames, chunk):
        t = np.arange(t0 + s, t0 + min(s + chunk, num_frames), dtype=np.float64)
        out[s : s + len(t)] = _render(scene, t, resolution)
    return out


# ----------------------------------------------------------------------------------------------------
# A dataset of synthetic videos


def write_synthetic_dataset(
    out: str | os.PathLike,
    videos: int,
    frames: int,
    resolution: int,
    seed: int = 0,
    format: str | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | bool | None = None,
    workers: int | None = None,
) -> Path:
    """Write `videos` synthetic videos of `frames` frames at R×R: video i is `synth_video((seed, i), ...)`,
    named `video_00000`, … . Formats: "frames" (a folder of PNG frame folders, the default), "zip" (upstream's
    zip layout; `out` must end in .zip), "mp4" (a folder of H.264 files at 25 fps). A dataset.json records
    fps 25 and the arguments. frames/zip outputs are byte-identical for the same arguments; the whole
    output appears atomically. progress: None → tqdm bar; callable(done, total); False → silent.
    workers: processes rendering videos in parallel (default: CPU count, at most 8; the bytes do not change).
    """
    out = Path(out).expanduser()
    fmt = format or ("zip" if out.suffix.lower() == ".zip" else "frames")
    if fmt not in ("frames", "zip", "mp4"):
        raise DatasetError(f"{out}: --format must be frames, zip or mp4, got {fmt!r}")
    if (fmt == "zip") != (out.suffix.lower() == ".zip"):
        raise DatasetError(f"{out}: --format {fmt} needs " + ("a name ending in .zip" if fmt == "zip" else "a folder"))
    for what, v, lo in (
        ("--videos", videos, 1),
        ("--frames", frames, 1),
        ("--res", resolution, 4),
        ("--seed", seed, 0),
    ):
        if not isinstance(v, int | np.integer) or v < lo:
            raise DatasetError(f"{out}: {what} must be an integer >= {lo}, got {v!r}")
    if out.exists():
        if not overwrite:
            raise DatasetError(f"{out}: already exists (pass --overwrite to replace it)")
        if out.is_dir() != (fmt != "zip"):
            raise DatasetError(f"{out}: exists and is a {'folder' if out.is_dir() else 'file'}; choose another --out")
    meta = {
        "format": FORMAT_NAME if fmt != "mp4" else "sgv-videos",
        "version": FORMAT_VERSION,
        "fps": SYNTH_FPS,
        "resolution": int(resolution),
        "labels": None,
        "synthetic": {
            "generator": "sgv-synth",
            "version": SYNTH_VERSION,
            "seed": int(seed),
            "videos": int(videos),
            "frames": int(frames),
        },
    }
    names = [f"video_{i:05d}" for i in range(videos)]
    report, close = _synth_progress(progress, videos, out)
    jobs = [(int(seed), i, int(frames), int(resolution), fmt) for i in range(videos)]
    try:
        if fmt == "zip":
            with ZipDatasetWriter(out) as writer:
                for i, encoded in enumerate(_map(_encoded_video, jobs, workers)):
                    writer.add_video(names[i], encoded)
                    report(i + 1)
                writer.close(meta)
            return out
        tmp = temp_dir_for(out)
        tmp.mkdir(parents=True)
        try:
            for i, encoded in enumerate(_map(_encoded_video, jobs, workers)):
                _write_synth_video(tmp, names[i], encoded, fmt, resolution)
                report(i + 1)
            write_meta(tmp / META_FILE, meta)
            commit_dir(tmp, out)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return out
    finally:
        close()


def _encoded_video(job: tuple[int, int, int, int, str]) -> list[tuple[str, bytes]] | np.ndarray:
    """Video i of a dataset: PNG-encoded frames, or the raw frames for mp4 (encoded by the parent)."""
    seed, i, frames, resolution, fmt = job
    clip = synth_video((seed, i), frames, resolution)
    if fmt == "mp4":
        return clip
    return [(frame_name(k, "png"), encode_frame(f, "png")) for k, f in enumerate(clip)]


def _map(fn, jobs: list, workers: int | None):
    """fn over jobs in order, in worker processes when there are several (videos are independent, so the
    output is the same whatever the worker count)."""
    from engine.data.prepare import _mp_context, _worker_init, default_workers

    n = workers or default_workers(len(jobs))
    if n <= 1 or len(jobs) <= 1:
        yield from map(fn, jobs)
        return
    pool = _mp_context().Pool(min(n, len(jobs)), initializer=_worker_init)
    try:
        yield from pool.imap(fn, jobs)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()


def _write_synth_video(root: Path, name: str, encoded, fmt: str, resolution: int) -> None:
    if fmt == "mp4":
        from engine.media import VideoWriter

        with VideoWriter(root / f"{name}.mp4", fps=SYNTH_FPS, size=(resolution, resolution), crf=12) as writer:
            writer.write(encoded)
        return
    folder = root / name
    folder.mkdir()
    for fname, data in encoded:
        (folder / fname).write_bytes(data)


def _synth_progress(progress, total: int, out: Path):
    if progress is False:
        return (lambda done: None), (lambda: None)
    if callable(progress):
        progress(0, total)
        return (lambda done: progress(done, total)), (lambda: None)
    from tqdm import tqdm

    bar = tqdm(total=total, desc=f"synthesising {out.name}", unit="video", dynamic_ncols=True)
    return (lambda done: bar.update(done - bar.n)), bar.close
