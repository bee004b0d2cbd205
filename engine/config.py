"""Model configuration: one frozen dataclass per component, plus named presets.

Field names follow upstream StyleGAN-V (docs/model.md §15, §7) so a resolved config reads like its
`experiment_config.yaml`, but every network takes only its own small config. Configs hold primitives
only: they serialise to JSON next to every model and load back with `from_dict`, which refuses unknown
keys with one clear line.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

from engine.errors import SgvError


class ConfigError(SgvError, ValueError):
    """A config that cannot be built or parsed; the message is one line for the user."""


@dataclass(frozen=True)
class MappingConfig:
    """Content mapping network z -> w (docs/model.md §3)."""

    z_dim: int = 512  # content noise z dimensionality
    c_dim: int = 0  # class-label dimensionality; 0 = unconditional
    w_dim: int = 512  # W space dimensionality
    num_layers: int = 2  # fully connected layers (upstream stylegan-v: 2)
    lr_multiplier: float = 0.01  # equalised-LR multiplier of the FC layers
    w_avg_beta: float = 0.995  # EMA decay of the tracked mean w (truncation centre)


@dataclass(frozen=True)
class MotionConfig:
    """Motion mapping network and acyclic time encoder (docs/model.md §4, §5)."""

    z_dim: int = 512  # motion noise dimensionality, one code per noise position
    v_dim: int = 512  # anchor "u" code dimensionality (output of the motion convs)
    kernel_size: int = 11  # temporal kernel of both padding-free motion convs
    delta_z: float = 16.0  # distance between motion anchors, in training-data frames
    time_enc_dim: int = 256  # D: number of sinusoids; the motion code v_t has 2*D dims
    min_period: float = 16.0  # shortest period of the time encoder, in frames
    max_period: float = 1024.0  # longest period of the time encoder, in frames
    max_num_frames: int = 1024  # T_max of training; sets upstream's motion-noise length bookkeeping
    lr_multiplier: float = 0.01  # equalised-LR multiplier of the motion convs

    @property
    def code_dim(self) -> int:
        """Dimensionality of the motion code v_t fed to the synthesis network."""
        return 2 * self.time_enc_dim

    @property
    def context(self) -> int:
        """Noise positions one anchor depends on: two valid convs of kernel k see 2(k-1)+1 codes."""
        return 2 * (self.kernel_size - 1) + 1


@dataclass(frozen=True)
class SynthesisConfig:
    """Skip-architecture synthesis network (docs/model.md §6)."""

    img_resolution: int = 256  # output height = width, a power of two >= 8
    img_channels: int = 3  # output colour channels
    channel_base: int = 16384  # channels at resolution r = min(channel_base // r, channel_max)
    channel_max: int = 512  # cap on channels per layer
    num_fp16_res: int = 4  # highest resolutions run in reduced precision on the fast paths
    conv_clamp: float | None = 256.0  # clamp of conv outputs (upstream applies it in every layer); None = off

    def channels(self, res: int) -> int:
        return min(self.channel_base // res, self.channel_max)

    @property
    def block_resolutions(self) -> list[int]:
        return [2**i for i in range(2, int(math.log2(self.img_resolution)) + 1)]

    @property
    def num_ws(self) -> int:
        # b4 has one conv, every other block two; each block's ToRGB reuses the next block's first w,
        # and the last ToRGB gets one extra (StyleGAN2 skip counting).
        return 1 + 2 * (len(self.block_resolutions) - 1) + 1


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything needed to rebuild G_ema; stored as JSON inside every model file."""

    mapping: MappingConfig = field(default_factory=MappingConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    synthesis: SynthesisConfig = field(default_factory=SynthesisConfig)
    native_fps: float = 25.0  # frame rate of the training data: t advances by native_fps per second

    @property
    def c_dim(self) -> int:
        return self.mapping.c_dim


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Holistic video discriminator (docs/model.md §7)."""

    img_resolution: int = 256
    img_channels: int = 3
    c_dim: int = 0  # class-label dimensionality; 0 = unconditional
    channel_base: int = 16384
    channel_max: int = 512
    num_fp16_res: int = 4
    conv_clamp: float | None = 256.0
    num_frames: int = 3  # k frames per video seen by D
    concat_res: int = 16  # resolution at which the k frame streams are concatenated
    num_frames_div_factor: int = 2  # channel divisor of the block feeding the concatenation
    mbstd_group_size: int = 4  # minibatch-std group size (capped by the batch)
    mbstd_num_channels: int = 1
    mapping_layers: int = 2  # layers of the condition mapping network
    cmap_dim: int | None = None  # projection dimensionality; None = channels at 4x4
    max_num_frames: int = 1024  # entries of the learned Δt embedding table; sets the Fourier Δt features
    time_embed_dim: int = 256  # width of the learned Δt embedding

    def channels(self, res: int) -> int:
        return min(self.channel_base // res, self.channel_max)


@dataclass(frozen=True)
class ModelConfig:
    """A generator/discriminator pair, as a preset names it."""

    name: str = "paper256"
    generator: GeneratorConfig = field(default_factory=GeneratorConfig)
    discriminator: DiscriminatorConfig = field(default_factory=DiscriminatorConfig)


# ----------------------------------------------------------------------------------------------------
# Serialisation


def to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def to_json(cfg: Any) -> str:
    return json.dumps(to_dict(cfg), sort_keys=True)


def from_dict(cls: type, data: dict, where: str = "config") -> Any:
    """Build dataclass `cls` from nested dicts; unknown or ill-typed keys raise one clear ConfigError."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected an object, got {type(data).__name__}")
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)} for {cls.__name__}")
    kwargs = {}
    for name, value in data.items():
        sub = _dataclass_type(cls, name)
        kwargs[name] = from_dict(sub, value, f"{where}.{name}") if sub is not None else value
    return cls(**kwargs)


def _dataclass_type(cls: type, name: str) -> type | None:
    default = getattr(cls(), name)
    return type(default) if is_dataclass(default) else None


def generator_config_from_json(text: str, where: str = "config") -> GeneratorConfig:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{where}: config is not valid JSON ({e.msg} at char {e.pos})") from None
    try:
        return from_dict(GeneratorConfig, data, where)
    except TypeError as e:
        raise ConfigError(f"{where}: {e}") from None


def override(cfg: Any, **changes: Any) -> Any:
    """Return a copy with dotted-path fields replaced, e.g. override(c, **{"motion.delta_z": 256})."""
    for path, value in changes.items():
        cfg = _override_one(cfg, path.split("."), value, path)
    return cfg


def _override_one(cfg: Any, parts: list[str], value: Any, path: str) -> Any:
    name = parts[0]
    if not is_dataclass(cfg) or name not in {f.name for f in fields(cfg)}:
        raise ConfigError(f"unknown config field '{path}'")
    if len(parts) == 1:
        current = getattr(cfg, name)
        if is_dataclass(current):
            raise ConfigError(f"config field '{path}' is a section, not a value")
        return dataclasses.replace(cfg, **{name: value})
    return dataclasses.replace(cfg, **{name: _override_one(getattr(cfg, name), parts[1:], value, path)})


# ----------------------------------------------------------------------------------------------------
# Presets


def _model(
    name: str,
    res: int,
    z: int,
    w: int,
    motion_z: int,
    v: int,
    time_enc_dim: int,
    channel_base: int,
    channel_max: int,
    time_embed_dim: int = 256,
    native_fps: float = 25.0,
) -> ModelConfig:
    gen = GeneratorConfig(
        mapping=MappingConfig(z_dim=z, w_dim=w),
        motion=MotionConfig(z_dim=motion_z, v_dim=v, time_enc_dim=time_enc_dim),
        synthesis=SynthesisConfig(img_resolution=res, channel_base=channel_base, channel_max=channel_max),
        native_fps=native_fps,
    )
    disc = DiscriminatorConfig(
        img_resolution=res, channel_base=channel_base, channel_max=channel_max, time_embed_dim=time_embed_dim
    )
    return ModelConfig(name=name, generator=gen, discriminator=disc)


PRESETS = {
    # Tests: 32x32, a few channels; builds and runs in milliseconds.
    "tiny": lambda: _model("tiny", 32, 32, 32, 32, 32, 16, 512, 32, time_embed_dim=16),
    # Laptop experiments and the bundled model's starting point: 64x64.
    "small": lambda: _model("small", 64, 128, 128, 128, 128, 64, 4096, 128, time_embed_dim=64),
    # Upstream's 256x256 defaults (FaceForensics): fmaps 0.5, 2 mapping layers, δz 16, periods 16..1024.
    "paper256": lambda: _model("paper256", 256, 512, 512, 512, 512, 256, 16384, 512),
    # Upstream's 1024x1024 (MEAD) network: fmaps 1.
    "paper1024": lambda: _model("paper1024", 1024, 512, 512, 512, 512, 256, 32768, 512, native_fps=30.0),
}


def preset(
    name: str,
    *,
    c_dim: int = 0,
    delta_z: float | None = None,
    min_period: float | None = None,
    max_period: float | None = None,
    resolution: int | None = None,
) -> ModelConfig:
    """A named preset with the usual knobs applied.

    The Sky-timelapse setting of the paper is `preset("paper256", min_period=256)`: like upstream,
    δz follows min_period unless given.
    """
    if name not in PRESETS:
        raise ConfigError(f"unknown preset '{name}' (choose from {', '.join(PRESETS)})")
    cfg = PRESETS[name]()
    changes: dict[str, Any] = {}
    if c_dim:
        changes.update({"generator.mapping.c_dim": c_dim, "discriminator.c_dim": c_dim})
    if min_period is not None:
        changes["generator.motion.min_period"] = float(min_period)
        changes["generator.motion.delta_z"] = float(min_period)
    if max_period is not None:
        changes["generator.motion.max_period"] = float(max_period)
    if delta_z is not None:
        changes["generator.motion.delta_z"] = float(delta_z)
    if resolution is not None:
        changes.update({"generator.synthesis.img_resolution": resolution, "discriminator.img_resolution": resolution})
    cfg = override(cfg, **changes)
    validate(cfg.generator)
    return cfg


def discriminator_problem(cfg: DiscriminatorConfig) -> str | None:
    """Why a discriminator of this config cannot be built (None: it can). A generator alone has no such limit."""
    if cfg.num_frames > 1 and cfg.img_resolution <= cfg.concat_res:  # its blocks join the k frames below concat_res
        return (
            f"resolution {cfg.img_resolution} is too small for the video discriminator: it joins the frames at "
            f"{cfg.concat_res}², so the resolution must be at least {2 * cfg.concat_res}"
        )
    return None


def validate(cfg: GeneratorConfig) -> None:
    res = cfg.synthesis.img_resolution
    if res < 8 or res & (res - 1):
        raise ConfigError(f"img_resolution must be a power of two >= 8, got {res}")
    m = cfg.motion
    if not (0 < m.min_period <= m.max_period):
        raise ConfigError(
            f"time encoder periods must satisfy 0 < min_period <= max_period, got {m.min_period}, {m.max_period}"
        )
    if m.delta_z <= 0:
        raise ConfigError(f"delta_z must be positive, got {m.delta_z}")
    if m.kernel_size < 1:
        raise ConfigError(f"motion kernel_size must be >= 1, got {m.kernel_size}")
