"""Text editing: StyleCLIP latent optimisation of content codes (docs/model.md §13), as a step iterator.

Each step renders the frame at t (0) of the current W+ codes under `motions_per_step` freshly drawn motion
seeds (upstream re-samples motion at every forward, so the edit must hold for any motion, not one pose), and
minimises
    mean_k (1 − cos(CLIP(frame_k), CLIP(prompt)))  +  l2_lambda · ‖w − w_start‖²  [+ mask_lambda · LPIPS(mask ⊙ ·)]
with Adam at lr 0.1 under the StyleCLIP schedule (5 % warm-up, 25 % cosine ramp-down). `max_distance`
optionally projects the codes back onto the ball ‖w − w_start‖₂ ≤ max_distance after each step: a hard bound
where the L2 term is only a pull. Only content codes move; the result keeps the start latents' motion.

    ed = ClipEditor(G, start_latents, "a smiling face", load_clip())
    for state in ed: show(state.preview)           # uint8, rendered with the start latents' own motion
    edited = ed.result()                           # Latents, same motion
    direction = Direction.between(start_latents, edited)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from engine.edit.clip_model import ClipModel
from engine.edit.losses import ImageLoss
from engine.edit.projection import StepState, _uint8, model_fingerprint
from engine.edit.schedule import StepLoop
from engine.errors import SgvError
from engine.latents import Latents, check_model
from engine.motion_codes import MotionCodes


@dataclass(frozen=True)
class EditConfig:
    num_steps: int = 40  # upstream's grid uses 40
    lr: float = 0.1
    lr_rampup_length: float = 0.05
    lr_rampdown_length: float = 0.25
    l2_lambda: float = 0.001  # weight of Σ (w − w_start)² (upstream's grid: 0.0001 … 0.0025)
    max_distance: float | None = None  # hard bound on ‖w − w_start‖₂ over all of W+ (None: none)
    mask_lambda: float = 0.0  # weight of the masked LPIPS term (needs a mask and an image loss)
    motions_per_step: int = 1  # motions drawn per step (batch)
    t: float = 0.0  # frame time, in training-data frames
    seed: int = 0  # seed of the per-step motion draws
    preview_every: int = 1  # render a preview every k steps with the start motion (0: never)

    def validate(self) -> None:
        if self.num_steps < 1:
            raise SgvError(f"editing needs at least 1 step, got {self.num_steps}")
        if not self.lr > 0:
            raise SgvError(f"learning rate must be positive, got {self.lr}")
        if self.l2_lambda < 0 or self.mask_lambda < 0:
            raise SgvError("loss weights must be >= 0")
        if self.max_distance is not None and not self.max_distance > 0:
            raise SgvError(f"max distance must be positive, got {self.max_distance}")
        if self.motions_per_step < 1:
            raise SgvError("motions_per_step must be at least 1")


class ClipEditor(StepLoop):
    def __init__(
        self,
        G,
        start: Latents,
        prompt: str,
        clip: ClipModel,
        config: EditConfig = EditConfig(),
        mask: np.ndarray | torch.Tensor | None = None,
        image_loss: ImageLoss | None = None,
        device: torch.device | str | None = None,
    ):
        config.validate()
        if not prompt or not prompt.strip():
            raise SgvError("the edit prompt is empty")
        check_model(start, G, on_mismatch="ignore", where="start latents")
        if config.mask_lambda > 0 and (mask is None or image_loss is None):
            raise SgvError("a masked LPIPS term needs both a mask and an image loss")
        self.G, self.start, self.prompt, self.clip, self.config = G, start, prompt.strip(), clip, config
        self.device = torch.device(device) if device is not None else G.device
        self.c = start.c.to(self.device).reshape(1, -1) if start.c is not None else None
        self.w_start = start.ws_batch(self.device)  # [1, L, D]
        self.w = self.w_start.clone().requires_grad_(True)
        self.optimizer = torch.optim.Adam([self.w], lr=config.lr)
        self.text = clip.encode_text(self.prompt).to(self.device)  # [1, E]
        self.rng = np.random.default_rng(config.seed)
        self.mask = None
        if mask is not None:
            m = torch.as_tensor(np.asarray(mask, dtype=np.float32)).to(self.device)
            r = G.img_resolution
            if m.ndim != 2 or tuple(m.shape) != (r, r):
                raise SgvError(f"edit mask must be [{r}, {r}] (the frame size), got {list(m.shape)}")
            self.mask = m.clamp(0, 1)[None, None]  # [1, 1, R, R], 1 = keep this region
        self.image_loss = image_loss
        with torch.no_grad():
            self.v_start = G.motion([start.motion], [config.t], self.c)  # [1, 1, V], previews only
        self.step_index = 0
        self.best_loss = math.inf
        self.losses: list[float] = []
        self.clip_losses: list[float] = []
        self.state: StepState | None = None

    def distance(self) -> float:
        """‖w − w_start‖₂ over all W+ rows."""
        return float((self.w.detach() - self.w_start).norm())

    def step(self) -> StepState:
        if self.done:
            raise RuntimeError("edit already finished")
        cfg, G = self.config, self.G
        lr = self.ramp_lr(cfg.lr)
        k = cfg.motions_per_step
        seeds = self.rng.integers(0, 2**62, size=k)
        motions = [MotionCodes(seed=int(s)) for s in seeds]
        cc = self.c.expand(k, -1) if self.c is not None else None
        with torch.no_grad():
            v = G.motion(motions, [cfg.t], cc)  # [k, 1, V]: new motions every step
        x = G.synthesis(self.w.expand(k, -1, -1), v)[:, 0]  # [k, 3, R, R]
        clip_loss = self.clip.loss(x, self.text).mean()
        l2 = (self.w - self.w_start).square().sum()
        loss = clip_loss + cfg.l2_lambda * l2
        terms = {"clip": float(clip_loss.detach()), "l2": float(l2.detach())}
        if cfg.mask_lambda > 0:
            with torch.no_grad():
                x0 = G.synthesis(self.w_start.expand(k, -1, -1), v)[:, 0]
            keep = self.image_loss(x * self.mask, x0 * self.mask).mean()
            loss = loss + cfg.mask_lambda * keep
            terms["mask"] = float(keep.detach())
        value = self.finite(loss, f"edit '{self.prompt}'")
        self.descend(loss, value)
        if cfg.max_distance is not None:
            with torch.no_grad():
                delta = self.w - self.w_start
                norm = float(delta.norm())
                if norm > cfg.max_distance:
                    self.w.copy_(self.w_start + delta * (cfg.max_distance / norm))
        self.best_loss = min(self.best_loss, value)
        self.clip_losses.append(terms["clip"])
        terms["distance"] = self.distance()
        preview = None
        if cfg.preview_every and (self.step_index % cfg.preview_every == 0 or self.done):
            preview = self.preview()
        self.state = StepState(self.step_index, cfg.num_steps, value, self.best_loss, lr, preview, terms)
        return self.state

    @torch.no_grad()
    def preview(self) -> np.ndarray:
        """uint8 [R, R, 3]: the current codes at t with the start latents' motion."""
        return _uint8(self.G.synthesis(self.w.detach(), self.v_start)[:, 0])

    @torch.no_grad()
    def clip_score(self, ws: torch.Tensor | None = None, num_motions: int = 8, seed: int = 12345) -> float:
        """Mean CLIP loss (1 − cos) of `ws` (default: the current codes) over `num_motions` fixed motions; a
        noise-free measure for comparing start and result."""
        ws = self.w.detach() if ws is None else ws.reshape(1, self.G.num_ws, self.G.w_dim).to(self.device)
        motions = [MotionCodes(seed=seed + i) for i in range(num_motions)]
        cc = self.c.expand(num_motions, -1) if self.c is not None else None
        v = self.G.motion(motions, [self.config.t], cc)
        x = self.G.synthesis(ws.expand(num_motions, -1, -1), v)[:, 0]
        return float(self.clip.loss(x, self.text).mean())

    def result(self) -> Latents:
        """The current codes (valid after any number of steps) with the start latents' motion, unchanged."""
        prov = {
            "source": "edit",
            "prompt": self.prompt,
            "clip_model": f"{self.clip.name}/{self.clip.pretrained}",
            "steps": self.step_index,
            "num_steps": self.config.num_steps,
            "l2_lambda": self.config.l2_lambda,
            "max_distance": self.config.max_distance,
            "distance": self.distance(),
            "parent": self.start.provenance,
        }
        return self.start.replace(ws=self.w.detach()[0].cpu(), fingerprint=model_fingerprint(self.G), provenance=prov)
