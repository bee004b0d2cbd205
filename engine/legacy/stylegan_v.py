"""An upstream StyleGAN-V G_ema record → our GeneratorConfig and Generator (the config and state mapping).

From the inert G_ema record (engine.legacy.unpickler) we read the hyper-parameters (init kwargs, attributes and
the OmegaConf config node, read by engine.legacy.config_reader) and the tensors, whose names already are ours,
and build an `engine.nets.Generator`, checking names, shapes and the time encoder's periods on the way.
docs/formats.md (upstream checkpoints) lists what is read from where.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from engine.config import ConfigError, GeneratorConfig, override, preset, validate
from engine.devices import default_device
from engine.legacy.config_reader import MISSING, ConfigReader, Unresolvable
from engine.legacy.errors import LegacyError
from engine.legacy.unpickler import ModuleRecord, read_pickle
from engine.nets.generator import Generator


def _first(*values: Any) -> Any:
    for v in values:
        if v is not None and v is not MISSING:
            return v
    return None


def _init_kwargs(rec: ModuleRecord, positional: tuple[str, ...]) -> dict:
    """The constructor arguments persistence stored (`_init_kwargs`, with `_init_args` named)."""
    kwargs = dict(rec.attr("_init_kwargs") or {})
    args = rec.attr("_init_args") or ()
    for name, value in zip(positional, args if isinstance(args, (tuple, list)) else ()):
        kwargs.setdefault(name, value)
    return kwargs


def _number(value: Any, what: str, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LegacyError(f"cannot read {what} from the checkpoint (found {value!r})")
    if kind is int and value != int(value):
        raise LegacyError(f"{what} should be an integer, found {value!r}")
    return kind(value)


# ----------------------------------------------------------------------------------------------------
# G_ema: config + tensors → our Generator


@dataclass(frozen=True)
class UpstreamGenerator:
    """What an upstream pickle holds for us: G_ema as our Generator (CPU, eval) and facts about its run."""

    generator: Generator
    info: dict = field(default_factory=dict)


def generator_config(G: ModuleRecord, snapshot: dict | None = None) -> GeneratorConfig:
    """Our GeneratorConfig for an upstream Generator record (init kwargs, attributes, config node)."""
    kwargs = _init_kwargs(
        G, ("c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs", "synthesis_kwargs", "cfg")
    )
    mapping, synthesis = G.child("mapping"), G.child("synthesis")
    if mapping is None or synthesis is None:
        raise LegacyError("G_ema has no mapping or synthesis network; not a StyleGAN generator")
    motion = synthesis.child("motion_encoder")
    if motion is None:
        raise LegacyError("G_ema has no motion encoder: an image (StyleGAN2/3) generator, not StyleGAN-V")
    node = _first(kwargs.get("cfg"), G.attr("cfg"), synthesis.attr("cfg"))
    if node is None:
        raise LegacyError("G_ema carries no config (cfg); cannot tell its motion settings")
    reader = ConfigReader()

    def cfg(path: str, default: Any = MISSING) -> Any:
        try:
            return reader.get(node, path, default)
        except Unresolvable:
            raise LegacyError(f"cannot read '{path}' from G_ema's config") from None

    _check_supported(cfg)
    map_kwargs = {**dict(kwargs.get("mapping_kwargs") or {}), **_init_kwargs(mapping, ("z_dim", "c_dim", "w_dim"))}
    syn_kwargs = {
        **_init_kwargs(synthesis, ("w_dim", "img_resolution", "img_channels")),
        **dict(kwargs.get("synthesis_kwargs") or {}),
    }
    sampling = G.attr("sampling_dict") if isinstance(G.attr("sampling_dict"), dict) else {}
    conv0 = (motion.child("conv") or ModuleRecord()).child("0")
    dataset_kwargs = (snapshot or {}).get("training_set_kwargs")
    dataset_cfg = dataset_kwargs.get("cfg") if isinstance(dataset_kwargs, dict) else None
    conv_clamp = syn_kwargs.get("conv_clamp")  # upstream's default is None (no clamp); train.py sets 256
    values = {
        "mapping.z_dim": (_first(cfg("z_dim", None), G.attr("z_dim"), mapping.attr("z_dim")), int),
        "mapping.c_dim": (_first(kwargs.get("c_dim"), G.attr("c_dim"), mapping.attr("c_dim")), int),
        "mapping.w_dim": (_first(kwargs.get("w_dim"), G.attr("w_dim"), mapping.attr("w_dim")), int),
        "mapping.num_layers": (_first(mapping.attr("num_layers"), map_kwargs.get("num_layers"), 8), int),
        "mapping.lr_multiplier": (_first(map_kwargs.get("lr_multiplier"), 0.01), float),
        "mapping.w_avg_beta": (_first(mapping.attr("w_avg_beta"), map_kwargs.get("w_avg_beta"), 0.995), float),
        "motion.z_dim": (cfg("motion.z_dim"), int),
        "motion.v_dim": (cfg("motion.v_dim"), int),
        "motion.kernel_size": (cfg("motion.kernel_size"), int),
        "motion.delta_z": (cfg("motion.motion_z_distance"), float),
        "motion.time_enc_dim": (cfg("time_enc.dim"), int),
        "motion.min_period": (cfg("time_enc.min_period_len"), float),
        "motion.max_period": (cfg("time_enc.max_period_len"), float),
        "motion.max_num_frames": (
            _first(sampling.get("max_num_frames"), cfg("sampling.max_num_frames", None), 1024),
            int,
        ),
        "motion.lr_multiplier": (_first(conv0.attr("bias_gain") if conv0 else None, 0.01), float),
        "synthesis.img_resolution": (_first(kwargs.get("img_resolution"), G.attr("img_resolution")), int),
        "synthesis.img_channels": (_first(kwargs.get("img_channels"), G.attr("img_channels"), 3), int),
        "synthesis.channel_base": (_first(syn_kwargs.get("channel_base"), 32768), int),
        "synthesis.channel_max": (_first(syn_kwargs.get("channel_max"), 512), int),
        "synthesis.num_fp16_res": (_first(syn_kwargs.get("num_fp16_res"), 0), int),
        "native_fps": (
            _first(sampling.get("fps"), cfg("sampling.fps", None), _dataset_fps(reader, dataset_cfg), 25.0),
            float,
        ),
    }
    changes = {name: _number(value, name, kind) for name, (value, kind) in values.items()}
    changes["synthesis.conv_clamp"] = None if conv_clamp is None else _number(conv_clamp, "conv_clamp", float)
    try:
        config = override(preset("paper256").generator, **changes)
        validate(config)
    except ConfigError as e:
        raise LegacyError(f"G_ema's config is not one we can build: {e}") from None
    return config


def _check_supported(cfg: Any) -> None:
    """Upstream options our generator does not implement are refused by name, not mis-rendered."""
    checks = (
        ("use_noise", False, "per-pixel noise inputs (use_noise: true)"),
        ("input.type", "temporal", "an input layer other than 'temporal'"),
        ("time_enc.cond_type", "concat_const", "motion conditioning other than 'concat_const'"),
        ("motion.gen_strategy", "conv", "a motion generator other than 'conv'"),
        ("motion.fourier", True, "motion codes without the Fourier time encoder (motion.fourier: false)"),
    )
    for path, wanted, what in checks:
        found = cfg(path, wanted)
        if found != wanted:
            raise LegacyError(
                f"G_ema uses {what} ({path} = {found!r}); sgv-studio implements StyleGAN-V's released setup only"
            )


def _dataset_fps(reader: ConfigReader, dataset_cfg: Any) -> Any:
    if dataset_cfg is None:
        return None
    try:
        return reader.get(dataset_cfg, "fps", None)
    except LegacyError:
        return None


def collect_tensors(rec: ModuleRecord, prefix: str = "", out: dict | None = None, depth: int = 0) -> dict:
    """Flat state dict of a module record: its parameters and persistent buffers, then its children's."""
    out = {} if out is None else out
    if depth > 32:
        raise LegacyError("G_ema's modules are nested too deeply")
    skip = rec.attr("_non_persistent_buffers_set") or set()
    for group in ("_parameters", "_buffers"):
        items = rec.attr(group) or {}
        if not isinstance(items, dict):
            raise LegacyError(f"module {prefix or 'G_ema'} has a malformed {group}")
        for name, t in items.items():
            if t is None or (group == "_buffers" and name in skip):
                continue
            if not isinstance(t, torch.Tensor):
                raise LegacyError(f"{prefix}{name} is not a tensor ({type(t).__name__})")
            out[prefix + name] = t
    for name, child in (rec.attr("_modules") or {}).items():
        if child is None:
            continue
        if not isinstance(child, ModuleRecord):
            raise LegacyError(f"{prefix}{name} is not a module ({type(child).__name__})")
        collect_tensors(child, f"{prefix}{name}.", out, depth + 1)
    return out


def read_upstream(path: str | os.PathLike) -> UpstreamGenerator:
    """G_ema of an upstream StyleGAN-V pickle as our Generator (CPU, eval, weights checked), plus run facts."""
    path = Path(path)
    obj = read_pickle(path)
    try:
        return _from_object(obj)
    except LegacyError as e:
        raise LegacyError(f"{path}: {e}") from None


def _from_object(obj: Any) -> UpstreamGenerator:
    snapshot = obj if isinstance(obj, dict) else None
    if isinstance(obj, ModuleRecord):
        G = obj
    elif isinstance(obj, dict) and isinstance(obj.get("G_ema"), ModuleRecord):
        G = obj["G_ema"]
    elif isinstance(obj, dict):
        keys = ", ".join(sorted(str(k) for k in obj)[:8]) or "none"
        raise LegacyError(f"no G_ema network in this pickle (keys: {keys}); not an upstream StyleGAN-V snapshot")
    else:
        raise LegacyError(f"holds a {type(obj).__name__}, not an upstream StyleGAN-V snapshot")
    if G.class_name != "Generator":
        raise LegacyError(f"G_ema is a {G.class_name}, not a Generator")
    config = generator_config(G, snapshot)
    return UpstreamGenerator(_build(config, collect_tensors(G)), _snapshot_info(snapshot))


def _build(config: GeneratorConfig, tensors: dict[str, torch.Tensor]) -> Generator:
    """Our Generator with upstream's tensors, after checking that names, shapes and periods agree."""
    with torch.random.fork_rng(devices=[]):  # the initial weights are overwritten; leave the caller's RNG alone
        G = Generator(config)
    expected = G.state_dict()
    missing, unexpected = sorted(set(expected) - set(tensors)), sorted(set(tensors) - set(expected))
    if unexpected or missing:
        parts = ([f"{len(missing)} missing, e.g. {missing[0]}"] if missing else []) + (
            [f"{len(unexpected)} not in our generator, e.g. {unexpected[0]}"] if unexpected else []
        )
        raise LegacyError(f"G_ema's tensors do not fit the generator its config describes: {'; '.join(parts)}")
    for name, ref in expected.items():
        if tensors[name].shape != ref.shape:
            raise LegacyError(
                f"G_ema tensor {name} has shape {list(tensors[name].shape)}; its config implies {list(ref.shape)}"
            )
        if not tensors[name].is_floating_point():
            raise LegacyError(f"G_ema tensor {name} has dtype {tensors[name].dtype}, expected floating point")
    # The time encoder's frequencies are a function of the configured periods: a cheap check that we read
    # the right config for these weights (δz, which no tensor records, comes from the same config node).
    m, name = config.motion, "synthesis.motion_encoder.time_encoder.freqs"
    if not torch.allclose(tensors[name].float(), expected[name], rtol=1e-5, atol=0):
        raise LegacyError(
            f"G_ema's config says periods {m.min_period:g}..{m.max_period:g} frames, but its stored time-encoder "
            "frequencies disagree; the config does not describe these weights"
        )
    G.load_state_dict({k: v.to(torch.float32) for k, v in tensors.items()})
    return G.eval().requires_grad_(False)


def _snapshot_info(snapshot: dict | None) -> dict:
    info: dict[str, Any] = {"networks": sorted(str(k) for k in snapshot)} if snapshot else {}
    stats = (snapshot or {}).get("stats")
    if isinstance(stats, dict) and isinstance(stats.get("cur_nimg"), int):
        info["kimg"] = stats["cur_nimg"] / 1000
    ds = (snapshot or {}).get("training_set_kwargs")
    if isinstance(ds, dict):
        info.update(
            {f"dataset_{k}": ds[k] for k in ("path", "resolution", "max_size") if isinstance(ds.get(k), (str, int))}
        )
    return info


def load_upstream_generator(path: str | os.PathLike, device: torch.device | str | None = None) -> Generator:
    """An eval-mode, grad-free `engine.Generator` with G_ema's weights, on `device` (default CUDA if any)."""
    return read_upstream(path).generator.to(default_device(device))
