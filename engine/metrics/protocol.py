"""The StyleGAN-V evaluation protocol as data and pure functions (docs/model.md §14).

Upstream facts restated here (src/metrics/metric_main.py, frechet_video_distance.py, metric_utils.py,
src/training/dataset.py):
- Real clips: `load_n_consecutive=F`, `subsample_factor=s`, `discard_short_videos=True` (a video needs
  at least F·s frames), xflip off, one clip per video starting at a random offset drawn uniformly from
  0 … n − F·s + s − 1 (inclusive), frames offset + 0, s, 2s, …; the first `max_real` eligible videos in
  dataset order.
- Fake clips: z ~ N(0, I), a random dataset label, t = 0, s, …, (F−1)·s, ψ = 1, frames quantised as a
  saved video: `(x·127.5 + 128).clamp(0, 255).to(uint8)`.
Upstream draws offsets and latents from unseeded global RNGs; here each video's draws are a pure function
of (seed, video index), so a run is repeatable and any split over ranks gives the same clips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

_REAL_STREAM, _FAKE_STREAM = 0, 1


@dataclass(frozen=True)
class Protocol:
    """One registered metric."""

    name: str  # registry name, also the key of its value in the results
    kind: str  # "fvd" (clips through I3D), "fid" (frames through Inception) or "fsd" (frames, synth features)
    detector: str  # engine.weights registry name of the detector file
    num_frames: int  # F: frames per clip (fvd) / per generated video (fid)
    subsample: int  # s: stride between those frames, in dataset frames and in generator t
    max_real: int | None  # real videos used: the first max_real eligible ones; None = all
    num_fake: int  # generated videos (fid: 50 000 frames = 3125 videos of 16 frames)

    @property
    def clip_span(self) -> int:
        """Frames a real video needs to be eligible (upstream's rule: F·s, not (F−1)·s + 1)."""
        return self.num_frames * self.subsample

    def as_dict(self) -> dict:
        return {
            "kind": self.kind,
            "detector": self.detector,
            "num_frames": self.num_frames,
            "subsample": self.subsample,
            "max_real": self.max_real,
            "num_fake": self.num_fake,
        }


def eligible_videos(lengths: Sequence[int], clip_span: int, max_videos: int | None) -> list[int]:
    """Indices of the first `max_videos` videos with at least `clip_span` frames, in dataset order."""
    out = []
    for i, n in enumerate(lengths):
        if max_videos is not None and len(out) >= max_videos:
            break
        if n >= clip_span:
            out.append(i)
    return out


def clip_offset(seed: int, video: int, length: int, num_frames: int, subsample: int) -> int:
    """The random start frame of video `video`'s one clip, uniform over upstream's range."""
    if length < num_frames * subsample:  # upstream discards such videos before drawing (discard_short_videos)
        raise ValueError(f"a video of {length} frames is too short for {num_frames} frames at stride {subsample}")
    hi = length - num_frames * subsample + subsample - 1  # inclusive, as upstream's random.randint
    rng = np.random.default_rng([seed, _REAL_STREAM, video])
    return int(rng.integers(0, hi + 1))


def clip_frames(offset: int, num_frames: int, subsample: int) -> np.ndarray:
    """Frame indices of a clip: offset, offset + s, …, offset + (F−1)·s."""
    return offset + subsample * np.arange(num_frames, dtype=np.int64)


def fake_times(num_frames: int, subsample: int) -> np.ndarray:
    """t of a generated clip: 0, s, …, (F−1)·s (training-data frames), float64 [F]."""
    return subsample * np.arange(num_frames, dtype=np.float64)


@dataclass(frozen=True)
class FakeDraw:
    """The random inputs of generated video j."""

    z: np.ndarray  # [z_dim] float32, N(0, I)
    motion_seed: int  # seeds engine.MotionCodes
    label_index: int | None  # which real video's label conditions it (None: unconditional)


def fake_draw(seed: int, video: int, z_dim: int, num_labels: int | None) -> FakeDraw:
    rng = np.random.default_rng([seed, _FAKE_STREAM, video])
    z = rng.standard_normal(z_dim).astype(np.float32)
    motion_seed = int(rng.integers(0, 2**62))
    label = int(rng.integers(0, num_labels)) if num_labels else None
    return FakeDraw(z, motion_seed, label)


def quantize(x: torch.Tensor) -> torch.Tensor:
    """Generator output in [-1, 1] → uint8 exactly as a saved video (and upstream's metrics): same layout."""
    return (x * 127.5 + 128).clamp(0, 255).to(torch.uint8)


def shard(items: Sequence, rank: int, world: int) -> list:
    """This rank's share: items rank, rank + world, … (round-robin, as upstream)."""
    return list(items[rank::world])
