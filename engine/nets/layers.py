"""Layer modules of StyleGAN2 / StyleGAN-V: equalised-learning-rate fully connected and conv layers.

Weights are stored as N(0, 1) / lr_multiplier and scaled by lr_multiplier / sqrt(fan_in) when used (docs/model.md,
"Layers"); parameter and buffer names match upstream's, so its state dicts load without renaming. The
computations are the plain functions of engine/nets/ops.py, re-exported here; the scaled weights come from
the caches of engine/nets/fastpaths.py.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from engine.nets.fastpaths import clamp_activations, scaled_param
from engine.nets.ops import (  # noqa: F401 (re-exported: the networks import their primitives from here)
    LRELU_SLOPE,
    SQRT2,
    assert_shape,
    bias_act,
    conv2d_resample,
    downsample2d,
    modulated_conv2d,
    normalize_2nd_moment,
    setup_filter,
    upfirdn2d,
    upsample2d,
)


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
        # Equals bias_act(conv(x, w·weight_gain), bias, act, gain=act_gain·gain, clamp) (tests/test_nets_reference.py):
        # the output gain g > 0 is folded into the weight and bias (lrelu(g·x) = g·lrelu(x)) and the bias added
        # by the convolution, which saves three full passes over the activations forward and two backward.
        g = self.act_gain * gain
        w = (self.weight * (self.weight_gain * g)).to(x.dtype)
        b = (self.bias * g).to(x.dtype) if self.bias is not None else None
        x = conv2d_resample(x, w, f=self.resample_filter, up=self.up, down=self.down, padding=self.padding, bias=b)
        if self.activation == "lrelu":
            x = F.leaky_relu_(x, LRELU_SLOPE)  # in place: the conv's fresh output, which no backward needs
        elif self.activation != "linear":
            raise ValueError(f"unknown activation '{self.activation}'")
        return clamp_activations(x, self.conv_clamp * gain if self.conv_clamp is not None else None)

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
