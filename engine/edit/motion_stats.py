"""How a video moves, as numbers: frame-to-frame change and colour drift, for judging animated projections.

A projected photo "keeps the photo" when, played with the model's motions, it changes from frame to frame and
drifts in colour about as much as the model's own samples do (docs/projection.md): a smear or a colour shift
shows up as a larger ratio, a frozen picture as a smaller one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.motion_codes import MotionCodes


def frame_change(frames: np.ndarray) -> np.ndarray:
    """Mean |frame(k+1) − frame(k)| per consecutive pair, in 8-bit levels. float64 [T − 1]"""
    f = frames.astype(np.float64)
    return np.abs(f[1:] - f[:-1]).mean(axis=(1, 2, 3))


def colour_drift(frames: np.ndarray) -> float:
    """Mean over frames and channels of |mean colour(frame k) − mean colour(frame 0)|, in 8-bit levels."""
    means = frames.astype(np.float64).mean(axis=(1, 2))  # [T, 3]
    return float(np.abs(means - means[:1]).mean())


@dataclass(frozen=True)
class MotionStats:
    change: float  # mean frame-to-frame change (8-bit levels)
    drift: float  # mean colour drift from the first frame (8-bit levels)

    def ratio(self, reference: MotionStats) -> tuple[float, float]:
        return self.change / max(reference.change, 1e-12), self.drift / max(reference.drift, 1e-12)


@torch.no_grad()
def motion_stats(
    G,
    contents: list[torch.Tensor],
    motion_seeds: list[int],
    t_end: float = 100.0,
    c: torch.Tensor | None = None,
) -> MotionStats:
    """Means over every content ([L, D] or [1, L, D] codes) × motion seed, over frames t = 0, 1, .., t_end."""
    from engine.video import Video

    times = np.arange(0.0, t_end + 1.0)
    changes, drifts = [], []
    for ws in contents:
        ws = torch.as_tensor(ws).reshape(1, G.num_ws, G.w_dim)
        for s in motion_seeds:
            frames = Video(G, content=ws, motion=MotionCodes(seed=int(s)), c=c, batch_size=32).frames_uint8(times)
            changes.append(frame_change(frames).mean())
            drifts.append(colour_drift(frames))
    return MotionStats(float(np.mean(changes)), float(np.mean(drifts)))


@torch.no_grad()
def model_motion_stats(
    G, num_contents: int = 8, motion_seeds: list[int] | None = None, t_end: float = 100.0, c=None
) -> MotionStats:
    """The same figures for the model's own samples (content seeds 0..num_contents-1)."""
    from engine.video import content_z

    cc = c.to(G.device).reshape(1, -1) if c is not None else None
    contents = [G.mapping(content_z(s, G.z_dim).to(G.device), cc)[0].cpu() for s in range(num_contents)]
    return motion_stats(G, contents, motion_seeds or [0, 1, 2, 3], t_end, c)
