"""Synthesis network: learned const ⊕ motion code at 4×4, then StyleGAN2's skip architecture
(docs/model.md §6; paper §3.2).

Content codes ws are per video and motion codes v_t per frame. Frames of one video share every
style vector, so each modulated conv is built once per video and run over all of its frames.
Module and parameter names are upstream's (`b4.input.input.const`, `b8.conv0.affine`, ...).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from engine.config import MotionConfig, SynthesisConfig
from engine.nets.fastpaths import modulated_conv2d, weight_sq
from engine.nets.layers import FullyConnectedLayer, assert_shape, setup_filter, upsample2d
from engine.nets.motion import MotionMappingNetwork

PRECISIONS = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class SynthesisLayer(nn.Module):
    """Modulated 3×3 conv (optionally ×2 up) + bias + lrelu·√2, clamped."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        resolution: int,
        up: int = 1,
        conv_clamp: float | None = None,
    ):
        super().__init__()
        self.in_channels, self.out_channels, self.resolution = in_channels, out_channels, resolution
        self.up, self.conv_clamp = up, conv_clamp
        self.register_buffer("resample_filter", setup_filter([1, 3, 3, 1]))
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 3, 3]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w)  # [N, I]
        return modulated_conv2d(
            x,
            self.weight,
            styles,
            up=self.up,
            padding=1,
            resample_filter=self.resample_filter,
            bias=self.bias,
            act="lrelu",
            clamp=self.conv_clamp,
            weight_sq=weight_sq(self),
        )

    def extra_repr(self) -> str:
        up = ", up=2" if self.up > 1 else ""
        return f"{self.in_channels} -> {self.out_channels} @ {self.resolution}², modulated 3×3{up}"


class ToRGBLayer(nn.Module):
    """Modulated 1×1 conv to RGB, no demodulation."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, conv_clamp: float | None = None):
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, 1, 1]))
        self.bias = nn.Parameter(torch.zeros([out_channels]))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        return modulated_conv2d(x, self.weight, styles, demodulate=False, bias=self.bias, clamp=self.conv_clamp)


class TemporalInput(nn.Module):
    """The 4×4 input: a learned constant, channel-concatenated with v_t tiled over 4×4."""

    def __init__(self, channels: int, motion_v_dim: int):
        super().__init__()
        self.motion_v_dim = motion_v_dim
        self.const = nn.Parameter(torch.randn(1, channels, 4, 4))

    def get_dim(self) -> int:
        return self.const.shape[1] + self.motion_v_dim

    def forward(self, motion_v: torch.Tensor) -> torch.Tensor:
        m = motion_v.shape[0]
        v = motion_v.to(self.const.dtype)[:, :, None, None].expand(m, -1, 4, 4)
        return torch.cat([self.const.expand(m, -1, -1, -1), v], dim=1)  # [N·T, C + 2D, 4, 4]


class GenInput(nn.Module):
    """Upstream wraps TemporalInput once more (`b4.input.input.const`); kept for rename-free loading."""

    def __init__(self, channels: int, motion_v_dim: int):
        super().__init__()
        self.input = TemporalInput(channels, motion_v_dim)
        self.total_dim = self.input.get_dim()

    def forward(self, motion_v: torch.Tensor) -> torch.Tensor:
        return self.input(motion_v)


class SynthesisBlock(nn.Module):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        w_dim: int,
        motion_v_dim: int,
        resolution: int,
        img_channels: int,
        conv_clamp: float | None,
    ):
        super().__init__()
        self.in_channels, self.out_channels, self.resolution = in_channels, out_channels, resolution
        self.register_buffer("resample_filter", setup_filter([1, 3, 3, 1]))
        self.num_conv, self.num_torgb = 0, 1
        if in_channels == 0:
            self.input = GenInput(out_channels, motion_v_dim)
            conv1_in = self.input.total_dim
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, resolution, up=2, conv_clamp=conv_clamp)
            self.num_conv += 1
            conv1_in = out_channels
        self.conv1 = SynthesisLayer(conv1_in, out_channels, w_dim, resolution, conv_clamp=conv_clamp)
        self.num_conv += 1
        self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)

    def forward(
        self,
        x: torch.Tensor | None,
        img: torch.Tensor | None,
        ws: torch.Tensor,
        motion_v: torch.Tensor | None,
        dtype: torch.dtype,
        memory_format: torch.memory_format,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """x: [N·T, C, r/2, r/2] (None for b4); img: [N·T, 3, r/2, r/2] fp32; ws: [N, num_conv + 1, D]."""
        w_iter = iter(ws.unbind(dim=1))
        if self.in_channels == 0:
            x = self.input(motion_v).to(dtype=dtype, memory_format=memory_format)
            x = self.conv1(x, next(w_iter))
        else:
            x = x.to(dtype=dtype, memory_format=memory_format)
            x = self.conv0(x, next(w_iter))
            x = self.conv1(x, next(w_iter))
        if img is not None:
            img = upsample2d(img, self.resample_filter)
        y = self.torgb(x, next(w_iter)).to(dtype=torch.float32, memory_format=torch.contiguous_format)
        img = img + y if img is not None else y
        return x, img

    def extra_repr(self) -> str:
        return f"{self.in_channels or 'const+v'} -> {self.out_channels} @ {self.resolution}²"


class SynthesisNetwork(nn.Module):
    """ws [N, L, D] + v [N, T, 2D] → frames [N, T, C, H, W] in about [-1, 1]. Owns the motion network,
    as upstream does (`synthesis.motion_encoder`)."""

    def __init__(self, cfg: SynthesisConfig, motion: MotionConfig, w_dim: int, c_dim: int = 0):
        super().__init__()
        self.cfg, self.w_dim = cfg, w_dim
        self.img_resolution, self.img_channels = cfg.img_resolution, cfg.img_channels
        self.block_resolutions = cfg.block_resolutions
        self.motion_encoder = MotionMappingNetwork(motion, c_dim)
        self.motion_v_dim = self.motion_encoder.get_dim()
        log2 = int(math.log2(cfg.img_resolution))
        self.fp16_resolution = max(2 ** (log2 + 1 - cfg.num_fp16_res), 8)
        for res in self.block_resolutions:
            in_ch = cfg.channels(res // 2) if res > 4 else 0
            block = SynthesisBlock(
                in_ch, cfg.channels(res), w_dim, self.motion_v_dim, res, cfg.img_channels, cfg.conv_clamp
            )
            setattr(self, f"b{res}", block)
        self.num_ws = cfg.num_ws

    def forward(
        self, ws: torch.Tensor, motion_v: torch.Tensor, precision: str = "fp32", channels_last: bool = False
    ) -> torch.Tensor:
        """precision 'fp16'/'bf16' runs the top `num_fp16_res` resolutions in reduced precision (a fast
        path; fp32 is the reference). channels_last switches the memory format of activations."""
        assert_shape(ws, [None, self.num_ws, self.w_dim], "ws")
        n = ws.shape[0]
        assert_shape(motion_v, [n, None, self.motion_v_dim], "motion_v")
        frames = motion_v.shape[1]
        reduced = PRECISIONS[precision]
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        ws = ws.to(torch.float32)
        x = img = None
        w_idx = 0
        for res in self.block_resolutions:
            block = getattr(self, f"b{res}")
            block_ws = ws.narrow(1, w_idx, block.num_conv + block.num_torgb)
            w_idx += block.num_conv
            dtype = reduced if res >= self.fp16_resolution else torch.float32
            x, img = block(x, img, block_ws, motion_v.reshape(n * frames, -1) if res == 4 else None, dtype, fmt)
        return img.reshape(n, frames, *img.shape[1:])  # [N, T, C, H, W]

    def extra_repr(self) -> str:
        chans = ", ".join(f"{r}:{self.cfg.channels(r)}" for r in self.block_resolutions)
        return f"{self.img_resolution}², channels {{{chans}}}, num_ws={self.num_ws}, skip architecture"
