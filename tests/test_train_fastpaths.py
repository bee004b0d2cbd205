"""The CPU training fast paths compute what the references define, values and gradients alike
(the speed they buy is measured by bench/train_step.py, not here)."""

import pytest
import torch

from engine.config import preset
from engine.motion_codes import MotionCodes
from engine.nets import Discriminator, Generator, fastpaths, ops
from engine.nets.layers import Conv2dLayer
from engine.train.loss import Phase, VideoGANLoss


@pytest.mark.parametrize("outside", [False, True])
def test_clamp_skip_is_exact(outside):
    g = torch.Generator().manual_seed(int(outside))
    x = torch.randn(3, 4, 5, 5, generator=g, dtype=torch.float64)
    if outside:
        x[0, 1, 2, 3], x[2, 0, 0, 0] = 7.0, -9.0
    for fmt in (torch.contiguous_format, torch.channels_last):
        a = x.clone().contiguous(memory_format=fmt).requires_grad_(True)
        b = x.clone().requires_grad_(True)
        ya, yb = fastpaths.clamp_activations(a * 1, 2.5), (b * 1).clamp(-2.5, 2.5)
        assert torch.equal(ya, yb)
        w = torch.randn(ya.shape, generator=g, dtype=torch.float64)
        (ga,), (gb,) = torch.autograd.grad((ya * w).sum(), a), torch.autograd.grad((yb * w).sum(), b)
        assert torch.equal(ga, gb)  # zero exactly where a value was clamped
        assert torch.equal(ga == 0, (x.abs() > 2.5) | (w == 0))


def test_clamp_skip_keeps_nan_and_off_switch():
    x = torch.tensor([1.0, float("nan"), 3.0])
    assert torch.equal(fastpaths.clamp_activations(x.clone(), 2.0).isnan(), x.isnan())
    assert fastpaths.clamp_activations(x.clone(), 2.0)[2] == 2.0
    assert fastpaths.clamp_activations(x, None) is x and fastpaths.clamp_activations(x, -1) is x


def _reference_conv_layer(layer: Conv2dLayer, x: torch.Tensor, gain: float) -> torch.Tensor:
    w = layer.weight * layer.weight_gain
    y = ops.conv2d_resample(x, w, f=layer.resample_filter, up=layer.up, down=layer.down, padding=layer.padding)
    clamp = layer.conv_clamp * gain if layer.conv_clamp is not None else None
    return ops.bias_act(y, layer.bias, act=layer.activation, gain=layer.act_gain * gain, clamp=clamp)


CONV_CASES = [(3, 1, "lrelu", True), (3, 2, "lrelu", True), (1, 2, "linear", False)]  # D's conv0, conv1, skip


@pytest.mark.parametrize("kernel,down,act,bias", CONV_CASES)
@pytest.mark.parametrize("channels_last", [False, True])
def test_conv_layer_with_folded_gain_equals_reference(kernel, down, act, bias, channels_last):
    """Gain folded into weight and bias, bias inside the conv, clamp skipped when idle: same values, same
    gradients, and the same R1 double backward as bias_act(conv(x)) (clamping active on some outputs)."""
    torch.manual_seed(kernel + down)
    layer = Conv2dLayer(6, 5, kernel, bias=bias, activation=act, down=down, conv_clamp=1.0)
    if bias:
        torch.nn.init.normal_(layer.bias)
    x0 = torch.randn(4, 6, 8, 8)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    x = x0.contiguous(memory_format=fmt).requires_grad_(True)
    xr = x0.clone().requires_grad_(True)
    gain = 0.5**0.5
    with torch.no_grad():  # clamp the largest 10 % of the outputs, so the clamp's value and gradient are exercised
        layer.conv_clamp = None
        layer.conv_clamp = float(_reference_conv_layer(layer, x0, gain).abs().quantile(0.9)) / gain
    y, ref = layer(x, gain=gain), _reference_conv_layer(layer, xr, gain)
    assert 0.05 < float((ref.abs() >= gain * layer.conv_clamp * 0.9999).float().mean()) < 0.2
    assert (y - ref).abs().max() <= 1e-5
    params = [p for p in layer.parameters()]
    gy = torch.autograd.grad(y.square().sum(), [x, *params], create_graph=True)
    gr = torch.autograd.grad(ref.square().sum(), [xr, *params], create_graph=True)
    for a, b in zip(gy, gr):
        assert (a - b).abs().max() <= 1e-4 * (1 + b.abs().max())
    # R1-style: the gradient norm of the input gradient, differentiated again w.r.t. the weights
    (hy,) = torch.autograd.grad(gy[0].square().sum(), layer.weight)
    (hr,) = torch.autograd.grad(gr[0].square().sum(), layer.weight)
    assert (hy - hr).abs().max() <= 1e-4 * (1 + hr.abs().max())


def phase_grads(G, D, name: str, **loss_options) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One phase (Gmain, Dmain or Dreg) on fixed tiny inputs: (loss, gradients of the phase's network)."""
    loss_fn = VideoGANLoss(G, D, None, r1_gamma=1.0, **loss_options)
    module = G if name == "Gmain" else D
    module.requires_grad_(True)
    g = torch.Generator().manual_seed(5)
    n, res = 4, G.img_resolution
    real = (torch.rand(n, 3, 3, res, res, generator=g) * 2 - 1, torch.tensor([[0.0, 2.0, 5.0]] * n).double(), None)
    fake = (torch.randn(n, G.z_dim, generator=g), None, real[1] + 1.5, [MotionCodes(seed=i) for i in range(n)])
    loss, _ = loss_fn.phase_loss(Phase(name, "G" if name == "Gmain" else "D", 1, 1.0), real, fake)
    grads = torch.autograd.grad(loss, list(module.parameters()), allow_unused=True)
    module.requires_grad_(False)
    return loss.detach(), [torch.zeros(()) if x is None else x for x in grads]


@pytest.mark.parametrize("name", ["Gmain", "Dmain", "Dreg"])
def test_channels_last_training_equals_contiguous(name):
    """The loop trains in NHWC on a CPU: every phase's loss and gradients match the NCHW computation."""
    cfg = preset("tiny")
    torch.manual_seed(0)
    G, D = Generator(cfg.generator).train(), Discriminator(cfg.discriminator).train()
    G.requires_grad_(False), D.requires_grad_(False)
    loss_a, grads_a = phase_grads(G, D, name, channels_last=False)
    loss_b, grads_b = phase_grads(G, D, name, channels_last=True)
    assert abs(float(loss_a) - float(loss_b)) <= 1e-5 * (1 + abs(float(loss_a)))
    for a, b in zip(grads_a, grads_b):
        assert (a - b).abs().max() <= 1e-4 * (1 + a.abs().max())
