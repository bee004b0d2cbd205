"""Video projection: recover one clip's content (W+) and its motion (the anchor codes u covering it).

Upstream's projector fits W+ at t = 0 with the motion held fixed, so a projected video cannot move like its
source. Here both are fitted. The unknowns are the content codes ws [L, D] and the anchor codes u_i of the
anchors lo..hi that cover the clip plus `margin_anchors` on each side (docs/projection.md):

    loss = mean_k d(G(ws, v(t_k; u)), frame_k)                        frames k: a random subset per step
         + prior_lambda  · mean_i ‖(u_i − u⁰_i) / σ_u‖² / V           u⁰: the motion network's anchors
         + smooth_lambda · mean_i ‖(Δu_i − Δu⁰_i) / σ_u‖² / V          Δ: next anchor minus this one

d is LPIPS (or the labelled pixel fallback). u⁰ are the anchors the motion network computes for
`motion_seed`; σ_u is the per-dimension spread of its anchors over many seeds. The smoothness chain includes
the fixed seed anchors just outside the fitted range, so the fitted motion hands over to the seed's own motion
without a jump: the result is that seed's MotionCodes with the fitted anchors as overrides, and rendering
beyond the fitted range (before or after the clip) continues with the model's own motion.

The clip's frame k (of its original numbering) sits at t_k = t_start + k · native_fps / clip_fps, so a clip at
50 fps on a 25 fps model covers half as many model frames per frame. `VideoProjector` is a step iterator like
`Projector`: `for state in p: ...`, stop any time, `p.result()`.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from engine.edit.images import fit_square, psnr, to_tensor
from engine.edit.losses import ImageLoss, make_image_loss
from engine.edit.motion_stats import frame_change  # noqa: F401  (re-exported: boundary checks use it)
from engine.edit.projection import StepState, model_fingerprint, w_stats
from engine.edit.schedule import StepLoop, noise_scale
from engine.errors import SgvError
from engine.latents import Latents
from engine.motion_codes import MotionCodes

MAX_CLIP_FRAMES = 256  # frames kept as targets; longer selections are subsampled (their real times kept)
MAX_VIDEO_SIDE = 8192  # larger frames are refused before decoding (a mistake, and seconds per frame)
MAX_UNSELECTED_SECONDS = 600.0  # a longer video needs --frames: projecting an hour is never what was meant


# ----------------------------------------------------------------------------------------------------
# Clips


@dataclass(frozen=True)
class Clip:
    """Target frames of a video projection, already fitted to the model's square frame."""

    frames: np.ndarray  # uint8 [N, R, R, 3]
    fps: float  # the clip's frame rate (frames per second of the source)
    indices: np.ndarray  # int64 [N]: each frame's number counted from the clip's first frame (gaps = subsampled)
    source: str = "clip"
    start_s: float = 0.0  # where the clip starts in its source file, in seconds
    notes: tuple[str, ...] = field(default_factory=tuple)  # e.g. "subsampled every 3rd frame"

    def __post_init__(self) -> None:
        if self.frames.ndim != 4 or self.frames.shape[-1] != 3 or self.frames.dtype != np.uint8:
            raise SgvError(f"{self.source}: clip frames must be uint8 [N, H, W, 3], got {self.frames.shape}")
        if len(self.indices) != len(self.frames):
            raise SgvError(f"{self.source}: {len(self.indices)} frame indices for {len(self.frames)} frames")
        if not (math.isfinite(self.fps) and self.fps > 0):
            raise SgvError(f"{self.source}: the frame rate ({self.fps}) is not a positive number; pass --fps")

    @classmethod
    def from_frames(cls, frames: np.ndarray, fps: float, resolution: int, source: str = "clip", fit: str = "crop"):
        """From uint8 [N, H, W, 3] frames of any size (each is cropped/padded and resized like a photo)."""
        frames = np.asarray(frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise SgvError(f"{source}: clip frames must be uint8 [N, H, W, 3], got {frames.dtype} {list(frames.shape)}")
        fitted = np.stack([fit_square(f, resolution, fit) for f in frames]) if len(frames) else frames
        return cls(fitted, float(fps), np.arange(len(frames), dtype=np.int64), source)

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    @property
    def duration_s(self) -> float:
        """Seconds from the first to the last frame."""
        return float(self.indices[-1] - self.indices[0]) / self.fps if len(self.indices) else 0.0

    def times(self, native_fps: float, t_start: float = 0.0) -> np.ndarray:
        """Model time (training-data frames) of every frame. float64 [N]"""
        return t_start + self.indices.astype(np.float64) * (native_fps / self.fps)


def load_clip(
    path: str | os.PathLike,
    resolution: int,
    start_s: float = 0.0,
    num_frames: int | None = None,
    fps: float | None = None,
    fit: str = "crop",
    max_frames: int = MAX_CLIP_FRAMES,
) -> Clip:
    """Read `num_frames` frames (default: all) of a video from `start_s` seconds on, fitted to the model's frame.

    `fps` overrides the file's frame rate (needed when the file has none). Every problem is one SgvError line
    naming the file: unreadable, empty, audio-only, a single frame, frames too large, an unreadable frame rate,
    a start past the end, a whole long video without --frames. More than `max_frames` frames are subsampled
    evenly (their real times are kept) and a note in `Clip.notes` says so.
    """
    from engine import media

    path = Path(path)
    if num_frames is not None and num_frames < 1:
        raise SgvError(f"{path}: --frames must be at least 1, got {num_frames}")
    if not (math.isfinite(start_s) and start_s >= 0):
        raise SgvError(f"{path}: --start must be a time >= 0 in seconds, got {start_s}")
    if fps is not None and not (math.isfinite(fps) and fps > 0):
        raise SgvError(f"{path}: --fps must be a positive number, got {fps}")
    try:
        info = media.probe_video(path, count_frames=False)  # MediaError (one line) for missing/empty/not a video
    except media.MediaError:
        if _audio_only(path):
            raise SgvError(f"{path}: has sound but no picture (an audio-only file); give a video") from None
        raise
    w, h = info["width"], info["height"]
    if max(w, h) > MAX_VIDEO_SIDE:
        raise SgvError(f"{path}: frames are {w}x{h} px; at most {MAX_VIDEO_SIDE} px a side (scale the video down)")
    rate = fps if fps is not None else info["fps"]
    if not (rate and math.isfinite(rate) and rate > 0):
        raise SgvError(f"{path}: cannot read the frame rate; pass --fps with the rate the video was filmed at")
    duration = info["duration_s"] or 0.0
    if num_frames is None and duration - start_s > MAX_UNSELECTED_SECONDS:
        raise SgvError(
            f"{path}: video is {duration / 60:.0f} min long; choose a part with --start SECONDS and --frames N"
        )
    first = int(round(start_s * rate))
    wanted = num_frames
    stride = 1
    if wanted is not None and wanted > max_frames:
        stride = math.ceil(wanted / max_frames)
    frames: list[np.ndarray] = []
    indices: list[int] = []
    seen, last = 0, None  # frames decoded; (number, frame) of the clip's last frame
    for k, frame in enumerate(media.iter_video_frames(path)):
        seen = k + 1
        j = k - first  # frame number within the clip
        if j < 0:
            continue
        if wanted is not None and j >= wanted:
            break
        last = (j, frame)
        if j % stride == 0:
            frames.append(fit_square(frame, resolution, fit))
            indices.append(j)
        if wanted is None and len(frames) > 2 * max_frames:  # unknown length: thin as we go, memory stays bounded
            frames, indices, stride = frames[::2], indices[::2], stride * 2
    if seen == 0:
        raise SgvError(f"{path}: video has no frames")
    if last is None:
        raise SgvError(f"{path}: --start {start_s:g} s is past the end of the video ({seen / rate:.2f} s)")
    if indices[-1] != last[0]:  # the clip's last frame always counts: it fixes the time range
        frames.append(fit_square(last[1], resolution, fit))
        indices.append(last[0])
    notes: list[str] = []
    total = last[0] + 1
    if len(frames) > max_frames:
        keep = np.unique(np.linspace(0, len(frames) - 1, max_frames).round().astype(int))
        frames, indices = [frames[i] for i in keep], [indices[i] for i in keep]
    if len(frames) < total:
        notes.append(f"the clip has {total} frames; fitting {len(frames)} of them spread over its whole length")
    if num_frames is not None and total < num_frames:
        notes.append(f"the video ends after {total} of the {num_frames} frames asked for")
    if total == 1:
        raise SgvError(f"{path}: the clip has a single frame; project it as a photo (--image) instead")
    return Clip(
        np.stack(frames), float(rate), np.asarray(indices, dtype=np.int64), str(path), float(start_s), tuple(notes)
    )


def _audio_only(path: Path) -> bool:
    """Whether ffmpeg lists audio streams and no video stream in the file (its header dump, no decoding)."""
    import subprocess

    import imageio_ffmpeg

    try:
        cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path)]
        log = subprocess.run(cmd, capture_output=True, timeout=30).stderr.decode("utf-8", errors="replace")
    except (OSError, subprocess.SubprocessError):
        return False
    streams = [ln for ln in log.splitlines() if ln.strip().startswith("Stream #")]
    return any(" Audio:" in ln for ln in streams) and not any(" Video:" in ln for ln in streams)


# ----------------------------------------------------------------------------------------------------
# Projection


@dataclass(frozen=True)
class VideoProjectionConfig:
    num_steps: int = 500
    initial_lr: float = 0.1  # content codes (as the photo projector)
    motion_lr: float = 0.1  # anchor codes, in units of σ_u per step
    lr_rampup_length: float = 0.05
    lr_rampdown_length: float = 0.25
    initial_noise_factor: float = 0.05  # w-noise std at step 0, in units of w_std
    noise_ramp_length: float = 0.75
    frames_per_step: int = 8  # clip frames rendered per step (a random subset; memory is O(this))
    prior_lambda: float = 0.01  # pull of the anchors toward the motion network's (see the module doc)
    smooth_lambda: float = 0.05  # pull of anchor-to-anchor changes toward the motion network's
    margin_anchors: int = 1  # anchors fitted beyond those the clip touches, on each side (hand-over room)
    motion_seed: int = 0  # the motion the fit starts from, is pulled toward, and continues with
    t_start: float = 0.0  # model time of the clip's first frame, in training-data frames
    w_avg_samples: int = 10_000
    w_avg_seed: int = 123
    u_stat_seeds: int = 64  # motion seeds sampled for σ_u
    seed: int = 0  # frame subsets and w-noise

    def validate(self) -> None:
        if self.num_steps < 1:
            raise SgvError(f"projection needs at least 1 step, got {self.num_steps}")
        if not (self.initial_lr > 0 and self.motion_lr >= 0):
            raise SgvError("learning rates must be positive")
        if self.frames_per_step < 1:
            raise SgvError("frames_per_step must be at least 1")
        if self.prior_lambda < 0 or self.smooth_lambda < 0:
            raise SgvError("loss weights must be >= 0")
        if self.margin_anchors < 0:
            raise SgvError("margin_anchors must be >= 0")
        if not math.isfinite(self.t_start):
            raise SgvError("t_start must be finite")


@torch.no_grad()
def anchor_spread(G, num_seeds: int = 64, anchors: int = 4, c: torch.Tensor | None = None) -> torch.Tensor:
    """σ_u: per-dimension standard deviation of the motion network's anchor codes over seeds. float64 [V]"""
    enc = G.synthesis.motion_encoder
    motions = [MotionCodes(seed=1_000_003 + s) for s in range(num_seeds)]
    cc = c.expand(num_seeds, -1) if c is not None else None
    u = enc.anchor_codes(motions, 0, anchors, cc).reshape(-1, enc.cfg.v_dim)
    return u.std(dim=0).clamp_min(1e-8)


class VideoProjector(StepLoop):
    """Fits content + anchor codes to a clip. See the module doc."""

    def __init__(
        self,
        G,
        clip: Clip,
        config: VideoProjectionConfig = VideoProjectionConfig(),
        image_loss: ImageLoss | str = "lpips",
        c: torch.Tensor | None = None,
        device: torch.device | str | None = None,
    ):
        config.validate()
        if G.c_dim and c is None:
            raise SgvError(f"this model is conditional ({G.c_dim} classes); pass a class label")
        if clip.frames.shape[1:3] != (G.img_resolution, G.img_resolution):
            raise SgvError(f"{clip.source}: clip frames are {clip.frames.shape[1:3]}, the model's {G.img_resolution}²")
        self.G, self.clip, self.config = G, clip, config
        self.device = torch.device(device) if device is not None else G.device
        self.c = c.to(self.device).reshape(1, -1) if c is not None else None
        self.enc = G.synthesis.motion_encoder
        self.delta_z = float(G.delta_z)
        self.native_fps = float(G.config.native_fps)
        self.times = torch.from_numpy(clip.times(self.native_fps, config.t_start))  # float64 [N]
        span = float(self.times[-1] - self.times[0])
        if clip.num_frames < 2 or span < self.delta_z:
            raise SgvError(
                f"{clip.source}: the clip spans {span / self.native_fps:.2f} s of model time; a video projection "
                f"needs at least one anchor interval ({self.delta_z / self.native_fps:.2f} s = {self.delta_z:g} "
                f"model frames at {self.native_fps:g} fps); use more frames (or project one frame as a photo)"
            )
        self.targets = torch.cat([to_tensor(f, "cpu") for f in clip.frames])  # [N, 3, R, R], CPU: long clips
        self.loss_fn = make_image_loss(image_loss, self.device) if isinstance(image_loss, str) else image_loss
        left = torch.floor(self.times / self.delta_z).to(torch.int64)
        m = config.margin_anchors
        self.lo, self.hi = int(left.min()) - m, int(left.max()) + 1 + m  # fitted anchors lo..hi
        self.seed_motion = MotionCodes(seed=config.motion_seed)
        with torch.no_grad():
            # Chain: fixed seed anchor lo-1, fitted lo..hi, fixed seed anchor hi+1.
            chain = self.enc.anchor_codes([self.seed_motion], self.lo - 1, self.hi - self.lo + 3, self.c)[0]
        self.u_prior = chain.detach().to(self.device, torch.float64)  # [A + 2, V]
        self.sigma_u = anchor_spread(G, config.u_stat_seeds, c=self.c).to(self.device)  # [V]
        # Parametrised in units of σ_u around the prior, so one learning rate suits every model.
        self.u_delta = torch.zeros(self.hi - self.lo + 1, self.u_prior.shape[1], dtype=torch.float64)
        self.u_delta = self.u_delta.to(self.device).requires_grad_(True)
        w_avg, self.w_std = w_stats(G, config.w_avg_samples, config.w_avg_seed, self.c)
        self.w_opt = w_avg.to(self.device).repeat(1, G.num_ws, 1).requires_grad_(True)  # [1, L, D]
        self.optimizer = torch.optim.Adam(
            [{"params": [self.w_opt], "lr": config.initial_lr}, {"params": [self.u_delta], "lr": config.motion_lr}],
            betas=(0.9, 0.999),
        )
        self.gen = torch.Generator(device=self.device).manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.step_index = 0
        self.losses: list[float] = []
        self.image_losses: list[float] = []
        self.state: StepState | None = None

    # -- the parametrisation -------------------------------------------------------------------------------
    def anchors(self) -> torch.Tensor:
        """The anchor chain lo-1 .. hi+1 with the fitted codes inside. float64 [A + 2, V]"""
        fitted = self.u_prior[1:-1] + self.u_delta * self.sigma_u
        return torch.cat([self.u_prior[:1], fitted, self.u_prior[-1:]])

    def motion_codes(self, t: torch.Tensor, chain: torch.Tensor | None = None) -> torch.Tensor:
        """v_t [1, T, 2D] of clip-range times t [T] (float64) from the anchor chain (differentiable)."""
        chain = self.anchors() if chain is None else chain
        left = torch.floor(t / self.delta_z).to(torch.int64) - (self.lo - 1)
        if int(left.min()) < 0 or int(left.max()) + 1 >= len(chain):
            raise ValueError("time outside the fitted anchors")
        left = left.to(chain.device)
        v = self.enc.time_encoder(t.to(chain.device), chain[left], chain[left + 1], self.delta_z)
        return v.unsqueeze(0).to(self.device)

    def step(self) -> StepState:
        if self.done:
            raise RuntimeError("projection already finished")
        cfg = self.config
        lr = self.ramp_lr(cfg.initial_lr, cfg.motion_lr)
        sigma = noise_scale(self.progress, self.w_std, cfg.initial_noise_factor, cfg.noise_ramp_length)
        n = self.clip.num_frames
        idx = np.sort(self.rng.choice(n, size=min(cfg.frames_per_step, n), replace=False))
        ws = self.w_opt + torch.randn(self.w_opt.shape, generator=self.gen, device=self.device) * sigma
        chain = self.anchors()
        v = self.motion_codes(self.times[idx], chain)
        x = self.G.synthesis(ws, v)[0]  # [B, 3, R, R]
        target = self.targets[idx].to(self.device)
        image = self.loss_fn(x, target).mean()
        V = chain.shape[1]
        fitted = chain[1:-1]
        prior = ((fitted - self.u_prior[1:-1]) / self.sigma_u).square().sum(1).mean() / V
        diffs = (chain[1:] - chain[:-1]) - (self.u_prior[1:] - self.u_prior[:-1])
        smooth = (diffs / self.sigma_u).square().sum(1).mean() / V
        loss = image + cfg.prior_lambda * prior.float() + cfg.smooth_lambda * smooth.float()
        value = self.finite(loss, f"{self.clip.source}: projection")
        self.descend(loss, value)
        self.image_losses.append(float(image.detach()))
        k = int(idx[0])
        from engine.media import tensor_to_uint8

        preview = np.concatenate([self.clip.frames[k], tensor_to_uint8(x[0].detach())], axis=1)  # target | fit
        terms = {
            "image": float(image.detach()),
            "prior": float(prior.detach()),
            "smooth": float(smooth.detach()),
            "frame": k,
        }
        best = min(self.image_losses)
        self.state = StepState(self.step_index, cfg.num_steps, value, best, lr, preview, terms)
        return self.state

    # -- results ---------------------------------------------------------------------------------------------
    def fitted_motion(self) -> MotionCodes:
        """The seed's motion with the fitted anchors as overrides (what renders the clip and goes on after it)."""
        motion = self.seed_motion
        with torch.no_grad():
            chain = self.anchors()
        for i in range(self.lo, self.hi + 1):
            motion = motion.with_override(i, chain[i - self.lo + 1])
        return motion

    def time_range(self) -> tuple[float, float]:
        """Model times of the clip's first and last frame."""
        return float(self.times[0]), float(self.times[-1])

    def result(self, with_psnr: bool = True) -> Latents:
        """Current codes (valid after any number of steps): content + the fitted motion, and the clip's times."""
        t0, t1 = self.time_range()
        prov = {
            "source": "video-projection",
            "clip": self.clip.source,
            "clip_start_s": self.clip.start_s,
            "clip_fps": self.clip.fps,
            "clip_frames": int(self.clip.indices[-1] + 1),
            "fitted_frames": self.clip.num_frames,
            "t_start": t0,
            "t_end": t1,
            "time_per_frame": self.native_fps / self.clip.fps,
            "fitted_anchors": [self.lo, self.hi],
            "motion_seed": self.config.motion_seed,
            "loss": self.loss_fn.kind,
            "loss_label": self.loss_fn.label,
            "steps": self.step_index,
            "num_steps": self.config.num_steps,
        }
        latents = Latents(
            ws=self.w_opt.detach()[0].cpu(),
            motion=self.fitted_motion(),
            c=self.c[0].cpu() if self.c is not None else None,
            fingerprint=model_fingerprint(self.G),
            provenance=prov,
        )
        if with_psnr:
            prov["psnr_db"] = round(self.psnr(latents), 3)
        return latents

    @torch.no_grad()
    def reconstruction(self, latents: Latents | None = None) -> np.ndarray:
        """uint8 [N, R, R, 3]: the clip's frames rendered from the (given or current) codes, no w-noise."""
        latents = latents if latents is not None else self.result(with_psnr=False)
        return render_times(self.G, latents, self.times.numpy())

    def psnr(self, latents: Latents | None = None) -> float:
        """Mean PSNR (dB) over the clip's fitted frames."""
        recon = self.reconstruction(latents)
        return float(np.mean([min(psnr(a, b), 100.0) for a, b in zip(recon, self.clip.frames)]))


@torch.no_grad()
def render_times(G, latents: Latents, times, batch: int = 16) -> np.ndarray:
    """uint8 [T, R, R, 3] frames of `latents` at model times `times` (any order, any sign)."""
    from engine.video import Video

    video = Video(G, content=latents.ws_batch(G.device), motion=latents.motion, c=latents.c, batch_size=batch)
    return video.frames_uint8(np.asarray(times, dtype=np.float64))


def clip_time_range(latents: Latents) -> tuple[float, float] | None:
    """(t_start, t_end) of the clip a video projection was fitted to, or None for other latents."""
    prov = latents.provenance or {}
    if prov.get("source") != "video-projection":
        return None
    try:
        return float(prov["t_start"]), float(prov["t_end"])
    except (KeyError, TypeError, ValueError):
        return None


def boundary_change_ratios(G, latents: Latents) -> tuple[float, float]:
    """How much faster the video changes where the fitted motion hands over to the seed's, before and after the
    clip: mean |frame(t+1) − frame(t)| over the hand-over span (clip edge to two anchors past the last fitted
    one) divided by the same mean inside the clip, at steps of one model frame. ≤ 1.5 is "no jump"."""
    t_range = clip_time_range(latents)
    if t_range is None:
        raise SgvError("these latents are not a video projection (no clip time range)")
    lo, hi = latents.provenance["fitted_anchors"]
    dz = float(G.delta_z)
    t0, t1 = t_range
    inside = frame_change(render_times(G, latents, np.arange(t0, t1 + 0.5))).mean()
    after = frame_change(render_times(G, latents, np.arange(t1, (hi + 2) * dz + 0.5))).mean()
    before = frame_change(render_times(G, latents, np.arange((lo - 2) * dz, t0 + 0.5))).mean()
    return float(before / max(inside, 1e-12)), float(after / max(inside, 1e-12))


def side_by_side(left: np.ndarray, right: np.ndarray, gap: int = 2) -> np.ndarray:
    """uint8 [T, R, R, 3] twice → [T, R, 2R + gap, 3] (left | right on black)."""
    pad = np.zeros((*left.shape[:2], gap, 3), dtype=np.uint8)
    return np.concatenate([left, pad, right], axis=2)


@torch.no_grad()
def continuation_frames(G, latents: Latents, clip: Clip, after_s: float = 0.0, before_s: float = 0.0) -> np.ndarray:
    """target | fit at the clip's frame rate from `before_s` seconds before the clip to `after_s` seconds after
    it; outside the clip the target side is black and the fit goes on with the model's own motion.
    uint8 [T, R, 2R + 2, 3]"""
    t_range = clip_time_range(latents)
    if t_range is None:
        raise SgvError("these latents are not a video projection (no clip time range)")
    per_frame = G.config.native_fps / clip.fps
    first, last = -int(round(before_s * clip.fps)), int(clip.indices[-1]) + int(round(after_s * clip.fps))
    ks = np.arange(first, last + 1)
    fit = render_times(G, latents, t_range[0] + ks * per_frame)
    target = np.zeros_like(fit)
    inside = (ks >= 0) & (ks <= clip.indices[-1])
    nearest = np.searchsorted(clip.indices, ks[inside], side="right") - 1  # the latest fitted frame at or before
    target[inside] = clip.frames[nearest]
    return side_by_side(target, fit)


def write_video_frames(path: str | os.PathLike, frames: np.ndarray, fps: float) -> Path:
    """uint8 [T, H, W, 3] → an mp4 (atomic: the file appears only when complete)."""
    from engine.media import VideoWriter

    path = Path(path)
    with VideoWriter(path, fps=fps, size=(frames.shape[2], frames.shape[1])) as w:
        for i in range(0, len(frames), 64):
            w.write(frames[i : i + 64])
    return path
