"""Frame statistics of generated video against its data: contrast and edge strength (bench/quality.py).

Both are ratios generated / data, so 1 is a perfect match:
- contrast: the per-channel standard deviation of pixel values over all frames (a blurry or washed-out model
  has less than its data);
- edge strength: the 99th percentile of the image gradient magnitude (forward differences of the luminance,
  0…255 per pixel). A model that draws crisp shape boundaries reaches the data's value; texture noise or soft
  blobs do not, because the top percentile is set by the sharpest edges in the frames.
Frames are uint8 or float arrays [..., H, W, 3] in 0…255.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

CONTRAST_GOAL = (0.8, 1.25)  # per channel, generated / data
EDGE_GOAL = 0.7  # at least, generated / data
EDGE_PERCENTILE = 99.0


def contrast(frames: np.ndarray) -> np.ndarray:
    """Per-channel standard deviation [3] of frames [..., H, W, 3] (0…255)."""
    x = np.asarray(frames, dtype=np.float64)
    return x.reshape(-1, x.shape[-1]).std(axis=0)


def gradient_magnitude(frames: np.ndarray) -> np.ndarray:
    """|∇ luminance| per pixel [..., H−1, W−1] (forward differences, Rec. 601 weights, 0…255 units per pixel)."""
    x = np.asarray(frames, dtype=np.float32)
    y = x[..., 0] * 0.299 + x[..., 1] * 0.587 + x[..., 2] * 0.114
    gx = y[..., :-1, 1:] - y[..., :-1, :-1]
    gy = y[..., 1:, :-1] - y[..., :-1, :-1]
    return np.sqrt(gx * gx + gy * gy)


def edge_strength(frames: np.ndarray, percentile: float = EDGE_PERCENTILE) -> float:
    """The `percentile`-th percentile of the gradient magnitude over every pixel of every frame."""
    return float(np.percentile(gradient_magnitude(frames), percentile))


@dataclass(frozen=True)
class FrameStats:
    contrast_data: tuple[float, float, float]
    contrast_model: tuple[float, float, float]
    edge_data: float
    edge_model: float

    @property
    def contrast_ratio(self) -> tuple[float, ...]:
        return tuple(m / d if d > 0 else float("inf") for m, d in zip(self.contrast_model, self.contrast_data))

    @property
    def edge_ratio(self) -> float:
        return self.edge_model / self.edge_data if self.edge_data > 0 else float("inf")

    @property
    def contrast_ok(self) -> bool:
        return all(CONTRAST_GOAL[0] <= r <= CONTRAST_GOAL[1] for r in self.contrast_ratio)

    @property
    def edge_ok(self) -> bool:
        return self.edge_ratio >= EDGE_GOAL

    def as_dict(self) -> dict:
        d = asdict(self)
        d.update(contrast_ratio=list(self.contrast_ratio), edge_ratio=self.edge_ratio)
        d.update(contrast_ok=self.contrast_ok, edge_ok=self.edge_ok)
        return d


def compare(data_frames: np.ndarray, model_frames: np.ndarray) -> FrameStats:
    """Contrast and edge strength of `model_frames` against `data_frames` (both [..., H, W, 3], 0…255)."""
    for name, f in (("data", data_frames), ("model", model_frames)):
        if np.asarray(f).ndim < 3 or np.asarray(f).shape[-1] != 3 or min(np.asarray(f).shape[-3:-1]) < 2:
            raise ValueError(f"{name} frames must be [..., H, W, 3] with H, W >= 2, got {list(np.shape(f))}")
    return FrameStats(
        tuple(float(v) for v in contrast(data_frames)),
        tuple(float(v) for v in contrast(model_frames)),
        edge_strength(data_frames),
        edge_strength(model_frames),
    )
