"""SR model files: the SR generator's EMA weights in safetensors, its config as JSON in the metadata.

    metadata = {"format": "sgv-studio.sr", "format_version": "1", "config": <SRGeneratorConfig JSON>,
                "fingerprint": <sha256 of config + tensors, 16 hex>, "provenance": <optional JSON>}

The same file discipline as base models (engine/checkpoint.py, whose reader and fingerprint this reuses):
atomic writes, nothing executed on load, every way a file can be wrong is one CheckpointError line.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors.torch import save_file

from engine.cascade.config import SRGeneratorConfig, sr_config_from_json
from engine.cascade.nets import SRGenerator
from engine.checkpoint import fingerprint, read_checked_file
from engine.config import to_json
from engine.errors import CheckpointError
from engine.fileio import atomic_path

SR_FORMAT = "sgv-studio.sr"
SR_FORMAT_VERSION = 1
BUNDLED_SR = Path(__file__).resolve().parent.parent.parent / "assets" / "models" / "default-sr.safetensors"


def sr_fingerprint(G: SRGenerator) -> str:
    return fingerprint(to_json(G.config), G.state_dict())


def save_sr(G: SRGenerator, path: str | os.PathLike, provenance: dict | None = None) -> str:
    """Write an SR generator atomically; returns its fingerprint."""
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in G.state_dict().items()}
    config_json = to_json(G.config)
    fp = fingerprint(config_json, tensors)
    metadata = {"format": SR_FORMAT, "format_version": str(SR_FORMAT_VERSION), "config": config_json, "fingerprint": fp}
    if provenance:
        metadata["provenance"] = json.dumps(provenance, sort_keys=True)
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata=metadata)
    return fp


def read_sr_file(path: str | os.PathLike) -> tuple[SRGeneratorConfig, dict[str, torch.Tensor], dict[str, str]]:
    path = Path(path)
    return read_checked_file(path, SR_FORMAT, "a cascade SR model", sr_config_from_json, SR_FORMAT_VERSION)


def load_sr(path: str | os.PathLike, device: torch.device | str | None = None) -> SRGenerator:
    """An eval-mode, grad-free SRGenerator on `device` (default: CUDA if available)."""
    config, tensors, _ = read_sr_file(path)
    G = SRGenerator(config)
    expected = G.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    if missing or unexpected:
        what = f"missing {missing[0]}" if missing else f"unexpected {unexpected[0]}"
        raise CheckpointError(f"{path}: weights do not match the stored SR config ({what})")
    for name, ref in expected.items():
        if tensors[name].shape != ref.shape:
            raise CheckpointError(
                f"{path}: tensor {name} has shape {list(tensors[name].shape)}, the config needs {list(ref.shape)}"
            )
    G.load_state_dict(tensors)
    G.source_path = str(path)
    device = device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu")
    return G.to(device).eval().requires_grad_(False)


def sr_model_info(path: str | os.PathLike) -> dict:
    config, tensors, metadata = read_sr_file(path)
    n_params = sum(t.numel() for k, t in tensors.items() if "resample_filter" not in k and "w_avg" not in k)
    return {
        "path": str(path),
        "kind": "cascade super-resolution level",
        "format": f"{metadata['format']} v{metadata['format_version']}",
        "fingerprint": metadata["fingerprint"],
        "parameters": n_params,
        "file_bytes": Path(path).stat().st_size,
        "config": json.loads(metadata["config"]),
        "provenance": json.loads(metadata["provenance"]) if "provenance" in metadata else None,
    }


def check_fits(sr_config: SRGeneratorConfig, base_resolution: int, base_fps: float, sr_name: str = "SR model") -> None:
    """Refuse an SR level trained for another input size or frame rate than the base renders (one line)."""
    if sr_config.base_resolution != base_resolution:
        raise CheckpointError(
            f"{sr_name}: trained for {sr_config.base_resolution}x{sr_config.base_resolution} input, "
            f"the base model renders {base_resolution}x{base_resolution}"
        )
    if abs(sr_config.native_fps - base_fps) > 1e-6 * max(base_fps, 1.0):
        raise CheckpointError(
            f"{sr_name}: trained on {sr_config.native_fps:g} fps data, the base model's native fps is {base_fps:g} "
            "(its window ±k is counted in those frames)"
        )
