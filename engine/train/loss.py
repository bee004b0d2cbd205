"""The GAN objective of StyleGAN-V (docs/model.md §8): non-saturating G loss, logistic D loss and a
lazy R1 penalty on real clips, computed per frame and averaged over each clip's k frames.

The math is pure functions; `VideoGANLoss` runs one phase (Gmain, Dmain, Dreg) on one forward pass.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from engine.motion_codes import MotionCodes


def g_nonsaturating(fake_logits: torch.Tensor) -> torch.Tensor:
    """softplus(−D(G(z))) per sample. [N]"""
    return F.softplus(-fake_logits)


def d_logistic(real_logits: torch.Tensor | None, fake_logits: torch.Tensor | None) -> torch.Tensor:
    """softplus(D(fake)) + softplus(−D(real)) per sample. [N]"""
    loss = 0
    if fake_logits is not None:
        loss = loss + F.softplus(fake_logits)
    if real_logits is not None:
        loss = loss + F.softplus(-real_logits)
    return loss


def r1_penalty(real_logits: torch.Tensor, real_img: torch.Tensor) -> torch.Tensor:
    """‖∇_x D(x)‖² summed over (C, H, W) of each frame, averaged over the clip's k frames. [N]

    real_img: [N, k, C, H, W], requires_grad.
    """
    (grad,) = torch.autograd.grad(real_logits.sum(), real_img, create_graph=True, only_inputs=True)
    return grad.square().sum(dim=[2, 3, 4]).mean(dim=1)


@dataclass(frozen=True)
class Phase:
    """One optimisation phase of a step (StyleGAN3-style phases as data)."""

    name: str  # "Gmain", "Dmain" or "Dreg"
    module: str  # which network it updates: "G" or "D"
    interval: int  # runs every `interval` steps
    gain: float  # loss weight (the lazy-regularisation interval for Dreg)


def phases(d_reg_interval: int, r1_gamma: float) -> list[Phase]:
    out = [Phase("Gmain", "G", 1, 1.0), Phase("Dmain", "D", 1, 1.0)]
    if r1_gamma > 0 and d_reg_interval > 0:
        out.append(Phase("Dreg", "D", d_reg_interval, float(d_reg_interval)))
    return out


class VideoGANLoss:
    """Runs G and D for one phase and returns (loss to backpropagate, stats)."""

    def __init__(
        self,
        G,
        D,
        augment: Callable[[torch.Tensor], torch.Tensor] | None,
        r1_gamma: float,
        precision: str = "fp32",
        channels_last: bool = False,
        compiled: tuple = (None, None),
    ):
        self.G, self.D, self.augment, self.r1_gamma, self.precision = G, D, augment, r1_gamma, precision
        # Same fp32 math in the NHWC layout: oneDNN's CPU convolutions run 1.2-1.6x faster in it and its
        # depthwise FIR filters up to 10x (bench/train_step.py); on CUDA the loop leaves it off.
        self.channels_last = channels_last
        # Compiled G.synthesis and D (engine/compiled.py) for every pass but R1's; None = eager.
        self.synthesis = compiled[0] or G.synthesis
        self.D_compiled = compiled[1] or D
        self.reset_w_stats()

    def generate(
        self, z: torch.Tensor, c: torch.Tensor | None, t: torch.Tensor, motions: Sequence[MotionCodes], update_w_avg
    ) -> torch.Tensor:
        """Fake clips [N, k, C, H, W] at float64 times t [N, k].

        With `update_w_avg`, the sum of this batch's w is kept in `w_sum`: the loop averages it over the
        whole global batch and moves G's w_avg once per step, so every rank (and any split of the batch
        into passes) tracks the same w_avg.
        """
        ws = self.G.mapping(z, c)
        if update_w_avg:
            self.w_sum = self.w_sum + ws[:, 0].detach().double().sum(dim=0)
            self.w_count += ws.shape[0]
        v = self.G.motion(motions, t, c)
        return self.synthesis(ws, v, precision=self.precision, channels_last=self.channels_last)

    def reset_w_stats(self) -> None:
        self.w_sum, self.w_count = 0, 0

    def discriminate(self, img: torch.Tensor, t: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        # R1's input (a leaf that needs its gradient, before augmentation) runs eagerly in NCHW: its double
        # backward cannot go through a compiled graph and is slower in NHWC.
        r1_input = img.is_leaf and img.requires_grad
        if self.augment is not None:
            img = self.augment(img)
        if self.channels_last and not r1_input:
            img = img.reshape(-1, *img.shape[-3:]).contiguous(memory_format=torch.channels_last)  # [N·k, C, H, W]
        D = self.D if r1_input else self.D_compiled
        return D(img, t.to(torch.float32), c, precision=self.precision)

    def phase_loss(self, phase: Phase, real: tuple, fake: tuple) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """real = (img [N,k,C,H,W] float in [-1,1], t [N,k], c); fake = (z, c, t, motions)."""
        real_img, real_t, real_c = real
        stats: dict[str, torch.Tensor] = {}
        if phase.name == "Gmain":
            img = self.generate(*fake, update_w_avg=True)
            logits = self.discriminate(img, fake[2], fake[1])
            loss = g_nonsaturating(logits)
            stats["Loss/G/loss"] = loss.detach()
            stats["Loss/scores/fake"] = logits.detach()
            return loss.mean() * phase.gain, stats
        if phase.name == "Dmain":
            with torch.no_grad():
                img = self.generate(*fake, update_w_avg=False)
            fake_logits = self.discriminate(img, fake[2], fake[1])
            real_logits = self.discriminate(real_img, real_t, real_c)
            loss = d_logistic(real_logits, fake_logits)
            stats["Loss/D/loss"] = loss.detach()
            stats["Loss/scores/real"] = real_logits.detach()
            stats["Loss/signs/real"] = real_logits.detach().sign()
            stats["Loss/scores/fake"] = fake_logits.detach()
            return loss.mean() * phase.gain, stats
        if phase.name == "Dreg":
            img = real_img.detach().requires_grad_(True)
            logits = self.discriminate(img, real_t, real_c)
            penalty = r1_penalty(logits, img)
            stats["Loss/r1_penalty"] = penalty.detach()
            stats["Loss/D/reg"] = (penalty * (self.r1_gamma / 2)).detach()
            # The `logits * 0` keeps every D parameter in the graph, as upstream does.
            return (penalty * (self.r1_gamma / 2) + logits * 0).mean() * phase.gain, stats
        raise ValueError(f"unknown phase {phase.name}")
