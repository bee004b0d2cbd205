"""Video-consistent ADA augmentation (engine/train/augment.py): one transform per clip, exact blits,
accurate filtered geometry, ADA's colour ops, gradients (incl. R1's double backward), determinism."""

from __future__ import annotations

import math

import pytest
import torch

from engine.train.augment import (
    OPS,
    SYM6,
    AugmentPipe,
    _rotate,
    _scale,
    _translate,
    _warp,
    adjust_p,
    bgc,
)

BLIT = ("xflip", "rotate90", "xint")
GEOMETRY = (*BLIT, "scale", "rotate", "aniso", "xfrac")
COLOUR = ("brightness", "contrast", "lumaflip", "hue", "saturation")


def only(*names: str, p: float = 1.0, **strengths) -> AugmentPipe:
    return AugmentPipe(**{op: (1 if op in names else 0) for op in OPS}, p=p, **strengths)


def clips(n=4, t=3, c=3, res=16, seed=0) -> torch.Tensor:
    return torch.rand(n, t, c, res, res, generator=torch.Generator().manual_seed(seed)) * 2 - 1  # [N, T, C, H, W]


def seeded(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_p_zero_returns_input_itself():
    x = clips()
    assert bgc()(x) is x  # p starts at 0, as ADA's does
    pipe = bgc()
    pipe.p.fill_(0.0)
    assert pipe(x, generator=seeded()) is x


def test_p_one_changes_every_clip_and_keeps_shape_and_dtype():
    x = clips(n=6)
    pipe = bgc()
    pipe.p.fill_(1.0)
    y = pipe(x, generator=seeded())
    assert y.shape == x.shape and y.dtype == x.dtype and torch.isfinite(y).all()
    assert ((y - x).abs().flatten(1).amax(1) > 0.05).all()


def test_identical_frames_stay_identical():
    frame = clips(n=5, t=1)
    x = frame.expand(5, 4, 3, 16, 16).contiguous()
    y = bgc(p=1.0)(x, generator=seeded(3))
    assert torch.equal(y, y[:, :1].expand_as(y))


def test_clip_transform_equals_each_frame_alone_with_the_same_draw():
    x = clips(n=5, t=3, res=24)
    pipe = bgc(p=0.7)
    y = pipe(x, generator=seeded(11))
    for t in range(x.shape[1]):
        alone = pipe(x[:, t : t + 1], generator=seeded(11))[:, 0]
        torch.testing.assert_close(y[:, t], alone, atol=2e-5, rtol=0)


def test_clips_get_independent_draws():
    x = clips(n=1).expand(8, 3, 3, 16, 16).contiguous()
    y = bgc(p=1.0)(x, generator=seeded())
    for a in range(8):
        for b in range(a + 1, 8):
            assert not torch.allclose(y[a], y[b], atol=1e-3), (a, b)


def test_generator_makes_it_deterministic():
    x = clips()
    pipe = bgc(p=0.5)
    torch.testing.assert_close(pipe(x, generator=seeded(5)), pipe(x, generator=seeded(5)), atol=0, rtol=0)
    assert not torch.allclose(pipe(x, generator=seeded(5)), pipe(x, generator=seeded(6)))
    torch.manual_seed(1)  # no generator: the global CPU generator
    first = pipe(x)
    torch.manual_seed(1)
    torch.testing.assert_close(pipe(x), first, atol=0, rtol=0)


def test_full_pipeline_is_colour_after_geometry_with_the_same_draws():
    x = clips(n=6, res=20)
    full = bgc(p=0.6)(x, generator=seeded(2))
    geometry = only(*GEOMETRY, p=0.6)(x, generator=seeded(2))
    colour_after = only(*COLOUR, p=0.6)(geometry, generator=seeded(2))
    torch.testing.assert_close(full, colour_after, atol=1e-5, rtol=0)
    assert not torch.allclose(geometry, x) and not torch.allclose(colour_after, geometry)


def test_geometry_only_keeps_a_flat_colour():
    x = torch.tensor([0.3, -0.5, 0.8]).reshape(1, 1, 3, 1, 1).expand(6, 2, 3, 20, 20).contiguous()
    y = only(*GEOMETRY)(x, generator=seeded())
    torch.testing.assert_close(y, x, atol=1e-5, rtol=0)


def test_blits_are_exact_pixel_permutations():
    x = clips(n=16, res=16)
    flips = only("xflip")(x, generator=seeded())
    flipped = [torch.equal(f, c.flip(-1)) for f, c in zip(flips, x)]
    unchanged = [torch.equal(f, c) for f, c in zip(flips, x)]
    assert all(a or b for a, b in zip(flipped, unchanged)) and any(flipped) and any(unchanged)
    turns = only("rotate90")(x, generator=seeded())
    for r, c in zip(turns, x):
        assert any(torch.equal(r, c.rot90(k, (-2, -1))) for k in range(4))
    shifted = only("xint")(x, generator=seeded())  # whole-pixel shifts of at most 0.125 · 16 = 2, mirrored
    padded = torch.nn.functional.pad(x.flatten(0, 1), [2, 2, 2, 2], mode="reflect").unflatten(0, x.shape[:2])
    candidates = [padded[..., 2 - dy : 18 - dy, 2 - dx : 18 - dx] for dy in range(-2, 3) for dx in range(-2, 3)]
    for n in range(len(x)):
        assert any(torch.equal(shifted[n], cand[n]) for cand in candidates)
    assert not torch.equal(shifted, x)


def test_symlet_filter_is_orthonormal():
    h = torch.tensor(SYM6, dtype=torch.float64)
    for shift in range(len(h) // 2):
        dot = float((h[: len(h) - 2 * shift] * h[2 * shift :]).sum())
        assert dot == pytest.approx(1.0 if shift == 0 else 0.0, abs=1e-9)
    assert float(h.sum()) == pytest.approx(math.sqrt(2), abs=1e-12)


def _ramp(res: int, n: int = 1) -> torch.Tensor:
    """A linear image (centred pixel coordinates), which every resampling step here must reproduce."""
    c = torch.arange(res, dtype=torch.float32) - (res - 1) / 2
    img = 0.03 * c[None, :] - 0.02 * c[:, None]  # [H, W]: 0.03·x − 0.02·y
    return img.expand(n, 1, 1, res, res).contiguous()


def test_filtered_resampling_is_accurate():
    lowpass = torch.tensor(SYM6) / math.sqrt(2)
    x = clips(n=2, t=2, res=20)
    eye = torch.eye(3, dtype=torch.float64).repeat(2, 1, 1)
    torch.testing.assert_close(_warp(x, eye, lowpass), x, atol=5e-5, rtol=0)  # up∘down is the identity
    # Zoom in 1.6×, rotate 30°, shift (0.3, −0.7) px: output pixel q shows input point A⁻¹q.
    res, one = 24, torch.ones(1, dtype=torch.float64)
    forward = _translate(0.3 * one, -0.7 * one) @ _rotate(math.radians(30) * one) @ _scale(1.6 * one, 1.6 * one)
    inverse = torch.linalg.inv(forward)
    y = _warp(_ramp(res), inverse, lowpass)[0, 0, 0]
    c = torch.arange(res, dtype=torch.float64) - (res - 1) / 2
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    src = inverse[0] @ torch.stack([xx.flatten(), yy.flatten(), torch.ones(res * res, dtype=torch.float64)])
    expected = (0.03 * src[0] - 0.02 * src[1]).reshape(res, res).float()
    inner = (src[:2].abs().amax(0) < (res - 1) / 2 - 4).reshape(res, res)  # away from the mirrored borders
    assert inner.sum() > 100
    torch.testing.assert_close(y[inner], expected[inner], atol=1e-4, rtol=0)
    # A quarter turn through the filtered path matches the exact one away from the borders.
    quarter = _rotate(math.pi / 2 * one)
    smooth = torch.sin(torch.linspace(0, 3, res))[None, :] * torch.cos(torch.linspace(-1, 2, res))[:, None]
    smooth = smooth.expand(1, 1, 1, res, res).contiguous()
    turned = _warp(smooth, quarter, lowpass)[..., 4:-4, 4:-4]
    error = min(float((turned - smooth.rot90(k, (-2, -1))[..., 4:-4, 4:-4]).abs().max()) for k in (1, 3))
    assert error < 2e-3


def test_dense_and_convolution_filtering_agree(monkeypatch):
    import engine.train.augment as augment

    x = clips(n=3, t=2, res=20)
    one = torch.ones(3, dtype=torch.float64)
    inverse = _rotate(torch.tensor([0.4, -2.0, 1.0], dtype=torch.float64)) @ _scale(0.7 * one, 1.2 * one)
    lowpass = torch.tensor(SYM6) / math.sqrt(2)
    dense = _warp(x, inverse, lowpass)
    monkeypatch.setattr(augment, "_DENSE_MAX", 0)  # what frames larger than 256 px (padded) take
    torch.testing.assert_close(_warp(x, inverse, lowpass), dense, atol=1e-5, rtol=0)


def test_colour_ops_do_what_ada_says():
    x = clips(n=8, res=8)
    luma = x.mean(2)
    shift = only("brightness")(x, generator=seeded()) - x  # one added constant per clip
    per_clip = shift.flatten(1)
    torch.testing.assert_close(per_clip, per_clip[:, :1].expand_as(per_clip), atol=1e-5, rtol=0)
    assert per_clip[:, 0].unique().numel() == 8
    ratio = only("contrast")(x, generator=seeded()).flatten(1) / x.flatten(1)
    torch.testing.assert_close(ratio, ratio[:, :1].expand_as(ratio), atol=1e-3, rtol=1e-3)
    for op in ("hue", "saturation"):  # both act orthogonally to the luma axis
        torch.testing.assert_close(only(op)(x, generator=seeded()).mean(2), luma, atol=1e-5, rtol=0)
    flipped = only("lumaflip")(x, generator=seeded())
    for f, c in zip(flipped, x):
        negated = torch.allclose(f.mean(1), -c.mean(1), atol=1e-5)
        chroma_kept = torch.allclose(f - f.mean(1, keepdim=True), c - c.mean(1, keepdim=True), atol=1e-5)
        assert torch.equal(f, c) or (negated and chroma_kept)


def test_gradients_reach_x_including_r1_double_backward():
    x = clips(n=3, res=16).requires_grad_(True)
    pipe = bgc(p=0.8)
    y = pipe(x, generator=seeded())
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    # R1 as the training loss computes it: the gradient w.r.t. the un-augmented reals, then backward into D.
    conv = torch.nn.Conv2d(9, 4, 3)
    real = clips(n=3, res=16).requires_grad_(True)
    logits = conv(pipe(real, generator=seeded()).flatten(1, 2)).mean((1, 2, 3))
    (grad,) = torch.autograd.grad(logits.sum(), real, create_graph=True)
    grad.square().sum().backward()
    assert conv.weight.grad is not None and torch.isfinite(conv.weight.grad).all() and conv.weight.grad.abs().sum() > 0


def test_autocast_and_half_inputs_keep_their_dtype():
    x = clips(n=2, res=16)
    pipe = bgc(p=1.0)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = pipe(x, generator=seeded())
    assert y.dtype == torch.float32
    torch.testing.assert_close(y, pipe(x, generator=seeded()), atol=0, rtol=0)  # runs in float32 regardless
    assert pipe(x.bfloat16(), generator=seeded()).dtype == torch.bfloat16


def test_greyscale_clips_and_non_square_frames():
    g = bgc(p=1.0)(clips(n=3, c=1, res=16), generator=seeded())
    assert g.shape == (3, 3, 1, 16, 16) and torch.isfinite(g).all()
    x = torch.rand(3, 2, 3, 12, 20) * 2 - 1
    y = bgc(p=1.0)(x, generator=seeded())
    assert y.shape == x.shape and torch.isfinite(y).all()


def test_construction_state_and_errors():
    pipe = bgc(hue=0, p=0.25, scale_std=0.1)
    assert pipe.multipliers["hue"] == 0 and pipe.multipliers["xflip"] == 1 and pipe.strengths["scale_std"] == 0.1
    state = pipe.state_dict()
    assert set(state) == {"p"} and float(state["p"]) == 0.25
    other = bgc()
    other.load_state_dict(state)
    assert float(other.p) == 0.25 and "p=0.2500" in repr(other)
    with pytest.raises(TypeError, match="scale_sdt"):
        AugmentPipe(scale_sdt=0.1)
    with pytest.raises(ValueError, match="N, T"):
        bgc(p=1.0)(torch.zeros(2, 3, 16, 16))


def test_adjust_p_math_and_clamping():
    step = 64 * 4 / (500 * 1000)
    assert adjust_p(0.5, rt=0.7, target=0.6, batch_images=64, interval_images=4) == pytest.approx(0.5 + step)
    assert adjust_p(0.5, rt=0.2, target=0.6, batch_images=64, interval_images=4) == pytest.approx(0.5 - step)
    assert adjust_p(0.5, rt=0.6, target=0.6, batch_images=64, interval_images=4) == 0.5
    assert adjust_p(0.3, 0.9, 0.6, 64, 4, speed_kimg=100) == pytest.approx(0.3 + 64 * 4 / 100_000)
    assert adjust_p(0.0, rt=0.1, target=0.6, batch_images=64, interval_images=4) == 0.0
    assert adjust_p(0.9999, rt=1.0, target=0.6, batch_images=64, interval_images=4) == 1.0
