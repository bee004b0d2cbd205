"""The optimisation loop that projection, text editing and video projection share: a fixed number of Adam steps
under the StyleGAN2-ADA / StyleCLIP learning-rate schedule, each step reporting a `StepState`.

`StepLoop` holds what is the same in all three (the schedule, the divergence check, the optimiser step, the
step count, iteration and `run`); each optimiser's own `step()` builds its loss and its report.
"""

from __future__ import annotations

import math

import torch

from engine.errors import SgvError


def learning_rate(progress: float, initial_lr: float, rampup: float = 0.05, rampdown: float = 0.25) -> float:
    """StyleGAN2-ADA / StyleCLIP schedule at progress ∈ [0, 1]: linear warm-up, cosine ramp-down."""
    ramp = min(1.0, (1.0 - progress) / rampdown) if rampdown > 0 else 1.0
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    ramp *= min(1.0, progress / rampup) if rampup > 0 else 1.0
    return initial_lr * ramp


def noise_scale(progress: float, w_std: float, initial_noise_factor: float, noise_ramp_length: float) -> float:
    """Std of the Gaussian noise added to the codes at progress ∈ [0, 1] (StyleGAN2-ADA's projector): it falls
    quadratically from w_std · initial_noise_factor to 0 at `noise_ramp_length`."""
    return w_std * initial_noise_factor * max(0.0, 1.0 - progress / noise_ramp_length) ** 2


class StepLoop:
    """Base of the step iterators. A subclass sets `config` (with num_steps, lr_rampup_length and
    lr_rampdown_length), `optimizer`, `step_index` (0), `losses` ([]) and `state`, and implements `step()` and
    `result()`."""

    config: object
    optimizer: torch.optim.Optimizer
    step_index: int
    losses: list[float]

    @property
    def done(self) -> bool:
        return self.step_index >= self.config.num_steps

    @property
    def progress(self) -> float:
        """Steps done as a fraction of num_steps, before this step."""
        return self.step_index / self.config.num_steps

    def ramp_lr(self, *base_lrs: float) -> float:
        """Sets each param group's lr (one base lr per group, in order) to its base times the schedule at this
        step; returns the first group's lr (the one a step reports)."""
        cfg = self.config
        ramp = learning_rate(self.progress, 1.0, cfg.lr_rampup_length, cfg.lr_rampdown_length)
        groups = self.optimizer.param_groups
        if len(base_lrs) != len(groups):
            raise ValueError(f"{len(groups)} param groups but {len(base_lrs)} base learning rates")
        for group, lr in zip(groups, base_lrs):
            group["lr"] = lr * ramp
        return groups[0]["lr"]

    def finite(self, loss: torch.Tensor, what: str) -> float:
        """The loss's value; an SgvError naming `what` when it is not finite (the codes diverged)."""
        value = float(loss.detach())
        if not math.isfinite(value):
            raise SgvError(f"{what} diverged at step {self.step_index + 1} (loss {value})")
        return value

    def descend(self, loss: torch.Tensor, value: float) -> None:
        """One optimiser step on `loss`; counts the step and keeps its loss `value`."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.step_index += 1
        self.losses.append(value)

    def __iter__(self):
        while not self.done:
            yield self.step()

    def run(self, progress=None, should_stop=None):
        """All remaining steps; `progress(state)` after each, `should_stop()` polled between steps; then
        `result()`."""
        while not self.done:
            if should_stop is not None and should_stop():
                break
            state = self.step()
            if progress is not None:
                progress(state)
        return self.result()
