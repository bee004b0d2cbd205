"""The StyleGAN-V generator: content mapping + motion + synthesis (docs/model.md §3-§6).

Public interface (what projection, editing, metrics and the app use):
    ws = G.mapping(z, c, psi=1.0)            # [N, L, D] content codes (W+)
    v  = G.motion(motions, t, c=None)        # [N, T, 2D] motion codes at real-valued t (frames)
    x  = G.synthesis(ws, v)                  # [N, T, 3, H, W] in about [-1, 1]
State-dict names equal upstream's G_ema (docs/formats.md), so its weights load without renaming.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence

import torch
from torch import nn

from engine.config import GeneratorConfig
from engine.motion_codes import MotionCodes
from engine.nets.mapping import MappingNetwork
from engine.nets.synthesis import SynthesisNetwork


class Generator(nn.Module):
    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        self.config = cfg
        self.synthesis = SynthesisNetwork(cfg.synthesis, cfg.motion, cfg.mapping.w_dim, cfg.mapping.c_dim)
        self.num_ws = self.synthesis.num_ws
        self.mapping = MappingNetwork.from_config(cfg.mapping, self.num_ws)

    # Attributes every StyleGAN tool expects.
    @property
    def z_dim(self) -> int:
        return self.config.mapping.z_dim

    @property
    def c_dim(self) -> int:
        return self.config.mapping.c_dim

    @property
    def w_dim(self) -> int:
        return self.config.mapping.w_dim

    @property
    def img_resolution(self) -> int:
        return self.config.synthesis.img_resolution

    @property
    def img_channels(self) -> int:
        return self.config.synthesis.img_channels

    @property
    def motion_dim(self) -> int:
        return self.synthesis.motion_v_dim

    @property
    def delta_z(self) -> float:
        return self.config.motion.delta_z

    @property
    def device(self) -> torch.device:
        return self.synthesis.b4.conv1.weight.device

    def motion(
        self,
        motions: MotionCodes | Sequence[MotionCodes],
        t,
        c: torch.Tensor | None = None,
        cache: MutableMapping[int, torch.Tensor] | None = None,
        upstream_arithmetic: bool = False,
    ) -> torch.Tensor:
        """Motion codes v_t [N, T, 2D]. t: [T] (shared by all N) or [N, T], in frames; kept in float64.

        `cache` (a dict the caller owns, valid for these exact motions and c) memoises anchor codes.
        `upstream_arithmetic` reproduces upstream's float32 rounding (for parity checks; O(t), needs
        explicit noise).
        """
        motions = [motions] if isinstance(motions, MotionCodes) else list(motions)
        t = torch.as_tensor(t, dtype=torch.float64)
        if t.ndim == 0:
            t = t.reshape(1)
        if t.ndim == 1:
            t = t.unsqueeze(0).expand(len(motions), -1)
        if upstream_arithmetic:
            return self.synthesis.motion_encoder.upstream_forward(motions, t, c)
        return self.synthesis.motion_encoder(motions, t, c, cache)

    def forward(
        self,
        z: torch.Tensor,
        c: torch.Tensor | None,
        t,
        motions: Sequence[MotionCodes],
        psi: float = 1.0,
        **synthesis_kwargs,
    ) -> torch.Tensor:
        ws = self.mapping(z, c, psi=psi)
        return self.synthesis(ws, self.motion(motions, t, c), **synthesis_kwargs)

    def extra_repr(self) -> str:
        c = self.config
        return (
            f"{self.img_resolution}², z={self.z_dim}, w={self.w_dim}, c={self.c_dim}, motion code={self.motion_dim}"
            f", δz={c.motion.delta_z:g}, native fps={c.native_fps:g}"
        )


def build_generator(
    cfg: GeneratorConfig | str = "tiny", seed: int = 0, device: torch.device | str = "cpu"
) -> Generator:
    """A randomly initialised generator from a preset name or a config, reproducibly from `seed`."""
    if isinstance(cfg, str):
        from engine.config import preset

        cfg = preset(cfg).generator
    with torch.random.fork_rng(devices=[]):  # weights are drawn on the CPU, then moved
        torch.manual_seed(seed)
        G = Generator(cfg)
    return G.to(device).eval().requires_grad_(False)
