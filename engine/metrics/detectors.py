"""Feature detectors: the TorchScript files upstream's metrics use, loaded through engine.weights.

Input/output contracts (the files' own `forward`s, called exactly as upstream calls them):
- "i3d" (`i3d_torchscript.pt`, the tf.hub Kinetics-400 I3D of the original FVD code): uint8 clips
  [N, 3, T, H, W] at the data's resolution, `rescale=True` (uint8 → 2x/255 − 1), `resize=True` (to 224²
  inside the file), `return_features=True` → [N, 400] logits before the softmax.
- "inception" (`inception-2015-12-05.pt`, StyleGAN2-ADA's TorchScript Inception-v3): uint8 frames
  [N, 3, H, W], `return_features=True` → [N, 2048] pool features (it resizes to 299² itself).
- "synth" (assets/metrics/synth-features.safetensors, engine/metrics/synth_features.py): the same call as
  "inception" → [N, 64] features of a small network trained on `sgv dataset synth` ground truth.
Tests build tiny random modules with the same signatures and load them through the same path
(`engine.metrics.registry.load_detector`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from engine.errors import SgvError


class MetricError(SgvError):
    """A metric cannot be computed: missing detector, unusable dataset, bad options."""


@dataclass(frozen=True, eq=False)
class Detector:
    kind: str  # "i3d", "inception" or "synth"
    module: torch.nn.Module  # the loaded TorchScript module, on `device`
    path: Path
    sha256: str  # of the file: part of the real-statistics cache key
    device: torch.device

    @torch.no_grad()
    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        """uint8 clips [N, 3, T, H, W] (i3d) or frames [N, 3, H, W] (inception) → float features [N, D]."""
        if x.dtype != torch.uint8:
            raise TypeError(f"detectors take uint8 input, got {x.dtype}")
        expected = 5 if self.kind == "i3d" else 4
        if x.ndim != expected or x.shape[1] != 3:
            raise ValueError(
                f"{self.kind} input must be [N, 3, {'T, ' if expected == 5 else ''}H, W], got {list(x.shape)}"
            )
        x = x.to(self.device)
        if self.kind == "i3d":
            y = self.module(x, rescale=True, resize=True, return_features=True)
        else:
            y = self.module(x, return_features=True)
        if y.ndim != 2 or y.shape[0] != x.shape[0]:
            raise MetricError(f"{self.path}: detector returned shape {list(y.shape)}, expected [{x.shape[0]}, D]")
        return y.float()

    def describe(self) -> dict:
        return {"kind": self.kind, "file": str(self.path), "sha256": self.sha256}
