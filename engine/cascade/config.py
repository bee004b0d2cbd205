"""Configs of the cascade's super-resolution (SR) level: the SR generator, its matching discriminator, presets.

Like every model config these are frozen dataclasses of primitives, stored as JSON inside every SR model file
(`engine/cascade/checkpoint.py`). An SR model records the base resolution and native fps it was trained for,
so a cascade refuses a base it does not fit (docs/cascade.md).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from engine.config import ConfigError, from_dict, override


@dataclass(frozen=True)
class SRGeneratorConfig:
    """Per-frame StyleGAN2-style synthesis conditioned on a window of 2k+1 low-resolution frames."""

    base_resolution: int = 64  # side of the low-resolution input frames (the base generator's output)
    scale: int = 2  # output side = scale · base_resolution (2 or 4)
    window: int = 4  # k: output frame t sees base frames t + j, j = −k…k (data frames)
    native_fps: float = 25.0  # frame rate of the data it was trained on: window offsets are in these frames
    img_channels: int = 3
    z_dim: int = 64  # one latent per video (stochastic detail), repeated over its frames
    w_dim: int = 64
    mapping_layers: int = 2
    channel_base: int = 2048  # channels at resolution r = min(channel_base // r, channel_max)
    channel_max: int = 64
    levels_below: int = 2  # extra blocks below the input resolution (context over 4× the window's pixels)
    conv_clamp: float | None = 256.0

    @property
    def resolution(self) -> int:
        return self.base_resolution * self.scale

    @property
    def window_frames(self) -> int:
        return 2 * self.window + 1

    @property
    def block_resolutions(self) -> list[int]:
        r0 = max(self.base_resolution >> self.levels_below, 4)
        out, r = [], r0
        while r <= self.base_resolution:
            out.append(r)
            r *= 2
        return out

    def channels(self, res: int) -> int:
        return max(min(self.channel_base // res, self.channel_max), 1)


@dataclass(frozen=True)
class SRDiscriminatorConfig:
    """Matching discriminator: (upsampled low-res clip, high-res clip), `num_frames` frames stacked on channels."""

    resolution: int = 128
    img_channels: int = 3
    num_frames: int = 4  # consecutive frames per clip
    channel_base: int = 2048
    channel_max: int = 128
    mbstd_group_size: int = 4
    conv_clamp: float | None = 256.0

    def channels(self, res: int) -> int:
        return max(min(self.channel_base // res, self.channel_max), 1)


@dataclass(frozen=True)
class SRModelConfig:
    name: str = "sr-small"
    generator: SRGeneratorConfig = field(default_factory=SRGeneratorConfig)
    discriminator: SRDiscriminatorConfig = field(default_factory=SRDiscriminatorConfig)


def validate(cfg: SRGeneratorConfig) -> None:
    if cfg.scale not in (2, 4):
        raise ConfigError(f"SR scale must be 2 or 4, got {cfg.scale}")
    r = cfg.base_resolution
    if r < 8 or r & (r - 1):
        raise ConfigError(f"SR base_resolution must be a power of two >= 8, got {r}")
    if cfg.window < 0:
        raise ConfigError(f"SR window k must be >= 0, got {cfg.window}")
    if cfg.native_fps <= 0:
        raise ConfigError(f"SR native_fps must be positive, got {cfg.native_fps}")


def sr_config_from_json(text: str, where: str = "config") -> SRGeneratorConfig:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{where}: config is not valid JSON ({e.msg} at char {e.pos})") from None
    try:
        cfg = from_dict(SRGeneratorConfig, data, where)
    except TypeError as e:
        raise ConfigError(f"{where}: {e}") from None
    validate(cfg)
    return cfg


def _model(name: str, z: int, channel_base: int, channel_max: int, d_base: int, d_max: int) -> SRModelConfig:
    return SRModelConfig(
        name=name,
        generator=SRGeneratorConfig(z_dim=z, w_dim=z, channel_base=channel_base, channel_max=channel_max),
        discriminator=SRDiscriminatorConfig(channel_base=d_base, channel_max=d_max),
    )


SR_PRESETS = {
    # Tests: a few channels, trains a few hundred steps in seconds.
    "sr-tiny": lambda: _model("sr-tiny", 16, 256, 16, 256, 16),
    # The bundled SR level (CPU-trainable; 64² → 128² plays in real time on 2 cores).
    "sr-small": lambda: _model("sr-small", 64, 2048, 64, 2048, 128),
    # A GPU-sized level (LongVideoGAN-like widths).
    "sr-large": lambda: _model("sr-large", 256, 16384, 256, 16384, 256),
}


def sr_preset(
    name: str,
    *,
    base_resolution: int,
    scale: int = 2,
    window: int = 4,
    native_fps: float = 25.0,
    num_frames: int = 4,
    overrides: dict[str, Any] | None = None,
) -> SRModelConfig:
    if name not in SR_PRESETS:
        raise ConfigError(f"unknown SR preset '{name}' (choose from {', '.join(SR_PRESETS)})")
    cfg = SR_PRESETS[name]()
    changes: dict[str, Any] = {
        "generator.base_resolution": int(base_resolution),
        "generator.scale": int(scale),
        "generator.window": int(window),
        "generator.native_fps": float(native_fps),
        "discriminator.resolution": int(base_resolution) * int(scale),
        "discriminator.num_frames": int(num_frames),
    }
    changes.update(overrides or {})
    cfg = override(cfg, **changes)
    validate(cfg.generator)
    return cfg
