"""The fast modulated convolution (engine.nets.fastpaths) equals the plain reference (engine.nets.ops)."""

import pytest
import torch

from engine.nets import fastpaths, ops


@pytest.mark.parametrize("videos,frames", [(1, 3), (3, 2)])  # one video: fused weight; several: scaled activations
@pytest.mark.parametrize("up", [1, 2])
@pytest.mark.parametrize("demodulate,act", [(True, "lrelu"), (False, "linear")])
def test_fast_modulated_conv_equals_reference(videos, frames, up, demodulate, act):
    g = torch.Generator().manual_seed(videos * 10 + up)
    in_ch, out_ch, k, res = 5, 4, 3 if demodulate else 1, 8
    x = torch.randn(videos * frames, in_ch, res, res, generator=g)
    weight = torch.randn(out_ch, in_ch, k, k, generator=g)
    styles = torch.randn(videos, in_ch, generator=g) + 1
    bias = torch.randn(out_ch, generator=g)
    f = ops.setup_filter([1, 3, 3, 1])
    pad = k // 2
    ref = ops.bias_act(
        ops.modulated_conv2d(x, weight, styles, up=up, padding=pad, resample_filter=f, demodulate=demodulate),
        bias,
        act=act,
        clamp=2.0,
    )
    fast = fastpaths.modulated_conv2d(
        x, weight, styles, up=up, padding=pad, resample_filter=f, demodulate=demodulate, bias=bias, act=act, clamp=2.0
    )
    assert fast.shape == ref.shape == (videos * frames, out_ch, res * up, res * up)
    assert (fast - ref).abs().max() <= 1e-4


def test_derived_tensor_cache_follows_in_place_edits():
    layer = torch.nn.Module()
    layer.weight = torch.nn.Parameter(torch.randn(4, 3, 3, 3))
    with torch.no_grad():
        first = fastpaths.weight_sq(layer)
        assert fastpaths.weight_sq(layer) is first  # cached while unchanged
        layer.weight.mul_(2)  # an optimizer step or load_state_dict edits in place: the version changes
        second = fastpaths.weight_sq(layer)
    assert torch.allclose(second, 4 * first)
    assert fastpaths.weight_sq(layer) is None  # autograd needs the weight: never cached
