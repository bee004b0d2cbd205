"""torch.compile with a fallback, for the training step's networks (`sgv train --compile MODE`) and for
rendering (`engine.Video(..., compile=MODE)`, bench/render.py --compile).

What training compiles: G's synthesis network and D, as called by the Gmain and Dmain phases. The R1 pass stays
eager (it needs a double backward, which compiled graphs do not support), and so do the mapping and motion
networks (their inputs are Python objects: the motion codes). Static shapes: a step's batch never changes.

Modes are torch.compile's: "default", "reduce-overhead" (CUDA graphs: for launch-bound small models on a GPU),
"max-autotune". On the 2-core CPU training does not pay (the tiny loop 1.1-1.2x slower, after about a minute of
compiling), so it is off by default; rendering the tiny preset is 1.8-2.8x faster after ~30 s of compiling per
batch shape. bench/train.py --compile and bench/render.py --compile measure both (bench/gpu_checks.sh on a GPU).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

MODES = ("off", "default", "reduce-overhead", "max-autotune")


class CompiledOrEager:
    """Calls `torch.compile(module)`; if compiling fails (no C/C++ compiler, no Triton for the GPU, an
    unsupported op), says so once through `note` and runs the module eagerly from then on."""

    def __init__(self, module: torch.nn.Module, mode: str, note: Callable[[str], None]):
        self.eager, self.note, self.failed, self.mode = module, note, False, mode
        self.compiled = torch.compile(module, mode=None if mode == "default" else mode, dynamic=False)

    def __call__(self, *args, **kwargs):
        if not self.failed:
            try:
                return self.compiled(*args, **kwargs)
            except Exception as e:  # noqa: BLE001 (any compiler failure: the eager call below re-raises real errors)
                self.failed = True
                first = str(e).strip().splitlines()[0] if str(e).strip() else ""
                name = type(self.eager).__name__
                self.note(
                    f"compile {self.mode}: {name} failed to compile ({type(e).__name__}: {first[:160]}); "
                    "running eagerly"
                )
        return self.eager(*args, **kwargs)


def compile_networks(G, D, mode: str, note: Callable[[str], None]) -> tuple[Callable | None, Callable | None]:
    """(synthesis, discriminator) callables for VideoGANLoss, or (None, None) when mode is "off"."""
    if mode == "off":
        return None, None
    if mode not in MODES:
        raise ValueError(f"unknown compile mode '{mode}' (choose from {', '.join(MODES)})")
    return CompiledOrEager(G.synthesis, mode, note), CompiledOrEager(D, mode, note)
