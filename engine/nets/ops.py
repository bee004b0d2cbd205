"""Reference computations of StyleGAN2 / StyleGAN-V layers, each a plain function (docs/model.md, "Layers").

Bias + activation, FIR resampling with the [1,3,3,1] filter, resampling convolutions and the modulated /
demodulated convolution: our own implementations of the formulas upstream's custom CUDA ops compute, with no
compiled extensions, so the same code runs on CPU and GPU. These are what the networks mean; the faster but
equivalent ways to run them (and the tensor caches they use) are in engine/nets/fastpaths.py, and the layer
modules that own the parameters in engine/nets/layers.py.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

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
    """x + b, then activation, then gain, then clamp; lrelu's default gain is √2 (StyleGAN2 bias_act).

    x: [N, C, ...] (channels second), b: [C] → same shape as x.
    """
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

    x: [N, C, H, W], f: [k, k] → [N, C, H', W'] with H' = (H·up + y0 + y1 − k + 1) / down (likewise W').
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
    # One depthwise 2-D pass: in channels_last it is ~10x faster on CPU than two separable 1-D passes. The
    # weight must be contiguous (an expanded view sends oneDNN to a kernel 6x slower), and decimation is the
    # conv's stride: only the kept outputs are computed.
    return F.conv2d(x, fk[None, None].repeat(c, 1, 1, 1), padding=conv_pad, stride=down, groups=c)


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

    x: [N, I, H, W], w: [O, I/groups, k, k], f: [4, 4] → [N, O, H·up/down, W·up/down] (with the usual padding).

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
# Modulated convolution (StyleGAN2 §2.2; docs/model.md, "Modulated convolution")


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    up: int = 1,
    padding: int = 0,
    resample_filter: torch.Tensor | None = None,
    demodulate: bool = True,
) -> torch.Tensor:
    """The modulated convolution of a batch of videos, as the model defines it (fp32 reference).

    x: [N·T, I, H, W], the T frames of each of N videos, video-major; styles: [N, I], one per video (content
    codes do not change over time); weight: [O, I, k, k]. Returns [N·T, O, H', W'] (H' = 2H when up = 2).
    engine.nets.fastpaths.modulated_conv2d computes the same (plus bias and activation) faster.
    """
    n, (nt, in_ch, h, w) = styles.shape[0], x.shape
    out_ch, k = weight.shape[0], weight.shape[-1]
    frames = nt // n
    assert_shape(styles, [n, in_ch], "styles")
    # Modulate: scale every input channel of the weight by the video's style.
    wgt = weight.unsqueeze(0) * styles.reshape(n, 1, in_ch, 1, 1)  # [N, O, I, k, k]
    # Demodulate: scale every output channel so that unit-variance inputs give unit-variance outputs.
    if demodulate:
        dcoefs = (wgt.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()  # [N, O]
        wgt = wgt * dcoefs.reshape(n, out_ch, 1, 1, 1)  # [N, O, I, k, k]
    # One grouped convolution: frames are the batch, each video's channels one group with its own weight.
    x = x.reshape(n, frames, in_ch, h, w).transpose(0, 1).reshape(frames, n * in_ch, h, w)  # [T, N·I, H, W]
    wgt = wgt.reshape(n * out_ch, in_ch, k, k)  # [N·O, I, k, k]
    y = conv2d_resample(x, wgt.to(x.dtype), f=resample_filter, up=up, padding=padding, groups=n)  # [T, N·O, H', W']
    y = y.reshape(frames, n, out_ch, *y.shape[2:]).transpose(0, 1)  # [N, T, O, H', W']
    return y.reshape(nt, out_ch, *y.shape[3:])  # [N·T, O, H', W']
