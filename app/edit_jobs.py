"""Projection and CLIP-edit jobs for the Project and Edit panels, plus the pure values those panels hold.

The module level is torch-free (numpy only), so widgets may import the specs, results and helpers here; the
job bodies import torch and engine.edit when they run, on the job's own thread (app/jobs.py). A body drives
the engine's step iterator (`Projector`, `ClipEditor`) one step per yield, so the job shows progress, a
preview and the loss after every step, and cancel works between any two steps. A `Stop` flag ends the run
early *with* a result (the best codes so far); cancel discards it.

Each body works on its own copy of the renderer's generator (`copy.deepcopy`, a few ms for a small model, one
model's worth of memory), so the backward passes never share modules or their caches with the renderer
thread, which keeps drawing frames while a job runs. Results are numpy values stamped with the model's
fingerprint: accepting one after another model was opened is refused rather than mixing codes.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from app.jobs import JobContext, Progress
from app.state import Content, Motion
from engine.suffixes import PICTURE_EXTS, READ_VIDEO_EXTS

LOSS_CHOICES = ("auto", "lpips", "pixel")
FIT_CHOICES = ("crop", "pad")
IMAGE_EXTS = PICTURE_EXTS  # what the Project panel opens as a photo
VIDEO_EXTS = READ_VIDEO_EXTS  # ... and as a clip (content and motion are fitted)
DEFAULT_CLIP_MODEL, DEFAULT_CLIP_PRETRAINED = "ViT-B-32", "openai"
CLIP_SCORE_MOTIONS = 4  # fixed motions for the noise-free CLIP loss shown before/after an edit


# ----------------------------------------------------------------------------------------------------
# Pure values (what the panels hold and show)


@dataclass(frozen=True)
class ProjectSpec:
    image: str  # any file engine.media.read_image reads
    num_steps: int = 1000  # upstream's recipe
    loss: str = "auto"  # "auto" (LPIPS when its weights are installed, else the labelled pixel fallback), ...
    fit: str = "crop"  # "crop" or "pad" a non-square image
    start_s: float = 0.0  # a video: where the clip starts, seconds
    num_frames: int = 0  # a video: frames of the clip (0 = all; long clips are subsampled)

    @property
    def is_video(self) -> bool:
        return is_video_path(self.image)


def is_video_path(path: str) -> bool:
    return Path(path.strip()).suffix.lower() in VIDEO_EXTS


@dataclass(frozen=True)
class EditSpec:
    prompt: str
    num_steps: int = 40  # upstream's grid uses 40
    l2_lambda: float = 0.001  # weight of ‖w − w_start‖² (upstream's grid: 0.0001 … 0.0025)
    clip_model: str = DEFAULT_CLIP_MODEL  # open_clip name, or an open_clip model config .json
    clip_pretrained: str = DEFAULT_CLIP_PRETRAINED  # tag known to engine.weights, or a checkpoint path
    t: float = 0.0  # frame time of the previews (training-data frames); the edit itself holds for any motion
    seed: int = 0  # seed of the per-step motion draws


@dataclass(frozen=True)
class StepInfo:
    """A job's live state (Progress.preview): what the panel draws while it runs."""

    step: int
    num_steps: int
    loss: float
    best_loss: float
    preview: np.ndarray | None = None  # uint8 [H, W, 3], the current codes' frame
    target: np.ndarray | None = None  # projection: the image as the model sees it; edit: the start frame
    psnr_db: float | None = None  # projection: PSNR of this step's frame vs the target
    terms: dict = field(default_factory=dict)  # named loss terms (edit: clip, l2, distance)
    loss_label: str = ""  # which image loss runs (projection)
    note: str = ""  # e.g. why LPIPS fell back to the pixel loss
    elapsed_s: float = 0.0

    @property
    def eta_s(self) -> float | None:
        if self.step <= 0:
            return None
        return self.elapsed_s / self.step * (self.num_steps - self.step)


@dataclass(frozen=True, eq=False)
class ProjectionResult:
    ws: np.ndarray  # [L, D] float32: the lowest-loss codes
    image: str
    target: np.ndarray  # uint8 [R, R, 3]
    reconstruction: np.ndarray  # uint8 [R, R, 3]: the codes' frame at t = 0 under the projection's motion
    psnr_db: float
    loss_label: str
    fallback_reason: str | None
    steps: int
    num_steps: int
    best_loss: float
    losses: tuple[float, ...]
    psnrs: tuple[float, ...]  # PSNR of each step's frame (w-noise included) vs the target, dB
    fingerprint: str  # model the codes belong to
    motion: Motion  # the motion the image was matched under (t = 0)
    seconds: float

    def content(self, c: int | None = None) -> Content:
        return _projected_content(self, c, "projection", "image", self.image)


@dataclass(frozen=True, eq=False)
class VideoProjectionResult:
    """A projected clip: content codes, the fitted anchors (motion overrides on `motion_seed`) and where the
    clip sits in model time."""

    ws: np.ndarray  # [L, D] float32
    overrides: dict  # anchor index → u [V] float32: the fitted motion
    motion_seed: int  # the model's own motion before and after the clip
    video: str
    targets: np.ndarray  # uint8 [N, R, R, 3]: the clip's fitted frames as the model sees them
    reconstruction: np.ndarray  # uint8 [N, R, R, 3]: the same frames rendered from the result
    times: tuple[float, ...]  # model time of each of those frames
    psnr_db: float  # mean over the frames
    loss_label: str
    fallback_reason: str | None
    notes: tuple[str, ...]  # e.g. the clip was subsampled
    steps: int
    num_steps: int
    best_loss: float
    losses: tuple[float, ...]
    fingerprint: str
    seconds: float

    @property
    def time_range(self) -> tuple[float, float]:
        return self.times[0], self.times[-1]

    def motion(self) -> Motion:
        return Motion(self.motion_seed, self.overrides)

    def content(self, c: int | None = None) -> Content:
        t0, t1 = self.time_range
        return _projected_content(self, c, "video-projection", "video", self.video, clip_t=f"{t0:g}..{t1:g}")


def _projected_content(r, c: int | None, source: str, kind: str, path: str, **extra: str) -> Content:
    """A projection's codes as a content named after the projected file (`kind`: "image" or "video"), with how
    it was made (loss, steps, PSNR) in its provenance."""
    return Content.from_codes(
        r.ws,
        f"projection of {Path(path).name}",
        c=c,
        source=source,
        **{kind: path},
        loss=r.loss_label,
        steps=f"{r.steps}/{r.num_steps}",
        psnr_db=f"{r.psnr_db:.2f}",
        **extra,
    )


@dataclass(frozen=True, eq=False)
class EditResult:
    start_ws: np.ndarray  # [L, D] float32
    edited_ws: np.ndarray  # [L, D] float32
    prompt: str
    clip_label: str  # "model/pretrained"
    t: float
    steps: int
    num_steps: int
    l2_lambda: float
    losses: tuple[float, ...]
    clip_losses: tuple[float, ...]  # per step (noisy: a new motion every step)
    clip_before: float  # noise-free CLIP loss (1 − cos) over fixed motions, start codes
    clip_after: float  # the same for the edited codes
    distance: float  # ‖w − w_start‖₂
    fingerprint: str
    start_label: str  # label of the content the edit started from
    seconds: float
    start_image: np.ndarray | None = None  # uint8 [R, R, 3]: frame t of the start codes under the app's motion

    @property
    def delta(self) -> np.ndarray:
        return self.edited_ws - self.start_ws

    def codes_at(self, strength: float) -> np.ndarray:
        """start + strength · (edited − start); strength 1 gives the edited codes exactly (bit for bit)."""
        if strength == 1.0:
            return self.edited_ws
        if strength == 0.0:
            return self.start_ws
        return (self.start_ws + np.float32(strength) * self.delta).astype(np.float32)

    def content(self, strength: float, c: int | None = None) -> Content:
        label = f"edit: {self.prompt}" + ("" if strength == 1.0 else f" ×{strength:.2f}")
        return Content.from_codes(
            self.codes_at(strength),
            label,
            c=c,
            source="edit",
            prompt=self.prompt,
            clip=self.clip_label,
            strength=f"{strength:g}",
            steps=f"{self.steps}/{self.num_steps}",
            parent=self.start_label,
        )


class Stop:
    """Ask a running job to finish after the current step and keep what it has (cancel throws it away)."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def __bool__(self) -> bool:
        return self._event.is_set()


def progress_message(info: StepInfo) -> str:
    parts = [f"step {info.step}/{info.num_steps}", f"loss {info.loss:.4g}"]
    if info.psnr_db is not None:
        parts.append(f"PSNR {info.psnr_db:.1f} dB")
    if "clip" in info.terms:
        parts.append(f"CLIP {info.terms['clip']:.4f}")
    if "frame" in info.terms:
        parts.append(f"frame {info.terms['frame']}")
    if "distance" in info.terms:
        parts.append(f"|Δw| {info.terms['distance']:.3g}")
    eta = info.eta_s
    if eta is not None and info.step < info.num_steps:
        parts.append(f"{format_seconds(eta)} left")
    return ",  ".join(parts)


def format_seconds(s: float) -> str:
    s = max(0, int(round(s)))
    return f"{s // 60}:{s % 60:02d}" if s >= 60 else f"{s} s"


def direction_file_name(name: str, folder: Path) -> Path:
    """A new `<slug>.npz` in `folder` for a direction called `name` (never overwrites)."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip()).strip("-._")[:48] or "direction"
    path = folder / f"{slug}.npz"
    k = 2
    while path.exists():
        path = folder / f"{slug}-{k}.npz"
        k += 1
    return path


def lpips_weights_problem() -> str | None:
    """None when LPIPS can load; else the one-line WeightsMissing message (what `--loss auto` falls back on)."""
    from engine import weights

    for name in ("lpips-vgg", "vgg16"):
        try:
            weights.resolve(name)
        except weights.WeightsMissing as e:
            return str(e)
    return None


def clip_weights_problem(model: str, pretrained: str) -> str | None:
    """A one-line reason the CLIP files are missing (checked without loading anything), or None."""
    from engine import weights

    model, pretrained = model.strip(), pretrained.strip()
    if not model:
        return "type a CLIP model: an open_clip name (ViT-B-32) or a model config .json"
    if model.endswith(".json") and not Path(model).expanduser().is_file():
        return f"{model}: no such CLIP model config"
    if (model.replace("/", "-"), pretrained) == (DEFAULT_CLIP_MODEL, DEFAULT_CLIP_PRETRAINED):
        try:
            weights.resolve("clip-vit-b-32-openai")
        except weights.WeightsMissing as e:
            return str(e)
        return None
    if not pretrained:
        return "type a pretrained tag (openai) or a checkpoint path"
    p = Path(pretrained).expanduser()
    if (os.sep in pretrained or p.suffix in (".pt", ".pth", ".bin", ".safetensors")) and not p.is_file():
        return f"{pretrained}: no such CLIP checkpoint"
    return None


# ----------------------------------------------------------------------------------------------------
# Directions (engine.edit.directions files) as numpy values


@dataclass(frozen=True, eq=False)
class DirectionEntry:
    path: str
    name: str
    delta: np.ndarray  # [L, D] float32
    fingerprint: str
    norm: float


def load_direction_entry(path: str | os.PathLike) -> DirectionEntry:
    """Read a direction file (LatentsError with one line on a bad file)."""
    from engine.edit.directions import load_direction

    d = load_direction(path)
    delta = d.delta.numpy().astype(np.float32)
    return DirectionEntry(str(path), d.name or Path(path).stem, delta, d.fingerprint, float(np.linalg.norm(delta)))


def scan_directions(folder: str | os.PathLike) -> tuple[list[DirectionEntry], list[str]]:
    """Every readable direction `.npz` in `folder` (sorted by name) and one error line per unreadable file."""
    from engine.errors import SgvError

    entries, errors = [], []
    folder = Path(folder)
    if not folder.is_dir():
        return entries, errors
    for p in sorted(folder.glob("*.npz"), key=lambda p: p.name.lower()):
        try:
            entries.append(load_direction_entry(p))
        except SgvError as e:
            errors.append(str(e))
    return entries, errors


def save_direction_entry(result: EditResult, folder: str | os.PathLike, name: str | None = None) -> DirectionEntry:
    """Keep an edit as a direction file (edited − start) in `folder`; returns it as an entry."""
    import torch

    from engine.edit.directions import Direction, save_direction

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    name = (name or result.prompt).strip() or "direction"
    direction = Direction(
        delta=torch.from_numpy(result.delta),
        name=name,
        fingerprint=result.fingerprint,
        provenance={"edit": {"prompt": result.prompt, "clip_model": result.clip_label, "steps": result.steps}},
    )
    path = save_direction(direction_file_name(name, folder), direction)
    return load_direction_entry(path)


def apply_directions(base: np.ndarray, entries: list[DirectionEntry], strengths: dict[str, float]) -> np.ndarray:
    """base + Σ strength_i · delta_i over the entries with a non-zero strength (float32)."""
    out = np.array(base, dtype=np.float32, copy=True)
    for e in entries:
        s = strengths.get(e.path, 0.0)
        if s:
            out += np.float32(s) * e.delta
    return out


# ----------------------------------------------------------------------------------------------------
# Job bodies (run on a job thread; torch from here on)


def _own_copy(G):
    """The renderer's generator, copied for this job (see the module doc), frozen."""
    import copy

    return copy.deepcopy(G).eval().requires_grad_(False)


def _class(G, c: int | None):
    from engine.video import class_vector

    return class_vector(c if c is not None else 0, G.c_dim) if G.c_dim else None


def projection_job(backend, spec: ProjectSpec, motion: Motion, c: int | None, stop: Stop) -> Callable:
    """A job body projecting `spec.image` at t = 0 under the app's current motion (so the accepted content shows
    the image at t = 0 of the video the user is looking at)."""

    def body(ctx: JobContext) -> Iterator[Progress]:
        from engine.edit.images import psnr
        from engine.edit.projection import ProjectionConfig, Projector

        t0 = time.perf_counter()
        yield Progress(None, "preparing (model copy, w_avg, loss) ...")
        G = _own_copy(backend.G)
        p = Projector(
            G,
            spec.image,
            motion=backend.motion_codes(motion),
            config=ProjectionConfig(num_steps=int(spec.num_steps), fit=spec.fit),
            image_loss=spec.loss,
            c=_class(G, c),
        )
        note = p.loss_fn.fallback_reason or ""
        first = StepInfo(
            0, p.config.num_steps, math.nan, math.nan, None, p.target_uint8, None, {}, p.loss_fn.label, note
        )
        yield Progress(0.0, "projecting ...", first)
        psnrs = []
        while not p.done and not stop:  # the job checks cancel between steps (each yield)
            s = p.step()
            psnrs.append(psnr(s.preview, p.target_uint8))
            info = StepInfo(
                s.step,
                s.num_steps,
                s.loss,
                s.best_loss,
                s.preview,
                p.target_uint8,
                psnrs[-1],
                {},
                p.loss_fn.label,
                note,
                time.perf_counter() - t0,
            )
            yield Progress(s.progress, progress_message(info), info)
        recon = p.reconstruction()
        return ProjectionResult(
            ws=p.best_ws[0].cpu().numpy().astype(np.float32),
            image=str(spec.image),
            target=p.target_uint8,
            reconstruction=recon,
            psnr_db=psnr(recon, p.target_uint8),
            loss_label=p.loss_fn.label,
            fallback_reason=p.loss_fn.fallback_reason,
            steps=p.step_index,
            num_steps=p.config.num_steps,
            best_loss=p.best_loss,
            losses=tuple(p.losses),
            psnrs=tuple(psnrs),
            fingerprint=backend.fingerprint,
            motion=motion,
            seconds=time.perf_counter() - t0,
        )

    return body


def video_projection_job(backend, spec: ProjectSpec, motion: Motion, c: int | None, stop: Stop) -> Callable:
    """A job body fitting content and motion to the clip in `spec.image` (a video). The clip starts at t = 0; the
    current motion's seed carries the video on before and after it (its edited anchors are not used)."""

    def body(ctx: JobContext) -> Iterator[Progress]:
        from engine.edit.video_projection import VideoProjectionConfig, VideoProjector, load_clip

        t0 = time.perf_counter()
        yield Progress(None, "reading the clip ...")
        G = _own_copy(backend.G)
        clip = load_clip(spec.image, G.img_resolution, spec.start_s, spec.num_frames or None, fit=spec.fit)
        yield Progress(None, "preparing (model copy, statistics, loss) ...")
        cfg = VideoProjectionConfig(num_steps=int(spec.num_steps), motion_seed=motion.seed)
        p = VideoProjector(G, clip, cfg, image_loss=spec.loss, c=_class(G, c))
        note = " ".join([*(p.loss_fn.fallback_reason or "",), *clip.notes]).strip()
        r = G.img_resolution
        first = StepInfo(0, cfg.num_steps, math.nan, math.nan, None, clip.frames[0], None, {}, p.loss_fn.label, note)
        yield Progress(0.0, "projecting the clip ...", first)
        while not p.done and not stop:
            s = p.step()
            k = s.terms["frame"]
            target, fit = s.preview[:, :r], s.preview[:, -r:]
            terms = {"frame": k, "t": float(p.times[k])}
            info = StepInfo(
                s.step, s.num_steps, s.loss, s.best_loss, fit, target, _psnr(fit, target), terms,
                p.loss_fn.label, note, time.perf_counter() - t0,
            )  # fmt: skip
            yield Progress(s.progress, progress_message(info), info)
        yield Progress(1.0, "rendering the reconstruction ...")
        latents = p.result(with_psnr=False)
        recon = p.reconstruction(latents)
        from engine.edit.images import psnr

        return VideoProjectionResult(
            ws=latents.ws.numpy().astype(np.float32),
            overrides={i: u.numpy().astype(np.float32) for i, u in latents.motion.overrides.items()},
            motion_seed=motion.seed,
            video=str(spec.image),
            targets=clip.frames,
            reconstruction=recon,
            times=tuple(float(t) for t in p.times),
            psnr_db=float(np.mean([min(psnr(a, b), 100.0) for a, b in zip(recon, clip.frames)])),
            loss_label=p.loss_fn.label,
            fallback_reason=p.loss_fn.fallback_reason,
            notes=clip.notes,
            steps=p.step_index,
            num_steps=cfg.num_steps,
            best_loss=min(p.image_losses) if p.image_losses else math.nan,
            losses=tuple(p.losses),
            fingerprint=backend.fingerprint,
            seconds=time.perf_counter() - t0,
        )

    return body


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    from engine.edit.images import psnr

    return psnr(a, b)


class ClipCache:
    """The last CLIP model a job loaded, kept for the next edit (loading ViT-B-32 takes seconds). Thread-safe;
    the Edit panel owns one and passes it to its jobs."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._clip = None

    def get(self, model: str, pretrained: str, device):
        from engine.edit.clip_model import load_clip

        key = (model, pretrained, str(device))
        with self._lock:
            if self._key != key:
                self._clip, self._key = None, None  # free the old one before loading the next
                self._clip = load_clip(model, pretrained, device=device)
                self._key = key
            return self._clip


def edit_job(
    backend,
    spec: EditSpec,
    start_ws: np.ndarray,
    start_label: str,
    motion: Motion,
    c: int | None,
    clips: ClipCache,
    stop: Stop,
) -> Callable:
    """A job body running StyleCLIP latent optimisation from `start_ws` (the current content's exact codes);
    previews show frame `spec.t` under the app's current motion, which the edit never changes."""

    def body(ctx: JobContext) -> Iterator[Progress]:
        import torch

        from engine.edit.clip_edit import ClipEditor, EditConfig
        from engine.latents import Latents

        t0 = time.perf_counter()
        yield Progress(None, f"loading CLIP {spec.clip_model} / {Path(spec.clip_pretrained).name} ...")
        G = _own_copy(backend.G)
        clip = clips.get(spec.clip_model, spec.clip_pretrained, G.device)
        ctx.check_cancel()
        cv = _class(G, c)
        start = Latents(
            ws=torch.from_numpy(np.array(start_ws, dtype=np.float32)),
            motion=backend.motion_codes(motion),
            c=cv[0] if cv is not None else None,
            fingerprint=backend.fingerprint,
            provenance={"source": "app", "label": start_label},
        )
        config = EditConfig(num_steps=int(spec.num_steps), l2_lambda=float(spec.l2_lambda), t=spec.t, seed=spec.seed)
        ed = ClipEditor(G, start, spec.prompt, clip, config)
        yield Progress(None, "measuring the start codes' CLIP loss ...")
        with torch.no_grad():
            before = ed.clip_score(ed.w_start, num_motions=CLIP_SCORE_MOTIONS)
            start_image = ed.preview()
            first = StepInfo(0, config.num_steps, math.nan, math.nan, start_image, start_image, terms={"clip": before})
        yield Progress(0.0, "editing ...", first)
        while not ed.done and not stop:
            s = ed.step()
            elapsed = time.perf_counter() - t0
            info = StepInfo(s.step, s.num_steps, s.loss, s.best_loss, s.preview, start_image, None, dict(s.terms))
            info = dataclasses.replace(info, elapsed_s=elapsed)
            yield Progress(s.progress, progress_message(info), info)
        with torch.no_grad():
            after = ed.clip_score(num_motions=CLIP_SCORE_MOTIONS)
        return EditResult(
            start_ws=np.array(start_ws, dtype=np.float32),
            edited_ws=ed.w.detach()[0].cpu().numpy().astype(np.float32),
            prompt=ed.prompt,
            clip_label=f"{clip.name}/{Path(str(clip.pretrained)).name}",
            t=spec.t,
            steps=ed.step_index,
            num_steps=config.num_steps,
            l2_lambda=config.l2_lambda,
            losses=tuple(ed.losses),
            clip_losses=tuple(ed.clip_losses),
            clip_before=before,
            clip_after=after,
            distance=ed.distance(),
            fingerprint=backend.fingerprint,
            start_label=start_label,
            seconds=time.perf_counter() - t0,
            start_image=start_image,
        )

    return body
