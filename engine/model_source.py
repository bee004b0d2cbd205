"""Which generator a job runs: a model file, or an untrained preset (for quick looks and tests).

A frozen value, so a multi-process job can hand it to every rank and each loads its own copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from engine.devices import default_device


@dataclass(frozen=True)
class ModelSource:
    ckpt: Path | None = None  # model file (.safetensors or an upstream .pkl); None: the bundled model
    preset: str | None = None  # an untrained network of this preset instead of ckpt
    init_seed: int = 0  # weight seed of the preset network
    device: str | None = None  # torch device; None: cuda if available

    @classmethod
    def from_args(cls, args) -> ModelSource:
        """From an argparse namespace with --ckpt/--preset/--init-seed/--device (engine.cli.common)."""
        return cls(
            ckpt=getattr(args, "ckpt", None),
            preset=getattr(args, "preset", None) or None,
            init_seed=getattr(args, "init_seed", 0),
            device=getattr(args, "device", None),
        )

    def load(self, device: str | None = None):
        """The generator on `device` (default: this source's device)."""
        from engine.checkpoint import load_generator
        from engine.nets import build_generator

        dev = default_device(device or self.device)
        if self.preset:
            return build_generator(self.preset, seed=self.init_seed, device=dev)
        return load_generator(self.ckpt, device=dev)
