"""Motion mapping network and acyclic positional embedding (docs/model.md §4, §5; paper §3.1).

noise codes (one per position) → two padding-free temporal convs → anchor codes u_i, one every δz
frames → for a frame at time t, the left anchor's u sets frequencies and phases of D sinusoids and both
neighbouring anchors' aligners are interpolated:

    v_t = pe(t) − [(1−α)·pe(t_L) + α·pe(t_R)] + [(1−α)·A(u_L) + α·A(u_R)],   α = (t mod δz)/δz

so v_t is continuous in t and equals A(u_L) exactly at anchor times. Anchor i depends on noise positions
i .. i+2(k−1); a frame touches anchors floor(t/δz) and floor(t/δz)+1 only, which makes rendering O(1) in t.

Precision: the phases freq·a·t reach ~4·10^5 rad at t = 10^6, where float32 loses ~0.03 rad, and a
one-ulp change of the float32 multiplier a (e.g. from a different matmul blocking in another batch
size) moves the phase at t = 10^7 by ~0.5 rad. So the whole motion path (convs, predictors, sinusoids;
~1 MFLOP per frame, ~40 MFLOP per new anchor at 256²) runs in float64 and only v_t is cast to float32:
frames at t = 10^7 are as exact, smooth and batch-independent as at t = 0.
"""

from __future__ import annotations

import math
from collections.abc import MutableMapping, Sequence

import numpy as np
import torch
from torch import nn

from engine.config import MotionConfig
from engine.motion_codes import MotionCodes
from engine.nets.layers import EqLRConv1d, FullyConnectedLayer


def linspaced_frequencies(num_freqs: int, min_period: float, max_period: float) -> torch.Tensor:
    """Angular frequencies of periods geometrically spaced in [min_period, max_period], ascending. [1, D]"""
    periods = 2 ** np.linspace(np.log2(min_period), np.log2(max_period), num_freqs)
    freqs = 2 * np.pi / periods
    return torch.from_numpy(freqs[::-1].copy().astype(np.float32)).unsqueeze(0)


class AlignedTimeEncoder(nn.Module):
    """u_L, u_R, t → v_t (the acyclic positional embedding, docs/model.md §5). Weights: 3 bias-free linear maps."""

    def __init__(self, latent_dim: int, dim: int, min_period: float, max_period: float):
        super().__init__()
        self.latent_dim, self.dim = latent_dim, dim
        freqs = linspaced_frequencies(dim, min_period, max_period)
        self.register_buffer("freqs", freqs)  # [1, D]
        # Same float32 ops as upstream so a freshly built encoder has bit-identical buffers.
        self.register_buffer("phase_scales", max_period / (2 * np.pi / freqs))  # [1, D]
        self.periods_predictor = FullyConnectedLayer(latent_dim, dim, bias=False)
        self.phase_predictor = FullyConnectedLayer(latent_dim, dim, bias=False)
        self.aligners_predictor = FullyConnectedLayer(latent_dim, 2 * dim, bias=False)

    def get_dim(self) -> int:
        return 2 * self.dim

    def forward(self, t: torch.Tensor, u_left: torch.Tensor, u_right: torch.Tensor, delta_z: float) -> torch.Tensor:
        """t: [M] frames; u_left/u_right: [M, V] float64 → v: [M, 2D] float32 (see the module note on precision)."""
        u_left, u_right = u_left.to(torch.float64), u_right.to(torch.float64)
        t = t.to(u_left.device, torch.float64)
        a = self.periods_predictor(u_left).tanh() + 1  # [M, D] frequency multipliers in (0, 2)
        phi = self.phase_predictor(u_left)  # [M, D]
        a_left, a_right = self.aligners_predictor(torch.cat([u_left, u_right])).chunk(2)  # [M, 2D] each
        alpha = (torch.remainder(t, delta_z) / delta_z).unsqueeze(1)  # [M, 1]
        t_left = t - torch.remainder(t, delta_z)
        rate = self.freqs.to(torch.float64) * a  # [M, D] rad per frame
        offset = phi * self.phase_scales.to(torch.float64)  # [M, D]

        def pe(tau: torch.Tensor) -> torch.Tensor:
            raw = rate * tau.unsqueeze(1) + offset
            return torch.cat([raw.sin(), raw.cos()], dim=1)  # [M, 2D]: all sines, then all cosines

        v = pe(t) - ((1 - alpha) * pe(t_left) + alpha * pe(t_left + delta_z)) + (1 - alpha) * a_left + alpha * a_right
        return v.to(torch.float32)

    def extra_repr(self) -> str:
        return f"u_dim={self.latent_dim}, sinusoids={self.dim}, v_dim={2 * self.dim}"


class MotionMappingNetwork(nn.Module):
    """Motion noise → anchor codes u → motion codes v_t at any real t (upstream `synthesis.motion_encoder`)."""

    def __init__(self, cfg: MotionConfig, c_dim: int = 0):
        super().__init__()
        self.cfg, self.c_dim = cfg, c_dim
        self.time_encoder = AlignedTimeEncoder(cfg.v_dim, cfg.time_enc_dim, cfg.min_period, cfg.max_period)
        self.conv = nn.Sequential(
            EqLRConv1d(cfg.z_dim + c_dim, cfg.z_dim, cfg.kernel_size, lr_multiplier=cfg.lr_multiplier),
            EqLRConv1d(cfg.z_dim, cfg.v_dim, cfg.kernel_size, lr_multiplier=cfg.lr_multiplier),
        )

    def get_dim(self) -> int:
        return self.time_encoder.get_dim()

    @property
    def context(self) -> int:
        return self.cfg.context

    @property
    def motion_device(self) -> torch.device:
        return self.conv[0].weight.device

    # -- anchors -----------------------------------------------------------------------------------------
    def anchor_codes(
        self, motions: Sequence[MotionCodes], start: int, count: int, c: torch.Tensor | None = None
    ) -> torch.Tensor:
        """u codes of anchors start .. start+count-1 for each video, overrides applied. [N, count, V]"""
        device = self.motion_device
        z = self.cfg.z_dim
        noise = torch.stack([m.noise_window(start, count + self.context - 1, z) for m in motions])
        x = noise.to(device, torch.float64).transpose(1, 2)  # [N, Z, L]
        if self.c_dim > 0:
            if c is None:
                raise ValueError(f"this model is conditional: pass c of shape [N, {self.c_dim}]")
            x = torch.cat([x, c.to(device, torch.float64).unsqueeze(2).expand(-1, -1, x.shape[2])], dim=1)
        u = self.conv(x).transpose(1, 2)  # [N, count, V] float64
        edited = [(n, i) for n, m in enumerate(motions) for i in m.overrides if start <= i < start + count]
        if edited:
            u = u.clone()
            for n, i in edited:
                u[n, i - start] = motions[n].overrides[i].to(u.device, u.dtype)
        return u

    def anchors_for_times(
        self,
        motions: Sequence[MotionCodes],
        t: torch.Tensor,
        c: torch.Tensor | None = None,
        cache: MutableMapping[int, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """u_L, u_R for every frame. t: [N, T] float64 → two [N, T, V] tensors.

        Only the anchors in use are computed, grouped into contiguous runs so a playback window costs
        one small conv, and frames far apart (t = 0 and t = 10^6 in one batch) cost two. `cache`
        (anchor index → [N, V]) lets a caller that renders the same motions repeatedly skip known anchors.
        """
        n_videos, n_frames = t.shape
        left = torch.floor(t.cpu().to(torch.float64) / self.cfg.delta_z).to(torch.int64)  # [N, T]
        needed = torch.unique(torch.cat([left.reshape(-1), left.reshape(-1) + 1])).tolist()
        known = {i: cache[i] for i in needed if i in cache} if cache is not None else {}
        for lo, hi in _contiguous_runs([i for i in needed if i not in known]):
            u = self.anchor_codes(motions, lo, hi - lo + 1, c)  # [N, run, V]
            for i in range(lo, hi + 1):
                known[i] = u[:, i - lo]
                if cache is not None:
                    cache[i] = known[i]
        index = {i: k for k, i in enumerate(needed)}
        u_all = torch.stack([known[i] for i in needed], dim=1)  # [N, A, V]
        rows = torch.tensor([[index[i] for i in row] for row in left.tolist()], device=u_all.device)  # [N, T]
        batch = torch.arange(n_videos, device=u_all.device).unsqueeze(1).expand(-1, n_frames)
        return u_all[batch, rows], u_all[batch, rows + 1]

    # -- motion codes ------------------------------------------------------------------------------------
    def forward(
        self,
        motions: Sequence[MotionCodes],
        t: torch.Tensor,
        c: torch.Tensor | None = None,
        cache: MutableMapping[int, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Motion codes v_t. motions: N videos; t: [N, T] in frames (float64 kept) → [N, T, 2D]."""
        if t.ndim != 2 or t.shape[0] != len(motions):
            raise ValueError(f"t must be [N, T] with N = {len(motions)} motions, got {list(t.shape)}")
        if not torch.isfinite(t).all():
            raise ValueError("t must be finite")
        u_left, u_right = self.anchors_for_times(motions, t, c, cache)
        n, f, v = u_left.shape
        codes = self.time_encoder(t.reshape(-1), u_left.reshape(n * f, v), u_right.reshape(n * f, v), self.cfg.delta_z)
        return codes.reshape(n, f, -1).to(self.conv[0].weight.device)

    def upstream_forward(
        self, motions: Sequence[MotionCodes], t: torch.Tensor, c: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Motion codes computed the way upstream does, op for op in float32, for bit-level parity checks.

        Runs the convs over the whole noise sequence from position 0 (O(t) cost) and rounds phases in
        float32, so it reproduces upstream's numbers including its rounding at large t. Needs explicit noise.
        """
        if any(m.noise is None for m in motions):
            raise ValueError("upstream arithmetic needs explicit motion noise (MotionCodes.from_noise)")
        cfg, device = self.cfg, self.conv[0].weight.device
        n_videos, n_frames = t.shape
        t = t.to(device, torch.float64)
        max_t = max(cfg.max_num_frames - 1, t.max().item())
        length = int(np.ceil(max_t / cfg.delta_z)) + 2 + 2 * (cfg.kernel_size - 1)
        x = torch.stack([m.noise_window(0, length, cfg.z_dim) for m in motions]).to(device)  # [N, L, Z]
        if self.c_dim > 0:
            x = torch.cat([x, c.to(device).unsqueeze(1).repeat(1, length, 1)], dim=2)
        x = x.permute(0, 2, 1)
        for conv in self.conv:
            w = conv.weight.to(x.dtype) * conv.weight_gain
            x = torch.nn.functional.leaky_relu(torch.nn.functional.conv1d(x, w, conv.bias * conv.bias_gain), 0.2)
        traj = x.permute(0, 2, 1)  # [N, anchors, V]
        left = (t / cfg.delta_z).floor().long()
        batch = torch.arange(n_videos, device=device).unsqueeze(1).repeat(1, n_frames)
        u_left = traj[batch, left].reshape(n_videos * n_frames, -1)
        u_right = traj[batch, left + 1].reshape(n_videos * n_frames, -1)
        t_left = t - t % cfg.delta_z
        t_right = t_left + cfg.delta_z
        alpha = ((t % cfg.delta_z) / cfg.delta_z).reshape(-1, 1).to(torch.float32)
        enc = self.time_encoder
        periods = enc.periods_predictor(u_left).tanh() + 1
        phases = enc.phase_predictor(u_left)

        def pe(tau: torch.Tensor) -> torch.Tensor:
            raw = enc.freqs * periods * tau.reshape(-1).float().unsqueeze(1) + phases * enc.phase_scales
            return torch.cat([raw.sin(), raw.cos()], dim=1)

        removed = pe(t_left) * (1 - alpha) + pe(t_right) * alpha
        added = enc.aligners_predictor(u_left) * (1 - alpha) + enc.aligners_predictor(u_right) * alpha
        return (pe(t) - removed + added).reshape(n_videos, n_frames, -1)

    def affected_time_range(self, anchor: int) -> tuple[float, float]:
        """Open interval of t whose frames change when anchor `anchor`'s code is edited."""
        dz = self.cfg.delta_z
        return (anchor - 1) * dz, (anchor + 1) * dz

    def extra_repr(self) -> str:
        c = self.cfg
        return (
            f"noise {c.z_dim}-d every position, 2×conv1d k={c.kernel_size} → u {c.v_dim}-d every "
            f"δz={c.delta_z:g} frames, periods {c.min_period:g}..{c.max_period:g}"
        )


def _contiguous_runs(sorted_ids: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    for i in sorted_ids:
        if runs and i == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def upstream_noise_length(cfg: MotionConfig, max_t: float) -> int:
    """Noise positions upstream draws for times up to max_t (for building parity inputs)."""
    n = math.ceil(max(cfg.max_num_frames - 1, max_t) / cfg.delta_z) + 2
    return n + 2 * (cfg.kernel_size - 1)
