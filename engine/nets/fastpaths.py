"""The fast paths of the networks and the tensor caches they keep, in one place.

Each function here computes what a reference function in engine/nets/ops.py defines, only faster: for
rendering many frames of few videos, for reduced precision (fp16 / bf16 keep fp32's range by pre-normalising),
and without rebuilding per-call constants. Parity with the references is tested (tests/test_nets_reference.py,
tests/test_fastpaths.py, tests/test_upstream_parity.py).

Tensor caches: inference calls the same layers thousands of times with unchanged parameters, so derived
tensors (a parameter times its equalised-learning-rate gain, cast to the compute dtype; Σ w² of a conv weight)
are kept on the module and keyed on the parameter's storage (`data_ptr`), in-place version counter (`_version`),
device and dtype: any optimizer step, load_state_dict, .to() or in-place edit changes the key. While autograd
needs the parameter they are never cached.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from engine.nets.ops import LRELU_SLOPE, SQRT2, assert_shape, conv2d_resample

# ----------------------------------------------------------------------------------------------------
# Tensor caches keyed on a parameter's identity and version


def cached_derived(
    module: nn.Module, slot: str, p: torch.Tensor, extra: tuple, compute: Callable[[torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """compute(p.detach()), memoised on `module` under `slot` while p's storage, version, device and `extra`
    are unchanged; computed afresh (with autograd) whenever p needs a gradient."""
    if (torch.is_grad_enabled() and p.requires_grad) or torch.compiler.is_compiling():
        return compute(p)  # under torch.compile: inline in the graph, no Python-side cache to mutate
    key = (p.data_ptr(), p._version, p.device, *extra)
    cache = module.__dict__.setdefault("_derived_cache", {})
    hit = cache.get(slot)
    if hit is None or hit[0] != key:
        hit = (key, compute(p.detach()))
        cache[slot] = hit
    return hit[1]


def scaled_param(module: nn.Module, name: str, dtype: torch.dtype, gain: float) -> torch.Tensor:
    """getattr(module, name).to(dtype) * gain (an equalised-learning-rate weight), cached.

    Rescaling (and casting the motion weights to float64) on every call cost more than the motion network's
    own matmuls.
    """
    return cached_derived(module, name, getattr(module, name), (dtype, gain), lambda p: p.to(dtype) * gain)


def weight_sq(module: nn.Module, name: str = "weight") -> torch.Tensor | None:
    """Σ_k w² per (out, in) of a conv weight [O, I, k, k] → [O, I], cached; None while training (the modulated
    conv then computes it with autograd)."""
    w = getattr(module, name)
    if torch.is_grad_enabled() and w.requires_grad:
        return None
    return cached_derived(module, f"{name}_sq", w, (w.dtype,), lambda p: p.square().sum(dim=[2, 3]))


# ----------------------------------------------------------------------------------------------------
# Modulated convolution fused with bias + activation (equals ops.bias_act(ops.modulated_conv2d(...))).
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

    Equals bias_act(ops.modulated_conv2d(x, weight, styles, ...), bias, act, clamp=clamp) (tests/test_nets_reference.py
    checks it). `weight_sq` is an optional precomputed weight.square().sum([2, 3]) ([O, I]), see `weight_sq`.
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
        # Per-frame scales [N·T, C, 1, 1] keep every product 4-D, so a channels_last x stays channels_last (a 5-D
        # view of it broadcasts into a contiguous result: 4x slower passes and a layout change before each conv).
        s_in = styles.to(x.dtype).repeat_interleave(frames, dim=0).reshape(nt, in_ch, 1, 1)
        y = conv2d_resample(x * s_in, weight.to(x.dtype), f=resample_filter, up=up, padding=padding)
        scale = out_scale.to(x.dtype).repeat_interleave(frames, dim=0).reshape(nt, out_ch, 1, 1)
        y = torch.addcmul(b.to(x.dtype).reshape(1, out_ch, 1, 1), y, scale) if b is not None else y * scale
    if act == "lrelu":
        y = F.leaky_relu_(y, LRELU_SLOPE)  # in place also under autograd: y is a fresh tensor no backward needs
    return clamp_activations(y, clamp)


def clamp_activations(y: torch.Tensor, clamp: float | None) -> torch.Tensor:
    """y.clamp(−clamp, clamp) (upstream's conv_clamp; None or < 0 = off).

    On the CPU it is skipped when nothing lies outside ±clamp, which is exact (clamp's gradient is 1 wherever
    min ≤ y ≤ max): one read of y instead of the clamp and, in training, the four mask passes of its backward,
    about 8 % of a CPU training step. Elsewhere the check would cost a host synchronisation (and a graph break
    under torch.compile), so there it always clamps.
    """
    if clamp is None or clamp < 0:
        return y
    if y.device.type == "cpu" and not torch.compiler.is_compiling():  # compiled graphs fuse the clamp anyway
        flat = y.detach()
        if flat.dim() == 4 and flat.is_contiguous(memory_format=torch.channels_last):
            flat = flat.permute(0, 2, 3, 1)  # a contiguous view: aminmax would copy an NHWC tensor first (7x slower)
        lo, hi = torch.aminmax(flat.reshape(-1))
        if -clamp <= lo.item() and hi.item() <= clamp:  # NaN compares False: it takes the clamp path
            return y
    return y.clamp_(-clamp, clamp) if not torch.is_grad_enabled() else y.clamp(-clamp, clamp)
