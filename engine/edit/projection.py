"""Projection: find content codes (W+) whose frame at t = 0 reproduces an image (docs/model.md §12).

Upstream's recipe (StyleGAN2-ADA's projector in W+): start from w_avg (10 000 mapped z, RandomState 123),
Adam(0.9, 0.999) at lr 0.1 with a 5 % linear warm-up and a cosine ramp-down over the last 25 %, Gaussian
noise added to the codes with std w_std·0.05·max(0, 1 − progress/0.75)², LPIPS-VGG16 between the frame and
the target, 1000 steps. The motion is one fixed MotionCodes (upstream holds its motion noise fixed); the
frame time t is 0. Unlike upstream the result keeps that motion, so "animate the photo" reuses it or any
other motion seed.

`Projector` is a step iterator, so a CLI loop and an app job drive it the same way:

    p = Projector(G, "photo.jpg", motion=MotionCodes(seed=7))
    for state in p:                  # or: while not p.done: state = p.step()
        show(state.preview)          # uint8 [H, W, 3]; state.loss, state.progress
        if cancelled: break          # between steps; p.result() is still the best codes so far
    latents = p.result()             # engine.latents.Latents (W+ codes, the motion, provenance)
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import torch

from engine.edit.images import as_rgb8, fit_square, psnr, to_tensor
from engine.edit.losses import ImageLoss, make_image_loss
from engine.edit.schedule import StepLoop, noise_scale
from engine.errors import SgvError
from engine.latents import Latents
from engine.motion_codes import MotionCodes


@dataclass(frozen=True)
class ProjectionConfig:
    num_steps: int = 1000
    initial_lr: float = 0.1
    lr_rampup_length: float = 0.05  # fraction of the steps with a linear warm-up
    lr_rampdown_length: float = 0.25  # fraction of the steps with a cosine ramp-down to 0
    initial_noise_factor: float = 0.05  # w-noise std at step 0, in units of w_std
    noise_ramp_length: float = 0.75  # fraction of the steps after which the w-noise is 0
    w_avg_samples: int = 10_000
    w_avg_seed: int = 123  # numpy RandomState seed of the w_avg / w_std samples (upstream's)
    t: float = 0.0  # frame time the image is matched at, in training-data frames
    fit: str = "crop"  # "crop" or "pad" a non-square image to the model's square frame
    seed: int = 0  # w-noise generator seed: the same inputs give the same result
    # Animation that keeps the photo: each step also matches the image under `motions_per_step` freshly drawn
    # motions at times drawn from [0, animate_t_max] (weight `animate_weight`), and `w_prior_lambda` keeps the
    # codes near the model's W distribution. motions_per_step = 0 is upstream's single-frame projection.
    motions_per_step: int = 3
    animate_t_max: float = 100.0
    animate_weight: float = 0.25
    w_prior_lambda: float = 1.0

    def validate(self) -> None:
        if self.num_steps < 1:
            raise SgvError(f"projection needs at least 1 step, got {self.num_steps}")
        if not self.initial_lr > 0:
            raise SgvError(f"learning rate must be positive, got {self.initial_lr}")
        if self.w_avg_samples < 2:
            raise SgvError("w_avg_samples must be at least 2")
        if self.motions_per_step < 0 or self.animate_weight < 0 or self.w_prior_lambda < 0:
            raise SgvError("motions_per_step and the loss weights must be >= 0")
        if not (math.isfinite(self.animate_t_max) and self.animate_t_max >= 0):
            raise SgvError(f"animate_t_max must be a time >= 0, got {self.animate_t_max}")


@dataclass(frozen=True)
class StepState:
    """What one optimisation step reports (projection and editing share it)."""

    step: int  # steps done, 1..num_steps
    num_steps: int
    loss: float  # total loss of this step
    best_loss: float
    lr: float
    preview: np.ndarray | None  # uint8 [H, W, 3], the frame of the current codes (None when not rendered)
    terms: dict  # named loss terms of this step (e.g. {"clip": .., "l2": ..})

    @property
    def progress(self) -> float:
        return self.step / self.num_steps

    @property
    def done(self) -> bool:
        return self.step >= self.num_steps


@torch.no_grad()
def w_stats(G, num_samples: int = 10_000, seed: int = 123, c: torch.Tensor | None = None, batch: int = 1000):
    """w_avg [1, 1, D] and w_std (RMS distance of mapped samples from their mean), as upstream computes them."""
    z = torch.from_numpy(np.random.RandomState(seed).randn(num_samples, G.z_dim).astype(np.float32))
    ws = []
    for i in range(0, num_samples, batch):
        zb = z[i : i + batch].to(G.device)
        cb = c.to(G.device).expand(len(zb), -1) if c is not None else None
        ws.append(G.mapping(zb, cb, psi=1.0)[:, :1, :].double())  # [B, 1, D]: every W+ row is the same w here
    w = torch.cat(ws)
    w_avg = w.mean(dim=0, keepdim=True)  # [1, 1, D]
    w_std = float((((w - w_avg) ** 2).sum() / num_samples) ** 0.5)
    return w_avg.float(), w_std


class Projector(StepLoop):
    """Projects one image into W+ codes of `G` at time `config.t` with a fixed motion. See the module doc."""

    def __init__(
        self,
        G,
        image: np.ndarray | str | os.PathLike,
        motion: MotionCodes | int = 0,
        config: ProjectionConfig = ProjectionConfig(),
        image_loss: ImageLoss | str = "lpips",
        c: torch.Tensor | None = None,
        device: torch.device | str | None = None,
        source: str | None = None,
    ):
        config.validate()
        if G.c_dim and c is None:
            raise SgvError(f"this model is conditional ({G.c_dim} classes); pass a class label")
        self.G, self.config = G, config
        self.device = torch.device(device) if device is not None else G.device
        where = str(image) if isinstance(image, (str, os.PathLike)) else (source or "image")
        self.source = source or where
        self.target_uint8 = fit_square(as_rgb8(image, where), G.img_resolution, config.fit)  # [R, R, 3]
        self.target = to_tensor(self.target_uint8, self.device)  # [1, 3, R, R]
        self.motion = motion if isinstance(motion, MotionCodes) else MotionCodes(seed=int(motion))
        self.c = c.to(self.device).reshape(1, -1) if c is not None else None
        self.loss_fn = make_image_loss(image_loss, self.device) if isinstance(image_loss, str) else image_loss
        with torch.no_grad():
            self.v = G.motion([self.motion], [config.t], self.c)  # [1, 1, V], fixed for the whole run
        w_avg, self.w_std = w_stats(G, config.w_avg_samples, config.w_avg_seed, self.c)
        self.w_avg = w_avg.to(self.device)  # [1, 1, D]
        self.w_opt = self.w_avg.repeat(1, G.num_ws, 1).requires_grad_(True)  # [1, L, D]
        self.optimizer = torch.optim.Adam([self.w_opt], betas=(0.9, 0.999), lr=config.initial_lr)
        self.noise_gen = torch.Generator(device=self.device).manual_seed(config.seed)
        self.motion_rng = np.random.default_rng(config.seed)  # the extra motions and times of each step
        self.step_index = 0
        self.best_loss = math.inf
        self.best_ws = self.w_opt.detach().clone()
        self.losses: list[float] = []
        self.state: StepState | None = None

    def step(self) -> StepState:
        if self.done:
            raise RuntimeError("projection already finished")
        cfg = self.config
        sigma = noise_scale(self.progress, self.w_std, cfg.initial_noise_factor, cfg.noise_ramp_length)
        lr = self.ramp_lr(cfg.initial_lr)
        noise = torch.randn(self.w_opt.shape, generator=self.noise_gen, device=self.device) * sigma
        ws = self.w_opt + noise
        v, k = self.v, cfg.motions_per_step if cfg.animate_weight > 0 else 0
        if k:  # the same codes under k other motions at other times: the photo must survive being animated
            seeds = self.motion_rng.integers(0, 2**62, size=k)
            ts = torch.from_numpy(self.motion_rng.uniform(0.0, cfg.animate_t_max, size=(k, 1)))
            cc = self.c.expand(k, -1) if self.c is not None else None
            with torch.no_grad():
                v = torch.cat([v, self.G.motion([MotionCodes(seed=int(s)) for s in seeds], ts, cc)])
        x_all = self.G.synthesis(ws.expand(1 + k, -1, -1), v)[:, 0]  # [1 + k, 3, R, R]
        x = x_all[:1]
        d = self.loss_fn(x_all, self.target.expand(1 + k, -1, -1, -1))  # [1 + k]
        loss = d[0]
        terms = {"image": float(d[0].detach())}
        if k:
            loss = loss + cfg.animate_weight * d[1:].mean()
            terms["animated"] = float(d[1:].mean().detach())
        if cfg.w_prior_lambda > 0:
            prior = self.w_prior()
            loss = loss + cfg.w_prior_lambda * prior
            terms["w_prior"] = float(prior.detach())
        value = self.finite(loss, f"{self.source}: projection")
        if value < self.best_loss:  # the codes this loss belongs to (noise is 0 for the last 25 % of steps)
            self.best_loss, self.best_ws = value, self.w_opt.detach().clone()
        self.descend(loss, value)
        preview = _uint8(x.detach())
        self.state = StepState(self.step_index, cfg.num_steps, value, self.best_loss, lr, preview, terms)
        return self.state

    def w_prior(self) -> torch.Tensor:
        """How far the codes are from the model's W distribution, in units of w_std²: the spread of the W+ rows
        around their mean (0 for codes in W, which the synthesis network was trained on) plus how far each row
        lies beyond one w_std from w_avg (mapped samples lie about one w_std out)."""
        w = self.w_opt
        spread = (w - w.mean(dim=1, keepdim=True)).square().sum(-1).mean() / self.w_std**2
        radius = (w - self.w_avg).square().sum(-1) / self.w_std**2  # [1, L]
        return spread + torch.relu(radius - 1.0).mean()

    def result(self) -> Latents:
        """The lowest-loss codes so far with the projection's motion (valid after any number of steps)."""
        recon = self.reconstruction()
        return Latents(
            ws=self.best_ws[0].cpu(),
            motion=self.motion,
            c=self.c[0].cpu() if self.c is not None else None,
            fingerprint=model_fingerprint(self.G),
            provenance={
                "source": "projection",
                "image": self.source,
                "loss": self.loss_fn.kind,
                "loss_label": self.loss_fn.label,
                "steps": self.step_index,
                "num_steps": self.config.num_steps,
                "best_loss": self.best_loss if math.isfinite(self.best_loss) else None,
                "psnr_db": round(psnr(recon, self.target_uint8), 3),
                "t": self.config.t,
                "fit": self.config.fit,
            },
        )

    @torch.no_grad()
    def reconstruction(self) -> np.ndarray:
        """uint8 [R, R, 3]: the frame of the best codes at t with the projection's motion (no w-noise)."""
        return _uint8(self.G.synthesis(self.best_ws, self.v)[:, 0])

    def psnr(self) -> float:
        return psnr(self.reconstruction(), self.target_uint8)


def model_fingerprint(G) -> str:
    """engine.generator_fingerprint, memoised on the module (hashing paper256's weights takes ~0.3 s); frozen
    generators (eval, no grad) do not change under projection or editing."""
    from engine.checkpoint import generator_fingerprint

    key = tuple((t.data_ptr(), t._version) for t in G.state_dict().values())
    cached = getattr(G, "_sgv_edit_fingerprint", None)
    if cached is None or cached[0] != key:
        cached = (key, generator_fingerprint(G))
        G._sgv_edit_fingerprint = cached
    return cached[1]


def _uint8(x: torch.Tensor) -> np.ndarray:
    """[1, 3, H, W] in [-1, 1] → uint8 [H, W, 3], quantised like saved videos."""
    from engine.media import tensor_to_uint8

    return tensor_to_uint8(x[0])
