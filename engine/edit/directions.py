"""An edit kept as a direction in W+ (edited − original), applied to any content with a strength.

A direction file is an `.npz` (read with allow_pickle=False): format "sgv-studio.direction", format_version,
delta float32 [L, D], name, fingerprint (model), provenance (JSON). Strength 1 reproduces the edit on the
content it was found on; other strengths scale it (negative reverses it), and it transfers roughly to other
contents of the same model, as StyleGAN latent directions do.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from engine.latents import Latents, LatentsError, write_npz

FORMAT = "sgv-studio.direction"
FORMAT_VERSION = 1


@dataclass(frozen=True, eq=False)
class Direction:
    delta: torch.Tensor  # [L, D] float32
    name: str = ""
    fingerprint: str = ""
    provenance: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        d = torch.as_tensor(self.delta).detach().to("cpu", torch.float32)
        if d.ndim != 2:
            raise LatentsError(f"a direction must be [L, D], got {list(d.shape)}")
        object.__setattr__(self, "delta", d.contiguous())

    @classmethod
    def between(cls, original: Latents, edited: Latents, name: str | None = None) -> Direction:
        if original.ws.shape != edited.ws.shape:
            raise LatentsError(
                f"cannot subtract latents of shapes {list(edited.ws.shape)} and {list(original.ws.shape)}"
            )
        prompt = edited.provenance.get("prompt", "") if isinstance(edited.provenance, dict) else ""
        return cls(
            delta=edited.ws - original.ws,
            name=name if name is not None else prompt,
            fingerprint=edited.fingerprint or original.fingerprint,
            provenance={"edit": edited.provenance},
        )

    @property
    def norm(self) -> float:
        return float(self.delta.norm())

    def apply(self, latents: Latents, strength: float = 1.0) -> Latents:
        """latents.ws + strength · delta, same motion; provenance records the direction and strength."""
        if latents.ws.shape != self.delta.shape:
            raise LatentsError(
                f"direction '{self.name}' is {list(self.delta.shape)}, the latents are {list(latents.ws.shape)}"
            )
        prov = {
            "source": "direction",
            "direction": self.name,
            "strength": float(strength),
            "parent": latents.provenance,
        }
        return latents.replace(ws=latents.ws + float(strength) * self.delta, provenance=prov)


def save_direction(path: str | os.PathLike, direction: Direction) -> Path:
    arrays = {
        "delta": direction.delta.numpy(),
        "name": np.array(direction.name),
        "fingerprint": np.array(direction.fingerprint or ""),
        "provenance": np.array(json.dumps(direction.provenance, sort_keys=True, default=str)),
    }
    return write_npz(path, "direction", FORMAT, FORMAT_VERSION, arrays)


def load_direction(path: str | os.PathLike) -> Direction:
    path = Path(path)
    if not path.is_file():
        raise LatentsError(f"{path}: no such direction file")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "format" not in data.files or str(data["format"]) != FORMAT:
                raise LatentsError(f"{path}: not an sgv-studio direction file")
            if int(data["format_version"]) > FORMAT_VERSION:
                raise LatentsError(f"{path}: direction format version is newer than this program")
            delta = data["delta"]
            if delta.ndim != 2 or delta.dtype.kind != "f" or not np.isfinite(delta).all():
                raise LatentsError(f"{path}: direction codes are damaged ({delta.dtype} {list(delta.shape)})")
            return Direction(
                delta=torch.from_numpy(delta.copy()),
                name=str(data["name"]) if "name" in data.files else "",
                fingerprint=str(data["fingerprint"]) if "fingerprint" in data.files else "",
                provenance=json.loads(str(data["provenance"])) if "provenance" in data.files else {},
            )
    except LatentsError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError, KeyError, AttributeError, TypeError) as e:
        raise LatentsError(f"{path}: damaged or unsupported direction file ({type(e).__name__})") from None
