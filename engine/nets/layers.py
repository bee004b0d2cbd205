"""Primitives of StyleGAN2 / StyleGAN-V in plain PyTorch (model-spec §1.2, §1.5, §2).

Equalised-learning-rate fully connected and conv layers, bias + activation, FIR resampling with the
[1,3,3,1] filter, and the modulated/demodulated convolution. These are our own implementations of the
formulas upstream's custom CUDA ops compute; no compiled extensions, so the same code runs on CPU and
GPU. Parameter and buffer names match upstream's so its state dicts load without renaming.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

SQRT2 = math.sqrt(2.0)
LRELU_SLOPE = 0.2


def assert_shape(x: torch.Tensor, shape: list[int | None], name: str = "tensor") -> None:
    if x.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, x.shape)):
        want = "[" + ", ".join("*" if s is None else str(s) for s in shape) + "]"
        raise ValueError(f"{name} has shape {list(x.shape)}, expected {want}")


def normalize_2nd_moment(x: torch.Tensor, dim: int = 1, eps: float = 1e-8) -> torch.Tensor:
    return x * (x.square().mean(dim=dim, keepdim=True) + eps).rsqrt()


def bias_act(
    x: torch.Tensor, b: torch.Tensor | None, act: str = "linear", gain: float | None = None, clamp: float | None = None
) -> torch.Tensor:
    """x + b, then activation, then gain, then clamp; lrelu's default gain is √2 (StyleGAN2 bias_act)."""
    if b is not None:
        x = x + b.to(x.dtype).reshape([1, -1] + [1] * (x.ndim - 2))
    if act == "lrelu":
        x = F.leaky_relu(x, LRELU_SLOPE)
        gain = SQRT2 if gain is None else gain
    elif act != "linear":
        raise ValueError(f"unknown activation '{act}'")
    if gain is not None and gain != 1:
        x = x * gain
    if clamp is not None and clamp >= 0:
        x = x.clamp(-clamp, clamp)
    return x


# ----------------------------------------------------------------------------------------------------
# FIR resampling with the normalised 2-D [1,3,3,1] filter (upstream's `resample_filter` buffer, [4, 4], sum 1).


def setup_filter(taps: list[float]) -> torch.Tensor:
    f = torch.as_tensor(taps, dtype=torch.float32)
    f = f.ger(f)
    return f / f.sum()


def upfirdn2d(
    x: torch.Tensor, f: torch.Tensor, up: int = 1, down: int = 1, padding: tuple = (0, 0, 0, 0), gain: float = 1.0
) -> torch.Tensor:
    """Upsample by zero insertion, pad (or crop), FIR-filter, downsample by decimation.

    `padding` is (x0, x1, y0, y1) in pixels of the upsampled image, as in StyleGAN2's upfirdn2d.
    """
    n, c, h, w = x.shape
    px0, px1, py0, py1 = padding
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1])
        x = x.reshape(n, c, h * up, w * up)
    conv_pad = (0, 0)
    if px0 == px1 >= 0 and py0 == py1 >= 0:
        conv_pad = (py0, px0)  # let the convolutions pad: saves a copy of the activations
    else:
        x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
        x = x[:, :, max(-py0, 0) : x.shape[2] - max(-py1, 0), max(-px0, 0) : x.shape[3] - max(-px1, 0)]
    fk = (f * gain).to(x.dtype).flip([0, 1])  # convolution, not correlation (a no-op for symmetric filters)
    # One depthwise 2-D pass: in channels_last it is ~10x faster on CPU than two separable 1-D passes.
    x = F.conv2d(x, fk[None, None].expand(c, 1, *fk.shape), padding=conv_pad, groups=c)
    if down > 1:
        x = x[:, :, ::down, ::down]
    return x


def upsample2d(x: torch.Tensor, f: torch.Tensor, up: int = 2) -> torch.Tensor:
    k = f.shape[0]
    p0, p1 = (k + up - 1) // 2, (k - up) // 2
    return upfirdn2d(x, f, up=up, padding=(p0, p1, p0, p1), gain=up * up)


def downsample2d(x: torch.Tensor, f: torch.Tensor, down: int = 2) -> torch.Tensor:
    k = f.shape[0]
    p0, p1 = (k - down + 1) // 2, (k - down) // 2
    return upfirdn2d(x, f, down=down, padding=(p0, p1, p0, p1))


def conv2d_resample(
    x: torch.Tensor,
    w: torch.Tensor,
    f: torch.Tensor | None = None,
    up: int = 1,
    down: int = 1,
    padding: int = 0,
    groups: int = 1,
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """Conv2d with optional ×2 FIR up- or down-sampling around it.

    Without up-sampling it is a correlation, as F.conv2d; with up-sampling the kernel acts as a
    convolution (see below). Both match what upstream's layers compute for the same weights.

    Padding is given relative to the resampled image, as in StyleGAN2. Up-sampling uses a transposed
    strided conv followed by the FIR filter; down-sampling filters first and then strides.
    """
    kh, kw = w.shape[2], w.shape[3]
    fk = f.shape[0] if f is not None else 1
    p0 = p1 = padding
    if up > 1:
        p0 += (fk + up - 1) // 2
        p1 += (fk - up) // 2
    if down > 1:
        p0 += (fk - down + 1) // 2
        p1 += (fk - down) // 2

    if kw == 1 and kh == 1 and down > 1 and up == 1:
        x = upfirdn2d(x, f, down=down, padding=(p0, p1, p0, p1))
        return F.conv2d(x, w, bias, groups=groups)
    if down > 1 and up == 1:
        x = upfirdn2d(x, f, padding=(p0, p1, p0, p1))
        return F.conv2d(x, w, bias, stride=down, groups=groups)
    if up > 1:
        out_ch, in_per_group = w.shape[0], w.shape[1]
        # conv_transpose2d wants [in, out/groups, k, k]. Taps are not flipped, so up-sampling layers
        # compute a true convolution, as upstream's do (it passes flip_weight=False when up > 1).
        w = w.reshape(groups, out_ch // groups, in_per_group, kh, kw).transpose(1, 2)
        w = w.reshape(groups * in_per_group, out_ch // groups, kh, kw)
        p0 -= kw - 1
        p1 -= kw - up
        pt = max(min(-p0, -p1), 0)
        x = F.conv_transpose2d(x, w, stride=up, padding=pt, groups=groups)
        x = upfirdn2d(x, f, padding=(p0 + pt, p1 + pt, p0 + pt, p1 + pt), gain=up * up)
        if down > 1:
            x = upfirdn2d(x, f, down=down)
        if bias is not None:  # after the FIR filter: near the borders it would not pass a constant unchanged
            bias = bias.reshape(1, -1, 1, 1)
            x = x.add_(bias) if not torch.is_grad_enabled() else x + bias
        return x
    if p0 == p1 and p0 >= 0:
        return F.conv2d(x, w, bias, padding=p0, groups=groups)
    x = upfirdn2d(x, f if f is not None else torch.ones(1, 1, device=x.device), padding=(p0, p1, p0, p1))
    return F.conv2d(x, w, bias, groups=groups)


# ----------------------------------------------------------------------------------------------------
# Modulated convolution (StyleGAN2 §2.2) fused with bias + activation.
#
# Two equivalent ways to run it, picked by cost:
#  - "fused": build the modulated, demodulated weight once per video and convolve all its frames with it
#    (content codes are constant over time, so frames of one video share every style). Costs O·I·k² per
#    video; cheapest for high-resolution layers.
#  - "scaled": scale the input activations by the styles, run one shared-weight conv over all N·T images,
#    scale the outputs by the demodulation coefficients. Costs ~N·T·I·H·W; cheapest at low resolution,
#    for many videos at once (grids, training), and what upstream does in training.
# Demodulation coefficients come from Σ_i s_i² · Σ_k w_oik² (one small matmul), never from the full
# modulated weight. The activation gain is folded into the output scale (lrelu(g·x) = g·lrelu(x), g > 0).


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    up: int = 1,
    padding: int = 0,
    resample_filter: torch.Tensor | None = None,
    demodulate: bool = True,
    bias: torch.Tensor | None = None,
    act: str = "linear",
    clamp: float | None = None,
    weight_sq: torch.Tensor | None = None,
) -> torch.Tensor:
    """x: [N·T, I, H, W] frame-major per video; styles: [N, I]; weight: [O, I, k, k] → [N·T, O, H', W'].

    Equals bias_act(conv(x, modulate(weight, styles)), bias, act, clamp=clamp). `weight_sq` is an optional
    precomputed weight.square().sum([2, 3]) ([O, I]).
    """
    n = styles.shape[0]
    nt, in_ch, h, w_ = x.shape
    frames = nt // n
    out_ch, _, kh, kw = weight.shape
    assert_shape(styles, [n, in_ch], "styles")
    if x.dtype != torch.float32 and demodulate:
        # Pre-normalise so reduced-precision products cannot overflow; demodulation undoes the scale.
        weight = weight * (1 / math.sqrt(in_ch * kh * kw) / weight.norm(float("inf"), dim=[1, 2, 3], keepdim=True))
        styles = styles / styles.norm(float("inf"), dim=1, keepdim=True)
        weight_sq = None
    gain = SQRT2 if act == "lrelu" else 1.0
    if demodulate:
        w2 = weight_sq if weight_sq is not None else weight.square().sum(dim=[2, 3])  # [O, I]
        out_scale = (styles.square() @ w2.t() + 1e-8).rsqrt() * gain  # [N, O]
    else:
        out_scale = torch.full((n, out_ch), gain, device=x.device, dtype=styles.dtype)
    b = bias.to(torch.float32) * gain if bias is not None else None

    fused = n == 1 and out_ch * in_ch * kh * kw <= frames * in_ch * h * w_
    if fused:
        wgt = weight * (out_scale.reshape(out_ch, 1) * styles.reshape(1, in_ch)).reshape(out_ch, in_ch, 1, 1)
        y = conv2d_resample(
            x, wgt.to(x.dtype), f=resample_filter, up=up, padding=padding, bias=b.to(x.dtype) if b is not None else None
        )
    else:
        xs = x.reshape(n, frames, in_ch, h, w_) * styles.to(x.dtype).reshape(n, 1, in_ch, 1, 1)
        y = conv2d_resample(xs.reshape(nt, in_ch, h, w_), weight.to(x.dtype), f=resample_filter, up=up, padding=padding)
        scale = out_scale.to(x.dtype).reshape(n, 1, out_ch, 1, 1)
        y5 = y.reshape(n, frames, out_ch, *y.shape[2:])
        y5 = torch.addcmul(b.to(x.dtype).reshape(1, 1, out_ch, 1, 1), y5, scale) if b is not None else y5 * scale
        y = y5.reshape(nt, out_ch, *y.shape[2:])
    inplace = not torch.is_grad_enabled()
    if act == "lrelu":
        y = F.leaky_relu_(y, LRELU_SLOPE) if inplace else F.leaky_relu(y, LRELU_SLOPE)
    if clamp is not None and clamp >= 0:
        y = y.clamp_(-clamp, clamp) if inplace else y.clamp(-clamp, clamp)
    return y


# ----------------------------------------------------------------------------------------------------
# Equalised-learning-rate layers: weights stored as N(0, 1)/lr_mult, scaled at run time.


def scaled_param(module: nn.Module, name: str, dtype: torch.dtype, gain: float) -> torch.Tensor:
    """getattr(module, name).to(dtype) * gain, memoised while the parameter is unchanged and no grad is needed.

    Rendering calls the same layers thousands of times; rescaling (and casting the motion weights to
    float64) on every call cost more than the motion network's own matmuls.
    """
    p = getattr(module, name)
    if torch.is_grad_enabled() and p.requires_grad:
        return p.to(dtype) * gain
    key = (p.data_ptr(), p._version, p.device, dtype, gain)
    cache = module.__dict__.setdefault("_scaled_cache", {})
    hit = cache.get(name)
    if hit is None or hit[0] != key:
        hit = (key, p.detach().to(dtype) * gain)
        cache[name] = hit
    return hit[1]


class FullyConnectedLayer(nn.Module):
    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        activation: str = "linear",
        lr_multiplier: float = 1.0,
        bias_init: float = 0.0,
    ):
        super().__init__()
        self.in_features, self.out_features, self.activation = in_features, out_features, activation
        self.weight = nn.Parameter(torch.randn([out_features, in_features]) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init))) if bias else None
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = scaled_param(self, "weight", x.dtype, self.weight_gain)
        b = scaled_param(self, "bias", x.dtype, self.bias_gain) if self.bias is not None else None
        if self.activation == "linear" and b is not None:
            return torch.addmm(b.unsqueeze(0), x, w.t())
        return bias_act(x.matmul(w.t()), b, act=self.activation)

    def extra_repr(self) -> str:
        return f"{self.in_features} -> {self.out_features}, act={self.activation}, bias={self.bias is not None}"


class Conv2dLayer(nn.Module):
    """Plain (unmodulated) conv with optional ×2 resampling; used by the discriminator."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        bias: bool = True,
        activation: str = "linear",
        up: int = 1,
        down: int = 1,
        conv_clamp: float | None = None,
    ):
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.activation, self.up, self.down, self.conv_clamp = activation, up, down, conv_clamp
        self.register_buffer("resample_filter", setup_filter([1, 3, 3, 1]))
        self.padding = kernel_size // 2
        self.weight_gain = 1 / math.sqrt(in_channels * kernel_size**2)
        self.act_gain = SQRT2 if activation == "lrelu" else 1.0
        self.weight = nn.Parameter(torch.randn([out_channels, in_channels, kernel_size, kernel_size]))
        self.bias = nn.Parameter(torch.zeros([out_channels])) if bias else None

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        w = (self.weight * self.weight_gain).to(x.dtype)
        x = conv2d_resample(x, w, f=self.resample_filter, up=self.up, down=self.down, padding=self.padding)
        clamp = self.conv_clamp * gain if self.conv_clamp is not None else None
        return bias_act(x, self.bias, act=self.activation, gain=self.act_gain * gain, clamp=clamp)

    def extra_repr(self) -> str:
        k = self.weight.shape[-1]
        rs = f", up={self.up}" if self.up > 1 else (f", down={self.down}" if self.down > 1 else "")
        return f"{self.in_channels} -> {self.out_channels}, k={k}{rs}, act={self.activation}"


class EqLRConv1d(nn.Module):
    """Temporal conv of the motion network: padding-free, equalised LR, plain leaky ReLU (no √2 gain)."""

    def __init__(
        self,
        in_features: int,
        out_features: int,
        kernel_size: int,
        activation: str = "lrelu",
        lr_multiplier: float = 1.0,
    ):
        super().__init__()
        self.in_features, self.out_features, self.activation = in_features, out_features, activation
        self.weight = nn.Parameter(torch.randn([out_features, in_features, kernel_size]) / lr_multiplier)
        self.bias = nn.Parameter(torch.zeros([out_features]))
        self.weight_gain = lr_multiplier / math.sqrt(in_features * kernel_size)
        self.bias_gain = lr_multiplier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = scaled_param(self, "weight", x.dtype, self.weight_gain)
        b = scaled_param(self, "bias", x.dtype, self.bias_gain)
        n, c, length = x.shape
        k = w.shape[2]
        # As one matmul over sliding windows: CPU float64 convs have no fast kernel, float64 GEMM does.
        cols = x.unfold(2, k, 1).permute(0, 2, 1, 3).reshape(n, length - k + 1, c * k)  # [N, L', C·k]
        y = torch.addmm(b, cols.reshape(-1, c * k), w.reshape(w.shape[0], c * k).t())
        y = y.reshape(n, length - k + 1, -1).transpose(1, 2)  # [N, O, L']
        return F.leaky_relu(y, LRELU_SLOPE) if self.activation == "lrelu" else y

    def extra_repr(self) -> str:
        return f"{self.in_features} -> {self.out_features}, k={self.weight.shape[-1]}, act={self.activation}"
