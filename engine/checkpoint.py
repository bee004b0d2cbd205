"""Model files: G_ema weights in safetensors, the full generator config as JSON in its metadata.

    metadata = {"format": "sgv-studio.generator", "format_version": "1",
                "config": <GeneratorConfig JSON>, "fingerprint": <sha256 of config + tensors, 16 hex>,
                "provenance": <optional JSON: how the model was made>}

Loading never executes anything from the file and never writes. Every way a file can be wrong
(missing, a directory, empty, truncated, not safetensors, someone else's safetensors, a newer format,
weights that do not fit the config, flipped bytes) ends in one CheckpointError line naming the file.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from engine.config import ConfigError, GeneratorConfig, generator_config_from_json, to_json
from engine.devices import default_device
from engine.errors import CheckpointError
from engine.fileio import atomic_path, sha256_file
from engine.nets.generator import Generator

FORMAT = "sgv-studio.generator"
FORMAT_VERSION = 1
BUNDLED_MODEL = Path(__file__).resolve().parent.parent / "assets" / "models" / "default.safetensors"


def fingerprint(config_json: str, tensors: dict[str, torch.Tensor]) -> str:
    """A short content hash identifying a model (config + weights), stored in latents files."""
    h = hashlib.sha256(config_json.encode())
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{list(t.shape)}".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()[:16]


def generator_fingerprint(G: Generator) -> str:
    return fingerprint(to_json(G.config), G.state_dict())


def save_generator(G: Generator, path: str | os.PathLike, provenance: dict | None = None) -> str:
    """Write G atomically; returns its fingerprint. An existing file is replaced only once the new one is whole."""
    return write_model_file(G, path, FORMAT, FORMAT_VERSION, provenance)


def write_model_file(
    G: torch.nn.Module, path: str | os.PathLike, fmt: str, version: int, provenance: dict | None = None
) -> str:
    """Write a network's fp32 weights and `G.config` (JSON) as an sgv-studio safetensors file of format `fmt`,
    atomically; returns the fingerprint. Shared by every model kind (base generators, cascade SR levels)."""
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in G.state_dict().items()}
    config_json = to_json(G.config)
    fp = fingerprint(config_json, tensors)
    metadata = {"format": fmt, "format_version": str(version), "config": config_json, "fingerprint": fp}
    if provenance:
        metadata["provenance"] = json.dumps(provenance, sort_keys=True)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return fp


def read_model_file(path: str | os.PathLike) -> tuple[GeneratorConfig, dict[str, torch.Tensor], dict[str, str]]:
    """Config, tensors and raw metadata of a model file, fully validated. Raises CheckpointError."""
    return read_checked_file(
        path, FORMAT, "an sgv-studio model (upstream pickles: `sgv import`)", generator_config_from_json
    )


def read_checked_file(
    path: str | os.PathLike, fmt: str, what: str, parse_config, version: int = FORMAT_VERSION
) -> tuple[object, dict[str, torch.Tensor], dict[str, str]]:
    """(config, tensors, metadata) of an sgv-studio safetensors file of format `fmt` (`what` names it in errors):
    the config parsed by `parse_config(text, where=...)`, then the fingerprint checked. Shared by every model
    kind (base generators, cascade SR levels)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, expected a .safetensors model file")
    size = path.stat().st_size
    if size == 0:
        raise CheckpointError(f"{path}: file is empty")
    if path.suffix.lower() in {".pkl", ".pickle"}:
        raise CheckpointError(
            f"{path}: upstream pickles are imported, not opened directly: run "
            f"`sgv import {path} --out model.safetensors` (or engine.load_generator, which imports on the fly)"
        )
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            metadata = f.metadata() or {}
            _check_metadata(path, metadata, fmt, what, version)
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except SafetensorError as e:
        raise CheckpointError(f"{path}: {_describe_safetensors_error(e, size)}") from None
    except (OSError, RuntimeError) as e:
        raise CheckpointError(f"{path}: cannot read ({e})") from None
    try:
        config = parse_config(metadata["config"], where=f"{path}: config")
    except ConfigError as e:
        raise CheckpointError(str(e)) from None
    if fingerprint(metadata["config"], tensors) != metadata.get("fingerprint"):
        raise CheckpointError(f"{path}: contents are corrupt (fingerprint mismatch); the file was modified or damaged")
    return config, tensors, metadata


# Formats of other sgv-studio model files, so opening one in the wrong place says what it is.
_OTHER_FORMATS = {"sgv-studio.sr": "a cascade super-resolution model (use it with --sr beside a base model)"}


def _check_metadata(path: Path, metadata: dict[str, str], fmt: str, what: str, max_version: int) -> None:
    found = metadata.get("format")
    if found != fmt:
        if found in _OTHER_FORMATS and fmt == FORMAT:
            raise CheckpointError(f"{path}: is {_OTHER_FORMATS[found]}, not a base generator")
        desc = f"format '{found}'" if found else "no sgv-studio metadata"
        raise CheckpointError(f"{path}: a safetensors file with {desc}, not {what}")
    try:
        version = int(metadata.get("format_version", "0"))
    except ValueError:
        raise CheckpointError(f"{path}: unreadable format_version {metadata.get('format_version')!r}") from None
    if version > max_version:
        raise CheckpointError(
            f"{path}: written by a newer sgv-studio (format {version}, this one reads "
            f"{max_version}); upgrade sgv-studio"
        )
    if "config" not in metadata:
        raise CheckpointError(f"{path}: model file has no config in its metadata")


def _describe_safetensors_error(e: Exception, size: int) -> str:
    msg = str(e)
    if "incomplete" in msg.lower() or "buffer" in msg.lower() or "too small" in msg.lower():
        return f"file is truncated or corrupt ({size} bytes; {msg})"
    if "header" in msg.lower():
        return f"not a safetensors model file ({msg})"
    return f"unreadable model file ({msg})"


def load_generator(path: str | os.PathLike | None = None, device: torch.device | str | None = None) -> Generator:
    """Load a model file into an eval-mode, grad-free Generator on `device` (default: CUDA if available).

    path None means the bundled default model. An upstream `.pkl` is imported on the fly by engine.legacy
    (nothing in it runs), with a PickleImportNote warning: `sgv import` once makes later loads faster.
    """
    if path is None:
        path = BUNDLED_MODEL
        if not path.exists():
            raise CheckpointError(f"{path}: the bundled model is not installed; pass a model file (--ckpt)")
    if _is_upstream_pickle(path):
        from engine import legacy  # the only reader of upstream pickles; imported when one is opened

        G = legacy.load_upstream_generator(path, device)
        warnings.warn(
            f"{path}: imported an upstream pickle on the fly; `sgv import {path} --out model.safetensors` "
            "once makes later loads much faster",
            legacy.PickleImportNote,
            stacklevel=2,
        )
        return G
    config, tensors, _ = read_model_file(path)
    G = Generator(config)
    load_checked_weights(G, tensors, path)
    return G.to(default_device(device)).eval().requires_grad_(False)


def load_checked_weights(G: torch.nn.Module, tensors: dict[str, torch.Tensor], path, what: str = "config") -> None:
    """Load `tensors` into the network built from the file's config, or one CheckpointError line when a name
    is missing or extra or a shape differs (`what` names the config in it)."""
    expected = G.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        parts = ([f"missing {len(missing)} tensor(s) e.g. {missing[0]}"] if missing else []) + (
            [f"{len(unexpected)} unexpected e.g. {unexpected[0]}"] if unexpected else []
        )
        raise CheckpointError(f"{path}: weights do not match the stored {what}: {'; '.join(parts)}")
    for name, ref in expected.items():
        if tensors[name].shape != ref.shape:
            raise CheckpointError(
                f"{path}: tensor {name} has shape {list(tensors[name].shape)}, the config needs {list(ref.shape)}"
            )
    G.load_state_dict(tensors)


def _is_upstream_pickle(path: str | os.PathLike) -> bool:
    return Path(path).suffix.lower() in {".pkl", ".pickle"}


def model_info(path: str | os.PathLike) -> dict:
    """What `sgv info` shows of a generator file (ours or an upstream pickle). Other kinds of model file
    (cascade SR levels: engine.cascade.sr_model_info) describe themselves; `peek_format` tells them apart."""
    if _is_upstream_pickle(path):
        return upstream_model_info(path)
    config, tensors, metadata = read_model_file(path)
    n_params = sum(
        t.numel()
        for k, t in tensors.items()
        if "resample_filter" not in k and not k.endswith(("freqs", "phase_scales", "w_avg"))
    )
    return file_info(path, metadata, n_params)


def file_info(path: str | os.PathLike, metadata: dict[str, str], n_params: int, **extra) -> dict:
    """`sgv info`'s fields of a validated model file (any kind): path, format, fingerprint, parameters, size,
    config and provenance; `extra` (e.g. kind=...) after path."""
    return {
        "path": str(path),
        **extra,
        "format": f"{metadata['format']} v{metadata['format_version']}",
        "fingerprint": metadata["fingerprint"],
        "parameters": n_params,
        "file_bytes": Path(path).stat().st_size,
        "config": json.loads(metadata["config"]),
        "provenance": json.loads(metadata["provenance"]) if "provenance" in metadata else None,
    }


def peek_format(path: str | os.PathLike) -> str | None:
    """The `format` metadata of a safetensors file, or None when it cannot be read (the full read says why)."""
    try:
        with safe_open(str(path), framework="pt", device="cpu") as f:
            return (f.metadata() or {}).get("format")
    except Exception:  # noqa: BLE001 (any failure here is reported by the validated read that follows)
        return None


# ----------------------------------------------------------------------------------------------------
# Upstream pickles as model files (engine.legacy reads them and never imports this module)


def import_upstream(path: str | os.PathLike, out: str | os.PathLike):
    """Convert an upstream pickle to our model file (atomic write). Returns (fingerprint, legacy.UpstreamGenerator)."""
    from engine import legacy

    path = Path(path)
    up = legacy.read_upstream(path)
    provenance = {
        "source": "upstream StyleGAN-V pickle",
        "imported_from": path.name,
        "source_sha256": sha256_file(path),
        **{k: v for k, v in up.info.items() if k != "networks"},
    }
    return save_generator(up.generator, out, provenance=provenance), up


def upstream_model_info(path: str | os.PathLike) -> dict:
    """`sgv info` for a pickle: the fields of model_info."""
    from engine import legacy

    up = legacy.read_upstream(path)
    G = up.generator
    n_params = sum(
        t.numel()
        for k, t in G.state_dict().items()
        if "resample_filter" not in k and not k.endswith(("freqs", "phase_scales", "w_avg"))
    )
    return {
        "path": str(path),
        "format": "upstream StyleGAN-V pickle (read without executing it; `sgv import` converts it)",
        "fingerprint": generator_fingerprint(G),
        "parameters": n_params,
        "file_bytes": Path(path).stat().st_size,
        "config": json.loads(to_json(G.config)),
        "provenance": up.info or None,
    }
