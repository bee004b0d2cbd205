"""The synthetic-data feature network behind `fsd` (Fréchet synthetic distance): a quality measure that needs
no downloaded weights, for models trained on `sgv dataset synth` data (README "Metrics": fsd2048).

`sgv dataset synth` knows what each frame shows (engine/data/synth.py): the shape kinds and their count, their
colours, positions and sizes, the background colours and whether it has stripes. `frame_targets` turns a scene
and frame times into a fixed-length vector of those attributes (permutation-invariant: per-kind counts and
sizes, per-kind position heatmaps and a colour heatmap on a coarse grid). `SynthFeatureNet` is a few conv
layers trained once to regress them from 64² frames (bench/train_synth_features.py, weights committed as
assets/metrics/synth-features.safetensors); its `feature_dim`-wide hidden layer is the feature space of the
Fréchet distance, as Inception's pool layer is for FID. Frames of another size are resized to 64² first.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from engine.data.synth import SHAPE_KINDS, make_scene
from engine.metrics.detectors import Detector, MetricError

BUNDLED_FEATURES = Path(__file__).resolve().parent.parent.parent / "assets" / "metrics" / "synth-features.safetensors"
FORMAT = "sgv-synth-features"


@dataclass(frozen=True)
class SynthFeaturesConfig:
    resolution: int = 64  # input frames are resized to this
    channels: tuple[int, ...] = (32, 64, 96)  # 3×3 convs, each halving the size (64² → 8²); then pooled to grid²
    feature_dim: int = 64  # the Fréchet feature space
    grid: int = 4  # heatmap cells per side
    synth_version: int = 1  # engine.data.synth.SYNTH_VERSION the targets describe

    @property
    def num_targets(self) -> int:
        k, g = len(SHAPE_KINDS), self.grid * self.grid
        return 2 * k + 1 + 6 + k * g + 3 * g  # counts, sizes, stripes, 2 bg colours, per-kind maps, colour map

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SynthFeaturesConfig:
        d = dict(d)
        d["channels"] = tuple(d["channels"])
        return cls(**d)


# ----------------------------------------------------------------------------------------------------
# Ground truth


def frame_targets(seed, times: np.ndarray, grid: int = 4) -> np.ndarray:
    """float32 [F, num_targets]: the attributes of frames `times` of synthetic video `seed`.

    Per shape kind: count / 2 and summed radius × 4; stripes (0/1); both background colours; per kind a
    grid×grid map of shape centres splatted with a Gaussian (σ = one cell); a grid×grid map of shape colour
    (RGB, splatted the same way). Positions and sizes follow each shape's trajectory at time t.
    """
    scene = make_scene(seed)
    t = np.asarray(times, dtype=np.float64)
    k = len(SHAPE_KINDS)
    cells = (np.arange(grid) + 0.5) / grid
    sigma = 1.0 / grid
    counts = np.zeros((len(t), k))
    sizes = np.zeros((len(t), k))
    kind_maps = np.zeros((len(t), k, grid, grid))
    colour_map = np.zeros((len(t), 3, grid, grid))
    for sh in scene.shapes:
        j = SHAPE_KINDS.index(sh.kind)
        cx, cy = sh.x(t), sh.y(t)  # [F], frame-width units
        radius = sh.radius * (1 + sh.pulse_amp * np.sin(2 * math.pi * t / sh.pulse_period))
        wx = np.exp(-((cells[None, :] - cx[:, None]) ** 2) / (2 * sigma**2))  # [F, grid]
        wy = np.exp(-((cells[None, :] - cy[:, None]) ** 2) / (2 * sigma**2))
        splat = wy[:, :, None] * wx[:, None, :]  # [F, y, x]
        counts[:, j] += 0.5
        sizes[:, j] += 4 * radius
        kind_maps[:, j] += splat
        colour_map += np.asarray(sh.color)[None, :, None, None] * splat[:, None]
    static = np.array([1.0 if scene.stripes > 0 else 0.0, *scene.bg0, *scene.bg1])
    maps = [kind_maps.reshape(len(t), -1), colour_map.reshape(len(t), -1)]
    out = np.concatenate([counts, sizes, np.broadcast_to(static, (len(t), 7)), *maps], axis=1)
    return out.astype(np.float32)


# ----------------------------------------------------------------------------------------------------
# The network


class SynthFeatureNet(nn.Module):
    """uint8 frames [N, 3, H, W] → features [N, feature_dim] (and the attribute regression head for training)."""

    def __init__(self, cfg: SynthFeaturesConfig):
        super().__init__()
        self.cfg = cfg
        layers, c_in = [], 3
        for c in cfg.channels:
            layers.append(nn.Conv2d(c_in, c, 3, stride=2, padding=1))
            c_in = c
        self.convs = nn.ModuleList(layers)
        self.fc = nn.Linear(c_in * cfg.grid * cfg.grid, cfg.feature_dim)
        self.head = nn.Linear(cfg.feature_dim, cfg.num_targets)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """x: uint8 or float in [0, 255], [N, 3, H, W] → [N, feature_dim] float32."""
        x = x.float() / 127.5 - 1
        r = self.cfg.resolution
        if x.shape[-1] != r or x.shape[-2] != r:
            x = F.interpolate(x, size=(r, r), mode="bilinear", align_corners=False, antialias=True)
        for conv in self.convs:
            x = F.leaky_relu(conv(x), 0.2)
        # Pooled to the heatmaps' grid before the linear layer: few weights there, so it cannot memorise scenes.
        return self.fc(F.adaptive_avg_pool2d(x, self.cfg.grid).flatten(1))

    def forward(self, x: torch.Tensor, return_features: bool = True) -> torch.Tensor:
        f = self.features(x)
        return f if return_features else self.head(F.leaky_relu(f, 0.2))


# ----------------------------------------------------------------------------------------------------
# Files


def save_features(net: SynthFeatureNet, path: str | os.PathLike, extra: dict | None = None) -> None:
    """The weights as safetensors (config in its metadata) and the same config as JSON next to it; atomic."""
    from safetensors.torch import save_file

    from engine.fileio import atomic_path, atomic_write_text

    path = Path(path)
    meta = {"format": FORMAT, "config": net.cfg.to_dict(), **(extra or {})}
    state = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    with atomic_path(path) as tmp:
        save_file(state, str(tmp), metadata={"sgv": json.dumps(meta)})
    atomic_write_text(path.with_suffix(".json"), json.dumps(meta, indent=2) + "\n")


def load_features(path: str | os.PathLike | None = None, device: torch.device | str = "cpu") -> Detector:
    """The feature network as a Detector of kind "synth" (frames [N, 3, H, W] uint8 → [N, feature_dim])."""
    from safetensors import SafetensorError, safe_open

    from engine.fileio import sha256_file

    file = Path(path).expanduser() if path is not None else BUNDLED_FEATURES
    if not file.is_file():
        raise MetricError(f"{file}: synthetic-data feature network not found (bench/train_synth_features.py makes it)")
    try:
        with safe_open(str(file), framework="pt") as f:
            meta = json.loads((f.metadata() or {}).get("sgv", "{}"))
            if meta.get("format") != FORMAT:
                raise MetricError(f"{file}: not a synthetic-data feature network (no '{FORMAT}' metadata)")
            state = {k: f.get_tensor(k) for k in f.keys()}
        net = SynthFeatureNet(SynthFeaturesConfig.from_dict(meta["config"]))
        net.load_state_dict(state)
    except (SafetensorError, OSError, ValueError, KeyError, TypeError, RuntimeError) as e:
        raise MetricError(f"{file}: cannot read the feature network ({str(e).splitlines()[0]})") from None
    device = torch.device(device)
    net = net.to(device).eval().requires_grad_(False)
    return Detector("synth", net, file, sha256_file(file), device)
