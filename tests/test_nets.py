"""Network structure: shapes per module, readable print(G), upstream parameter names and shapes."""

import torch

import engine
from engine.config import preset
from engine.motion_codes import MotionCodes
from engine.nets import Discriminator


def test_shapes_per_module(tiny_G):
    G = tiny_G
    z = torch.randn(3, G.z_dim)
    ws = G.mapping(z, None)
    assert ws.shape == (3, G.num_ws, G.w_dim) == (3, 8, 32)
    v = G.motion([MotionCodes(seed=s) for s in range(3)], [0.0, 7.5, 1e6])
    assert v.shape == (3, 3, G.motion_dim) == (3, 3, 32)
    assert v.dtype == torch.float32
    x = G.synthesis(ws, v)
    assert x.shape == (3, 3, 3, 32, 32)
    assert torch.isfinite(x).all()
    u = G.synthesis.motion_encoder.anchor_codes([MotionCodes(seed=0)], 5, 4)
    assert u.shape == (1, 4, G.config.motion.v_dim)


def test_truncation_moves_toward_w_avg(tiny_G):
    G = tiny_G
    z = torch.randn(2, G.z_dim)
    w1, w0 = G.mapping(z, None, psi=1.0), G.mapping(z, None, psi=0.0)
    assert torch.allclose(w0, G.mapping.w_avg.expand_as(w0))
    assert not torch.allclose(w1, w0)


def test_discriminator_shapes_and_time_conditioning():
    cfg = preset("tiny").discriminator
    D = Discriminator(cfg).eval()
    img = torch.randn(4, 3, 3, 32, 32)
    t = torch.tensor([[0.0, 1, 3], [0, 4, 8], [2, 10, 34], [5, 6, 7]])
    logits = D(img, t)
    assert logits.shape == (4,)
    # The same frames with other time gaps give other logits: Δt conditions D.
    assert not torch.allclose(logits, D(img, t * 2))


def test_print_is_readable(tiny_G):
    text = str(tiny_G)
    for needle in ["b4", "const+v -> 32 @ 4²", "modulated 3×3, up=2", "δz=16", "periods 16..1024", "num_ws=8"]:
        assert needle in text, needle


def test_conditional_model_shapes():
    cfg = preset("tiny", c_dim=3)
    G = engine.Generator(cfg.generator).eval()
    c = torch.eye(3)[[0, 2]]
    ws = G.mapping(torch.randn(2, G.z_dim), c)
    v = G.motion([MotionCodes(seed=0), MotionCodes(seed=1)], [0.0, 3.0], c)
    assert G.synthesis(ws, v).shape == (2, 2, 3, 32, 32)
    assert G.state_dict()["synthesis.motion_encoder.conv.0.weight"].shape == (32, 35, 11)
    assert G.state_dict()["mapping.fc0.weight"].shape == (32, 64)
    D = Discriminator(cfg.discriminator)
    assert D(torch.randn(2, 3, 3, 32, 32), torch.tensor([[0.0, 1, 2], [0, 2, 4]]), c).shape == (2,)


def _spec_paper256_G() -> dict[str, tuple]:
    """Upstream's G_ema names and shapes, written out: every G_ema parameter and buffer with its shape."""
    s = {
        "synthesis.motion_encoder.time_encoder.freqs": (1, 256),
        "synthesis.motion_encoder.time_encoder.phase_scales": (1, 256),
        "synthesis.motion_encoder.time_encoder.periods_predictor.weight": (256, 512),
        "synthesis.motion_encoder.time_encoder.phase_predictor.weight": (256, 512),
        "synthesis.motion_encoder.time_encoder.aligners_predictor.weight": (512, 512),
        "synthesis.motion_encoder.conv.0.weight": (512, 512, 11),
        "synthesis.motion_encoder.conv.0.bias": (512,),
        "synthesis.motion_encoder.conv.1.weight": (512, 512, 11),
        "synthesis.motion_encoder.conv.1.bias": (512,),
        "synthesis.b4.resample_filter": (4, 4),
        "synthesis.b4.input.input.const": (1, 512, 4, 4),
        "synthesis.b4.conv1.weight": (512, 1024, 3, 3),
        "synthesis.b4.conv1.bias": (512,),
        "synthesis.b4.conv1.resample_filter": (4, 4),
        "synthesis.b4.conv1.affine.weight": (1024, 512),
        "synthesis.b4.conv1.affine.bias": (1024,),
        "synthesis.b4.torgb.weight": (3, 512, 1, 1),
        "synthesis.b4.torgb.bias": (3,),
        "synthesis.b4.torgb.affine.weight": (512, 512),
        "synthesis.b4.torgb.affine.bias": (512,),
        "mapping.w_avg": (512,),
        "mapping.fc0.weight": (512, 512),
        "mapping.fc0.bias": (512,),
        "mapping.fc1.weight": (512, 512),
        "mapping.fc1.bias": (512,),
    }
    for r, cin, cout in [
        (8, 512, 512),
        (16, 512, 512),
        (32, 512, 512),
        (64, 512, 256),
        (128, 256, 128),
        (256, 128, 64),
    ]:
        b = f"synthesis.b{r}"
        s[f"{b}.resample_filter"] = (4, 4)
        s.update(
            {
                f"{b}.conv0.weight": (cout, cin, 3, 3),
                f"{b}.conv0.bias": (cout,),
                f"{b}.conv0.resample_filter": (4, 4),
                f"{b}.conv0.affine.weight": (cin, 512),
                f"{b}.conv0.affine.bias": (cin,),
            }
        )
        s.update(
            {
                f"{b}.conv1.weight": (cout, cout, 3, 3),
                f"{b}.conv1.bias": (cout,),
                f"{b}.conv1.resample_filter": (4, 4),
                f"{b}.conv1.affine.weight": (cout, 512),
                f"{b}.conv1.affine.bias": (cout,),
            }
        )
        s.update(
            {
                f"{b}.torgb.weight": (3, cout, 1, 1),
                f"{b}.torgb.bias": (3,),
                f"{b}.torgb.affine.weight": (cout, 512),
                f"{b}.torgb.affine.bias": (cout,),
            }
        )
    return s


def test_paper256_names_and_shapes_match_upstream_G_ema():
    with torch.device("meta"):
        G = engine.Generator(preset("paper256").generator)
    ours = {k: tuple(v.shape) for k, v in G.state_dict().items()}
    assert ours == _spec_paper256_G()
    n_params = sum(p.numel() for p in G.parameters())
    assert abs(n_params - 32.1e6) < 0.05e6, n_params
    assert G.num_ws == 14


def test_paper256_discriminator_matches_spec():
    with torch.device("meta"):
        D = Discriminator(preset("paper256").discriminator)
    sd = {k: tuple(v.shape) for k, v in D.state_dict().items()}
    expect = {
        "time_encoder.const_embed.weight": (1024, 256),
        "time_encoder.time_encoder.fourier_coefs": (1, 10),
        "b256.fromrgb.weight": (64, 3, 1, 1),
        "b256.conv0.weight": (64, 64, 3, 3),
        "b256.conv1.weight": (128, 64, 3, 3),
        "b256.skip.weight": (128, 64, 1, 1),
        "b32.conv0.weight": (512, 512, 3, 3),
        "b32.conv1.weight": (256, 512, 3, 3),
        "b32.skip.weight": (256, 512, 1, 1),
        "b16.conv0.weight": (512, 768, 3, 3),
        "b16.conv1.weight": (512, 512, 3, 3),
        "b16.skip.weight": (512, 768, 1, 1),
        "mapping.embed.weight": (512, 552),
        "mapping.fc0.weight": (512, 512),
        "mapping.fc1.weight": (512, 512),
        "b4.conv.weight": (512, 513, 3, 3),
        "b4.fc.weight": (512, 8192),
        "b4.out.weight": (512, 512),
        "b4.conv.resample_filter": (4, 4),
    }
    for k, shape in expect.items():
        assert sd[k] == shape, k
    assert "b256.skip.bias" not in sd
    n_params = sum(p.numel() for p in D.parameters())
    assert abs(n_params - 25.3e6) < 0.05e6, n_params
