"""The SR level's networks: a per-frame conditional synthesis network and its matching discriminator.

Generator. One latent z per video → w (a small mapping network), broadcast to every layer. Output frame t is
made from the window of base frames t + j, j = −k…k, stacked on channels (3·(2k+1)). The stack is resampled to
every block's resolution (area-downsampled below the input size) and concatenated to the input of the block's
second conv, so every layer sees the low-resolution evidence at its own scale. Blocks are StyleGAN2 modulated
convs from base/4 up to the input size; a sub-pixel head makes the scale× larger residual, which is added to
the bicubically upsampled centre frame, so an untrained level already is a plain upscaler and training learns
the missing detail. No temporal convolutions and no noise inputs: an output frame is a pure function of
(w, its window), so chunked, batched and single-frame rendering agree (docs/cascade.md).

Discriminator. Sees the bilinearly upsampled low-resolution clip and the high-resolution clip, `num_frames`
consecutive frames, all stacked on channels; the low-resolution half is zeroed per sample unless `keep` says
otherwise (training keeps it with probability lr_cond_prob, as LongVideoGAN's matching discriminator).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from engine.cascade.config import SRDiscriminatorConfig, SRGeneratorConfig
from engine.nets.discriminator import DiscriminatorBlock, DiscriminatorEpilogue
from engine.nets.layers import assert_shape
from engine.nets.mapping import MappingNetwork
from engine.nets.synthesis import SynthesisLayer, ToRGBLayer


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """[N, C, h, h] → [N, C, size, size]: area average when shrinking (anti-aliased), bilinear when growing."""
    h = x.shape[-1]
    if size == h:
        return x
    if size < h:
        return F.avg_pool2d(x, h // size)
    return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)


def windows_of(clip: torch.Tensor, k: int) -> torch.Tensor:
    """Consecutive frames [N, F + 2k, C, h, w] → the window of each of the F middle frames [N, F, 2k+1, C, h, w]."""
    n, length = clip.shape[:2]
    f = length - 2 * k
    if f < 1:
        raise ValueError(f"a clip of {length} frames has no output frame for window ±{k}")
    idx = torch.arange(f, device=clip.device)[:, None] + torch.arange(2 * k + 1, device=clip.device)[None]
    return clip[:, idx]  # [N, F, W, C, h, w]


class SRBlock(nn.Module):
    """conv0 (×2 up except in the first block) → conv1 on [x, window resampled to this size]."""

    def __init__(self, in_channels: int, cond_channels: int, out_channels: int, w_dim: int, res: int, cfg):
        super().__init__()
        self.resolution, self.first = res, in_channels == 0
        clamp = cfg.conv_clamp
        if self.first:
            self.conv0 = SynthesisLayer(cond_channels, out_channels, w_dim, res, conv_clamp=clamp)
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, w_dim, res, up=2, conv_clamp=clamp)
        self.conv1 = SynthesisLayer(out_channels + cond_channels, out_channels, w_dim, res, conv_clamp=clamp)

    def forward(self, x, cond, ws, memory_format):
        w0, w1 = ws.unbind(dim=1)
        x = self.conv0((cond if self.first else x).contiguous(memory_format=memory_format), w0)
        return self.conv1(torch.cat([x, cond.to(x.dtype)], dim=1).contiguous(memory_format=memory_format), w1)


class SRGenerator(nn.Module):
    """ws = G.mapping(z) [N, L, D]; frames = G.synthesis(ws, windows [N, F, 2k+1, C, h, h]) → [N, F, C, H, H].

    Blocks run from base/2^levels_below up to the input resolution; the output head is a modulated 3×3 conv and
    a modulated 1×1 conv to C·scale² channels, rearranged into the scale× larger frame (sub-pixel convolution),
    so every convolution runs at or below the input resolution: a frame costs about as much at 256² as the
    same network at 64², which is what makes real-time cascade playback on a CPU possible.
    """

    def __init__(self, cfg: SRGeneratorConfig):
        super().__init__()
        self.config = cfg
        self.block_resolutions = cfg.block_resolutions
        cond_ch = cfg.img_channels * cfg.window_frames
        prev = 0
        for res in self.block_resolutions:
            setattr(self, f"b{res}", SRBlock(prev, cond_ch, cfg.channels(res), cfg.w_dim, res, cfg))
            prev = cfg.channels(res)
        top = cfg.base_resolution
        self.head = SynthesisLayer(prev, prev, cfg.w_dim, top, conv_clamp=cfg.conv_clamp)
        self.torgb = ToRGBLayer(prev, cfg.img_channels * cfg.scale**2, cfg.w_dim, conv_clamp=cfg.conv_clamp)
        with torch.no_grad():  # the residual starts at zero: an untrained level is the bicubic upscaler
            self.torgb.weight.zero_()
        self.num_ws = 2 * len(self.block_resolutions) + 2
        self.mapping = MappingNetwork(cfg.z_dim, 0, cfg.w_dim, self.num_ws, cfg.mapping_layers)

    @property
    def z_dim(self) -> int:
        return self.config.z_dim

    @property
    def device(self) -> torch.device:
        return self.mapping.fc0.weight.device

    def synthesis(self, ws: torch.Tensor, windows: torch.Tensor, channels_last: bool = False) -> torch.Tensor:
        cfg = self.config
        h, c, kw = cfg.base_resolution, cfg.img_channels, cfg.window_frames
        assert_shape(ws, [None, self.num_ws, cfg.w_dim], "ws")
        n = ws.shape[0]
        assert_shape(windows, [n, None, kw, c, h, h], "windows")
        f = windows.shape[1]
        fmt = torch.channels_last if channels_last else torch.contiguous_format
        cond = windows.reshape(n * f, kw * c, h, h).to(torch.float32)
        x = None
        for i, res in enumerate(self.block_resolutions):
            x = getattr(self, f"b{res}")(x, resize(cond, res), ws[:, 2 * i : 2 * i + 2], fmt)
        x = self.head(x, ws[:, -2])
        y = self.torgb(x, ws[:, -1]).to(torch.float32, memory_format=torch.contiguous_format)
        y = F.pixel_shuffle(y, cfg.scale)  # [N·F, C, H, H]
        centre = windows[:, :, cfg.window].reshape(n * f, c, h, h).to(torch.float32)
        out = y + F.interpolate(centre, size=(cfg.resolution,) * 2, mode="bicubic", align_corners=False)
        return out.reshape(n, f, c, cfg.resolution, cfg.resolution)

    def forward(self, z: torch.Tensor, windows: torch.Tensor, psi: float = 1.0) -> torch.Tensor:
        return self.synthesis(self.mapping(z, psi=psi), windows)

    def extra_repr(self) -> str:
        c = self.config
        return (
            f"{c.base_resolution}² → {c.resolution}² (×{c.scale}), window ±{c.window} frames, z={c.z_dim}, "
            f"blocks {self.block_resolutions}, sub-pixel output"
        )


class SRDiscriminator(nn.Module):
    """logits [N] of (hr [N, F, C, H, H], lr [N, F, C, h, h], keep [N] in {0, 1})."""

    def __init__(self, cfg: SRDiscriminatorConfig):
        super().__init__()
        self.config = cfg
        in_ch = 2 * cfg.img_channels * cfg.num_frames
        self.block_resolutions = [2**i for i in range(int(math.log2(cfg.resolution)), 2, -1)]
        for res in self.block_resolutions:
            ch_in = cfg.channels(res) if res < cfg.resolution else 0
            block = DiscriminatorBlock(ch_in, cfg.channels(res), cfg.channels(res // 2), res, in_ch, cfg.conv_clamp)
            setattr(self, f"b{res}", block)
        self.b4 = DiscriminatorEpilogue(cfg.channels(4), 0, cfg.mbstd_group_size, 1, cfg.conv_clamp)

    def forward(self, hr: torch.Tensor, lr: torch.Tensor, keep: torch.Tensor | None = None) -> torch.Tensor:
        cfg = self.config
        n, f = hr.shape[:2]
        if f != cfg.num_frames:
            raise ValueError(f"the SR discriminator takes {cfg.num_frames} frames per clip, got {f}")
        size = cfg.resolution
        lr_up = F.interpolate(lr.flatten(0, 1).float(), size=(size, size), mode="bilinear", align_corners=False)
        lr_up = lr_up.reshape(n, f, cfg.img_channels, size, size)
        if keep is not None:
            lr_up = lr_up * keep.to(lr_up.dtype).reshape(n, 1, 1, 1, 1)
        img = torch.cat([lr_up, hr.float()], dim=2).reshape(n, -1, size, size)
        x = None
        for res in self.block_resolutions:
            x = getattr(self, f"b{res}")(x, img, torch.float32)
        return self.b4(x, None)
