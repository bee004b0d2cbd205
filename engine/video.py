"""Continuous-time rendering: a Video is (generator, content, motion); frames at any real t.

Time is measured in training-data frames, as upstream. Playback and export map wall-clock frames to t:

    t_k = t_start + time_scale · k · native_fps / fps

so any fps samples the same motion more or less densely, a negative time scale plays backwards, and
t = 10^6 costs what t = 0 costs. That mapping lives here, never in the networks.
"""

from __future__ import annotations

import math
import os
import warnings
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np
import torch

from engine.errors import SgvError
from engine.motion_codes import MotionCodes
from engine.nets.generator import Generator


def content_z(seed: int, z_dim: int) -> torch.Tensor:
    """The content noise of a seed: StyleGAN's convention, np.random.RandomState(seed).randn(z_dim)."""
    return torch.from_numpy(np.random.RandomState(seed).randn(1, z_dim)).to(torch.float32)


def class_vector(c: int | Sequence[float] | torch.Tensor | None, c_dim: int) -> torch.Tensor | None:
    """A label for a conditional model: a class index (one-hot) or a [c_dim] vector; None for unconditional."""
    if c_dim == 0:
        if c is not None:
            raise SgvError("this model is unconditional; do not pass a class")
        return None
    if c is None:
        raise SgvError(f"this model is conditional ({c_dim} classes); pass a class (e.g. --class 0)")
    if isinstance(c, int):
        if not 0 <= c < c_dim:
            raise SgvError(f"class {c} is out of range 0..{c_dim - 1}")
        return torch.nn.functional.one_hot(torch.tensor([c]), c_dim).to(torch.float32)
    c = torch.as_tensor(c, dtype=torch.float32).reshape(1, -1)
    if c.shape[1] != c_dim:
        raise SgvError(f"label has {c.shape[1]} entries, the model needs {c_dim}")
    return c


def frame_times(
    num_frames: int, fps: float, native_fps: float, t_start: float = 0.0, time_scale: float = 1.0
) -> np.ndarray:
    """t of frames k = 0..num_frames-1 of a video played at `fps`. float64 [num_frames]."""
    if fps <= 0:
        raise SgvError(f"fps must be positive, got {fps}")
    k = np.arange(num_frames, dtype=np.float64)
    return t_start + time_scale * k * (native_fps / fps)


_ANCHOR_CACHE_SIZE = 1024


class _LRU(OrderedDict):
    """A bounded dict: playback keeps touching nearby anchors, so least recently used ones go first."""

    def __init__(self, size: int):
        super().__init__()
        self.size = size

    def __getitem__(self, key):
        self.move_to_end(key)
        return super().__getitem__(key)

    def __setitem__(self, key, value):
        super().__setitem__(key, value)
        if len(self) > self.size:
            self.popitem(last=False)


class Video:
    """One video of a generator: content codes (W+) and motion. Frames are [3, H, W] floats in about [-1, 1]."""

    def __init__(
        self,
        G: Generator,
        content: int | torch.Tensor = 0,
        motion: int | MotionCodes = 0,
        c: int | Sequence[float] | torch.Tensor | None = None,
        psi: float = 1.0,
        batch_size: int = 16,
        precision: str = "fp32",
        channels_last: bool | None = None,
        compile: str = "off",
    ):
        self.G = G
        self.c = class_vector(c, G.c_dim)
        self.ws = self._content_codes(content, psi)  # [1, L, D]
        self.motion = motion if isinstance(motion, MotionCodes) else MotionCodes(seed=int(motion))
        self.batch_size = max(1, int(batch_size))
        # channels_last is exact fp32 math in another memory layout (tests/test_fastpaths.py) and ~1.4x faster
        # on CPU; on CUDA it only pays off with reduced precision, so "auto" keeps it off there.
        if channels_last is None:
            channels_last = G.device.type == "cpu"
        self.precision, self.channels_last = precision, channels_last
        # torch.compile of the synthesis network (engine/compiled.py): "reduce-overhead" captures CUDA graphs,
        # for launch-bound batch-1 rendering on a GPU; a failed compile warns once and renders eagerly.
        self._synthesis = G.synthesis
        if compile != "off":
            from engine.compiled import CompiledOrEager

            self._synthesis = CompiledOrEager(G.synthesis, compile, lambda text: warnings.warn(text, stacklevel=3))

    def _content_codes(self, content: int | torch.Tensor, psi: float) -> torch.Tensor:
        G = self.G
        if isinstance(content, (int, np.integer)):
            z = content_z(int(content), G.z_dim).to(G.device)
            c = self.c.to(G.device) if self.c is not None else None
            with torch.no_grad():
                return G.mapping(z, c, psi=psi)
        ws = torch.as_tensor(content, dtype=torch.float32)
        if ws.ndim == 2:
            ws = ws.unsqueeze(0)
        if tuple(ws.shape) != (1, G.num_ws, G.w_dim):
            raise SgvError(f"content codes have shape {list(ws.shape)}, this model needs [1, {G.num_ws}, {G.w_dim}]")
        return ws.to(G.device)

    @property
    def motion(self) -> MotionCodes:
        return self._motion

    @motion.setter
    def motion(self, motion: MotionCodes) -> None:
        self._motion = motion
        self._anchor_cache = _LRU(_ANCHOR_CACHE_SIZE)  # anchor codes are only valid for this motion

    @property
    def native_fps(self) -> float:
        return self.G.config.native_fps

    @property
    def resolution(self) -> int:
        """Side of the frames this video renders (export sizes its output by it; a cascade's is larger)."""
        return self.G.img_resolution

    def times(
        self, num_frames: int, fps: float | None = None, t_start: float = 0.0, time_scale: float = 1.0
    ) -> np.ndarray:
        return frame_times(num_frames, fps or self.native_fps, self.native_fps, t_start, time_scale)

    @torch.no_grad()
    def frames(self, ts: Sequence[float] | np.ndarray | torch.Tensor) -> torch.Tensor:
        """Frames at times ts (any real values, any order): [T, 3, H, W] float32 on the model's device."""
        ts = torch.as_tensor(np.asarray(ts, dtype=np.float64)).reshape(-1)
        out = []
        for i in range(0, len(ts), self.batch_size):
            chunk = ts[i : i + self.batch_size]
            v = self.G.motion([self.motion], chunk, self.c, cache=self._anchor_cache)
            x = self._synthesis(self.ws, v, precision=self.precision, channels_last=self.channels_last)
            out.append(x[0])
        return (
            torch.cat(out) if out else torch.empty(0, self.G.img_channels, self.G.img_resolution, self.G.img_resolution)
        )

    def frame(self, t: float) -> torch.Tensor:
        return self.frames([t])[0]

    def frames_uint8(self, ts) -> np.ndarray:
        """Frames quantised like a saved video: uint8 [T, H, W, 3]."""
        return to_uint8(self.frames(ts))


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """[..., C, H, W] in [-1, 1] → uint8 [..., H, W, C], quantised as StyleGAN saves videos and computes metrics."""
    x = (x * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    return x.movedim(-3, -1).cpu().numpy()


# ----------------------------------------------------------------------------------------------------
# Grids: rows are motions, columns are contents (upstream's content/motion decomposition).


@torch.no_grad()
def grid_frames(
    G: Generator,
    contents: Sequence[torch.Tensor],
    motions: Sequence[MotionCodes],
    ts,
    c: torch.Tensor | None = None,
    precision: str = "fp32",
    pad: int = 2,
    channels_last: bool | None = None,
) -> np.ndarray:
    """uint8 [T, H', W', 3]: cell (r, k) shows content k moving with motion r."""
    rows, cols = len(motions), len(contents)
    ws = torch.cat([w.reshape(1, G.num_ws, G.w_dim) for w in contents]).to(G.device)  # [cols, L, D]
    ws = ws.repeat(rows, 1, 1)  # [rows·cols, L, D], row-major
    cell_motions = [m for m in motions for _ in range(cols)]
    cc = c.expand(rows * cols, -1) if c is not None else None
    ts = torch.as_tensor(np.asarray(ts, dtype=np.float64)).reshape(-1)
    v = G.motion(cell_motions, ts, cc)
    if channels_last is None:
        channels_last = G.device.type == "cpu"
    x = G.synthesis(ws, v, precision=precision, channels_last=channels_last)  # [rows·cols, T, 3, H, W]
    frames = to_uint8(x)  # [rows·cols, T, H, W, 3]
    return tile(frames.reshape(rows, cols, *frames.shape[1:]), pad)


def tile(cells: np.ndarray, pad: int = 2) -> np.ndarray:
    """[rows, cols, T, H, W, 3] → [T, rows·(H+pad)−pad, cols·(W+pad)−pad, 3] on black."""
    rows, cols, t, h, w, ch = cells.shape
    out = np.zeros((t, rows * (h + pad) - pad, cols * (w + pad) - pad, ch), dtype=cells.dtype)
    for r in range(rows):
        for k in range(cols):
            out[:, r * (h + pad) : r * (h + pad) + h, k * (w + pad) : k * (w + pad) + w] = cells[r, k]
    return out


# ----------------------------------------------------------------------------------------------------
# Export: streams frames to the writer chunk by chunk, so memory is constant in the duration.


def export_video(
    video: Video,
    out: str | os.PathLike,
    t_start: float = 0.0,
    duration_s: float | None = None,
    num_frames: int | None = None,
    fps: float | None = None,
    time_scale: float = 1.0,
    quality: int = 8,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> int:
    """Render a clip to an .mp4 (H.264, yuv420p) or a folder of PNG frames. Returns frames written.

    `video` is anything with frames_uint8(ts), native_fps, resolution and batch_size: a Video or a
    cascade (engine.cascade.CascadeVideo).

    Give either duration_s (seconds of playback at `fps`) or num_frames. fps defaults to the model's
    native fps. `should_stop` is polled between chunks; stopping leaves any previous file untouched.
    """
    fps = fps or video.native_fps
    total = _frame_count(duration_s, num_frames, fps)
    size = (video.resolution, video.resolution)
    return _stream(
        lambda ts: video.frames_uint8(ts),
        out,
        total,
        fps,
        size,
        video.native_fps,
        t_start,
        time_scale,
        quality,
        video.batch_size,
        progress,
        should_stop,
    )


def export_grid_video(
    G: Generator,
    contents: Sequence[torch.Tensor],
    motions: Sequence[MotionCodes],
    out: str | os.PathLike,
    t_start: float = 0.0,
    duration_s: float | None = None,
    num_frames: int | None = None,
    fps: float | None = None,
    time_scale: float = 1.0,
    c: torch.Tensor | None = None,
    quality: int = 8,
    batch_size: int = 4,
    pad: int = 2,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> int:
    fps = fps or G.config.native_fps
    total = _frame_count(duration_s, num_frames, fps)
    res = G.img_resolution
    size = (len(contents) * (res + pad) - pad, len(motions) * (res + pad) - pad)
    return _stream(
        lambda ts: grid_frames(G, contents, motions, ts, c=c, pad=pad),
        out,
        total,
        fps,
        size,
        G.config.native_fps,
        t_start,
        time_scale,
        quality,
        batch_size,
        progress,
        should_stop,
    )


def _frame_count(duration_s: float | None, num_frames: int | None, fps: float) -> int:
    if (duration_s is None) == (num_frames is None):
        raise SgvError("give exactly one of a duration (seconds) or a number of frames")
    total = int(num_frames) if num_frames is not None else int(math.floor(duration_s * fps + 1e-9))
    if total < 1:
        raise SgvError(f"nothing to render: {total} frames")
    return total


def _stream(
    render,
    out,
    total: int,
    fps: float,
    size: tuple[int, int],
    native_fps: float,
    t_start: float,
    time_scale: float,
    quality: int,
    chunk: int,
    progress,
    should_stop,
) -> int:
    from engine.media import open_video_writer  # imageio-ffmpeg only when writing

    ts = frame_times(total, fps, native_fps, t_start, time_scale)
    done = 0
    with open_video_writer(out, fps=fps, size=size, quality=quality) as writer:
        for i in range(0, total, chunk):
            if should_stop is not None and should_stop():
                raise ExportCancelled(f"{out}: export cancelled after {done} of {total} frames")
            frames = render(ts[i : i + chunk])
            writer.write(frames)
            done += len(frames)
            if progress is not None:
                progress(done, total)
    return done


class ExportCancelled(SgvError):
    pass
