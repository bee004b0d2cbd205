"""The training state as one object: what a state file holds and what resume restores.

A GAN run is a few networks, their optimizers, the augmentation probability and some counters. `TrainingState`
names them once; `state_dict()` is what `snapshots/state-<nimg>.pt` stores and `load_state_dict()` is its exact
inverse (the pattern of edm's training loop). Any loop can use it: the base model's (engine/train/loop.py) and a
cascade super-resolution stage, which passes its own modules and optimizers:

    state = TrainingState(modules={"G": G, "D": D, "G_ema": G_ema}, optimizers={"opt_G": opt_G, "opt_D": opt_D},
                          augment=augment)
    write_snapshot(run_dir, state.cur_nimg, G_ema, state.state_dict(extra={"options": opts.to_json()}), ...)
    ...
    state.load_state_dict(load_state(path))     # on resume: every module, optimizer and counter restored

Keys are the module/optimizer names plus the counters below; `extra` values (the options, the model config)
ride along and are ignored by `load_state_dict`. The dict holds only tensors and plain Python values, so
`torch.load(weights_only=True)` reads it. File layout: docs/formats.md (run folders).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

COUNTERS = ("cur_nimg", "step", "cur_tick", "ada_signs", "total_sec", "augment_p")


@dataclass
class TrainingState:
    modules: dict[str, torch.nn.Module]  # e.g. {"G": G, "D": D, "G_ema": G_ema}
    optimizers: dict[str, torch.optim.Optimizer]  # e.g. {"opt_G": ..., "opt_D": ...}
    augment: torch.nn.Module | None = None  # an augmentation pipe with a `p` buffer (ADA), or None
    cur_nimg: int = 0  # real frames shown so far
    step: int = 0  # optimizer steps taken
    cur_tick: int = 0  # ticks (log lines) completed
    ada_signs: list[float] = field(default_factory=lambda: [0.0, 0.0])  # Σ sign(D(real)), count since last ADA update
    total_sec: float = 0.0  # training wall time over all sessions of the run

    def state_dict(self, extra: dict | None = None) -> dict:
        """Modules, optimizers and counters as a dict of tensors and plain values (plus `extra`)."""
        state: dict = {name: m.state_dict() for name, m in self.modules.items()}
        state.update({name: opt.state_dict() for name, opt in self.optimizers.items()})
        state.update(
            augment_p=float(self.augment.p) if self.augment is not None else 0.0,
            cur_nimg=int(self.cur_nimg),
            step=int(self.step),
            cur_tick=int(self.cur_tick),
            ada_signs=[float(x) for x in self.ada_signs],
            total_sec=float(self.total_sec),
        )
        state.update(extra or {})
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore everything `state_dict` wrote (weights, optimizer moments, augment p, counters)."""
        for name, m in self.modules.items():
            m.load_state_dict(state[name])
        for name, opt in self.optimizers.items():
            opt.load_state_dict(state[name])
        if self.augment is not None:
            self.augment.p.fill_(float(state["augment_p"]))
        self.cur_nimg, self.step, self.cur_tick = int(state["cur_nimg"]), int(state["step"]), int(state["cur_tick"])
        self.ada_signs = [float(x) for x in state["ada_signs"]]
        self.total_sec = float(state["total_sec"])
