"""SR model files: the SR generator's EMA weights in safetensors, its config as JSON in the metadata.

    metadata = {"format": "sgv-studio.sr", "format_version": "1", "config": <SRGeneratorConfig JSON>,
                "fingerprint": <sha256 of config + tensors, 16 hex>, "provenance": <optional JSON>}

The same file discipline as base models (engine/checkpoint.py, whose writer, reader, weight check and
fingerprint this reuses): atomic writes, nothing executed on load, every way a file can be wrong is one
CheckpointError line.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from engine.cascade.config import SRGeneratorConfig, sr_config_from_json
from engine.cascade.nets import SRGenerator
from engine.checkpoint import file_info, fingerprint, load_checked_weights, read_checked_file, write_model_file
from engine.config import to_json
from engine.errors import CheckpointError

SR_FORMAT = "sgv-studio.sr"
SR_FORMAT_VERSION = 1
BUNDLED_SR = Path(__file__).resolve().parent.parent.parent / "assets" / "models" / "default-sr.safetensors"


def sr_fingerprint(G: SRGenerator) -> str:
    return fingerprint(to_json(G.config), G.state_dict())


def save_sr(G: SRGenerator, path: str | os.PathLike, provenance: dict | None = None) -> str:
    """Write an SR generator atomically; returns its fingerprint."""
    return write_model_file(G, path, SR_FORMAT, SR_FORMAT_VERSION, provenance)


def read_sr_file(path: str | os.PathLike) -> tuple[SRGeneratorConfig, dict[str, torch.Tensor], dict[str, str]]:
    path = Path(path)
    return read_checked_file(path, SR_FORMAT, "a cascade SR model", sr_config_from_json, SR_FORMAT_VERSION)


def load_sr(path: str | os.PathLike, device: torch.device | str | None = None) -> SRGenerator:
    """An eval-mode, grad-free SRGenerator on `device` (default: CUDA if available)."""
    config, tensors, _ = read_sr_file(path)
    G = SRGenerator(config)
    load_checked_weights(G, tensors, path, "SR config")
    G.source_path = str(path)
    device = device if device is not None else ("cuda" if torch.cuda.is_available() else "cpu")
    return G.to(device).eval().requires_grad_(False)


def sr_model_info(path: str | os.PathLike) -> dict:
    config, tensors, metadata = read_sr_file(path)
    n_params = sum(t.numel() for k, t in tensors.items() if "resample_filter" not in k and "w_avg" not in k)
    return file_info(path, metadata, n_params, kind="cascade super-resolution level")


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
