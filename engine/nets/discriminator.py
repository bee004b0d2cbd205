"""The holistic video discriminator (docs/model.md §7; paper §3.3).

k frames of a video go independently through shared 2-D ResNet blocks down to 16×16, are concatenated
along channels there, and continue as one stream. The time gaps between the frames condition the
logit through a projection discriminator: Δt → [learned embedding of round(Δt), fixed sinusoids] →
mapping network → cmap; logit = <features, cmap>/√cmap_dim. Names follow upstream's D.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from engine.config import ConfigError, DiscriminatorConfig, discriminator_problem
from engine.nets.layers import Conv2dLayer, FullyConnectedLayer, assert_shape, setup_filter
from engine.nets.mapping import MappingNetwork


def log_spaced_freqs(max_num_frames: int) -> torch.Tensor:
    """Angular frequencies 2^j·π / 2^ceil(log2 T), j = 0..ceil(log2 T)-1. [1, J]"""
    time_resolution = 2 ** math.ceil(math.log2(max_num_frames))
    num = math.ceil(math.log2(time_resolution))
    powers = torch.tensor([2.0]).repeat(num).pow(torch.arange(num, dtype=torch.float32))
    return (powers.unsqueeze(0) * np.pi) / time_resolution


class FixedTimeEncoder(nn.Module):
    def __init__(self, max_num_frames: int):
        super().__init__()
        self.register_buffer("fourier_coefs", log_spaced_freqs(max_num_frames))

    def get_dim(self) -> int:
        return 2 * self.fourier_coefs.shape[1]

    def forward(self, dt: torch.Tensor) -> torch.Tensor:
        raw = self.fourier_coefs * dt.reshape(-1, 1).float()
        return torch.cat([raw.sin(), raw.cos()], dim=1)


class TemporalDifferenceEncoder(nn.Module):
    """t [N, k] → embeddings of the k−1 gaps, concatenated. [N, (k−1)·(E + 2J)]"""

    def __init__(self, num_frames: int, max_num_frames: int, embed_dim: int):
        super().__init__()
        self.num_frames, self.max_num_frames = num_frames, max_num_frames
        self.const_embed = nn.Embedding(max_num_frames, embed_dim)
        self.time_encoder = FixedTimeEncoder(max_num_frames)

    def get_dim(self) -> int:
        return (self.const_embed.embedding_dim + self.time_encoder.get_dim()) * (self.num_frames - 1)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        n = t.shape[0]
        dt = (t[:, 1:] - t[:, :-1]).reshape(-1)  # [N·(k−1)]
        idx = dt.float().round().long().clamp(0, self.max_num_frames - 1)
        out = torch.cat([self.const_embed(idx), self.time_encoder(dt)], dim=1)
        return out.reshape(n, -1)


class DiscriminatorBlock(nn.Module):
    """ResNet block: (fromrgb) → conv0 → conv1 ↓2, plus a 1×1 ↓2 skip; outputs summed with gain √½."""

    def __init__(
        self,
        in_channels: int,
        tmp_channels: int,
        out_channels: int,
        resolution: int,
        img_channels: int,
        conv_clamp: float | None,
    ):
        super().__init__()
        self.in_channels, self.resolution = in_channels, resolution
        self.register_buffer("resample_filter", setup_filter([1, 3, 3, 1]))
        conv0_in = in_channels if in_channels > 0 else tmp_channels
        if in_channels == 0:
            self.fromrgb = Conv2dLayer(img_channels, tmp_channels, 1, activation="lrelu", conv_clamp=conv_clamp)
        self.conv0 = Conv2dLayer(conv0_in, tmp_channels, 3, activation="lrelu", conv_clamp=conv_clamp)
        self.conv1 = Conv2dLayer(tmp_channels, out_channels, 3, activation="lrelu", down=2, conv_clamp=conv_clamp)
        self.skip = Conv2dLayer(conv0_in, out_channels, 1, bias=False, down=2)

    def forward(self, x: torch.Tensor | None, img: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        if self.in_channels == 0:
            x = self.fromrgb(img.to(dtype))
        else:
            x = x.to(dtype)
        y = self.skip(x, gain=math.sqrt(0.5))
        x = self.conv0(x)
        x = self.conv1(x, gain=math.sqrt(0.5))
        return y + x


class MinibatchStdLayer(nn.Module):
    def __init__(self, group_size: int, num_channels: int = 1):
        super().__init__()
        self.group_size, self.num_channels = group_size, num_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, h, w = x.shape
        g = min(self.group_size, n) if self.group_size is not None else n
        if n % g:
            raise ValueError(f"minibatch-std: batch {n} is not divisible by the group size {g}")
        f = self.num_channels
        y = x.reshape(g, -1, f, c // f, h, w)  # [G, n, F, c, H, W]
        y = (y - y.mean(dim=0)).square().mean(dim=0)
        y = (y + 1e-8).sqrt().mean(dim=[2, 3, 4])  # [n, F]
        y = y.reshape(-1, f, 1, 1).repeat(g, 1, h, w)
        return torch.cat([x, y], dim=1)


class DiscriminatorEpilogue(nn.Module):
    def __init__(
        self, in_channels: int, cmap_dim: int, mbstd_group_size: int, mbstd_num_channels: int, conv_clamp: float | None
    ):
        super().__init__()
        self.cmap_dim = cmap_dim
        self.mbstd = MinibatchStdLayer(mbstd_group_size, mbstd_num_channels) if mbstd_num_channels > 0 else None
        self.conv = Conv2dLayer(
            in_channels + mbstd_num_channels, in_channels, 3, activation="lrelu", conv_clamp=conv_clamp
        )
        self.fc = FullyConnectedLayer(in_channels * 16, in_channels, activation="lrelu")
        self.out = FullyConnectedLayer(in_channels, 1 if cmap_dim == 0 else cmap_dim)

    def forward(self, x: torch.Tensor, cmap: torch.Tensor | None) -> torch.Tensor:
        x = x.to(torch.float32)
        if self.mbstd is not None:
            x = self.mbstd(x)
        x = self.out(self.fc(self.conv(x).flatten(1)))
        if self.cmap_dim > 0:
            x = (x * cmap).sum(dim=1, keepdim=True) * (1 / math.sqrt(self.cmap_dim))
        return x.squeeze(1)  # [N]


class Discriminator(nn.Module):
    def __init__(self, cfg: DiscriminatorConfig):
        super().__init__()
        problem = discriminator_problem(cfg)
        if problem:
            raise ConfigError(problem)
        self.config = cfg
        res_log2 = int(math.log2(cfg.img_resolution))
        self.block_resolutions = [2**i for i in range(res_log2, 2, -1)]
        self.fp16_resolution = max(2 ** (res_log2 + 1 - cfg.num_fp16_res), 8)
        k = cfg.num_frames
        cmap_dim = cfg.cmap_dim if cfg.cmap_dim is not None else cfg.channels(4)
        self.time_encoder = TemporalDifferenceEncoder(k, cfg.max_num_frames, cfg.time_embed_dim) if k > 1 else None
        if cfg.c_dim == 0 and self.time_encoder is None:
            cmap_dim = 0
        self.cmap_dim = cmap_dim
        for res in self.block_resolutions:
            in_ch = cfg.channels(res) if res < cfg.img_resolution else 0
            tmp_ch, out_ch = cfg.channels(res), cfg.channels(res // 2)
            if res // 2 == cfg.concat_res:
                out_ch //= cfg.num_frames_div_factor
            if res == cfg.concat_res:
                in_ch = (in_ch // cfg.num_frames_div_factor) * k
            setattr(self, f"b{res}", DiscriminatorBlock(in_ch, tmp_ch, out_ch, res, cfg.img_channels, cfg.conv_clamp))
        total_c = cfg.c_dim + (self.time_encoder.get_dim() if self.time_encoder is not None else 0)
        if cmap_dim > 0:
            self.mapping = MappingNetwork(
                0, total_c, cmap_dim, num_ws=None, num_layers=cfg.mapping_layers, w_avg_beta=None
            )
        self.b4 = DiscriminatorEpilogue(
            cfg.channels(4), cmap_dim, cfg.mbstd_group_size, cfg.mbstd_num_channels, cfg.conv_clamp
        )

    def forward(
        self, img: torch.Tensor, t: torch.Tensor, c: torch.Tensor | None = None, precision: str = "fp32"
    ) -> torch.Tensor:
        """img: [N, k, C, H, W] (or [N·k, C, H, W]) in time order; t: [N, k] frames; c: [N, c_dim] → logits [N]."""
        cfg = self.config
        n, k = t.shape
        if k != cfg.num_frames:
            raise ValueError(f"discriminator takes {cfg.num_frames} frames per video, got {k}")
        img = img.reshape(n * k, cfg.img_channels, cfg.img_resolution, cfg.img_resolution)
        cond = c if cfg.c_dim > 0 else torch.zeros(n, 0, device=img.device)
        if cfg.c_dim > 0:
            assert_shape(cond, [n, cfg.c_dim], "c")
        if self.time_encoder is not None:
            cond = torch.cat([cond.to(torch.float32), self.time_encoder(t.to(img.device))], dim=1)
        reduced = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}[precision]
        x = None
        for res in self.block_resolutions:
            if res == cfg.concat_res:
                x = x.reshape(n, k * x.shape[1], *x.shape[2:])  # [N, k·C, 16, 16], frames in time order
            dtype = reduced if res >= self.fp16_resolution else torch.float32
            x = getattr(self, f"b{res}")(x, img, dtype)
        cmap = self.mapping(None, cond) if self.cmap_dim > 0 else None
        return self.b4(x, cmap)

    def extra_repr(self) -> str:
        c = self.config
        return f"{c.img_resolution}², k={c.num_frames} frames, concat at {c.concat_res}², cmap={self.cmap_dim}"
