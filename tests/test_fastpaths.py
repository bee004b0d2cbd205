"""Fast paths (channels_last, bf16, fp16) against the fp32 reference on random inputs."""

import pytest
import torch

import engine
from engine.motion_codes import MotionCodes


@pytest.fixture(scope="module")
def small_inputs():
    G = engine.build_generator("tiny", seed=3)
    # Non-trivial weights: random biases so every term of every layer matters.
    with torch.no_grad():
        for name, p in G.named_parameters():
            if name.endswith("bias"):
                p.add_(0.1 * torch.randn_like(p))
    ws = G.mapping(torch.randn(2, G.z_dim), None)
    v = G.motion([MotionCodes(seed=1), MotionCodes(seed=2)], [0.0, 3.5, 1e6])
    return G, ws, v, G.synthesis(ws, v)


def missing_backend(dtype: torch.dtype) -> str | None:
    """Why this torch build cannot run the synthesis' ops in `dtype` on the CPU (None: it can). Only a missing
    kernel ("... not implemented for 'Half'") is a reason to skip; any other error is a failure."""
    x, w = torch.ones(2, 4, 6, 6, dtype=dtype), torch.ones(4, 2, 3, 3, dtype=dtype)
    try:
        torch.nn.functional.conv2d(x, w, groups=2)  # the grouped modulated conv
        torch.nn.functional.conv_transpose2d(x, w, stride=2, groups=2)  # the up-sampling conv
    except (RuntimeError, NotImplementedError) as e:
        if "not implemented" in str(e).lower():
            return str(e)
        raise
    return None


def test_channels_last_matches_reference(small_inputs):
    G, ws, v, ref = small_inputs
    out = G.synthesis(ws, v, channels_last=True)
    assert (out - ref).abs().max() <= 1e-4


@pytest.mark.parametrize("precision,mean_tol,max_tol", [("bf16", 0.03, 0.25), ("fp16", 0.004, 0.04)])
@pytest.mark.parametrize("channels_last", [False, True])
def test_reduced_precision_close_to_reference(small_inputs, precision, mean_tol, max_tol, channels_last):
    G, ws, v, ref = small_inputs
    reason = missing_backend({"bf16": torch.bfloat16, "fp16": torch.float16}[precision])
    if reason:  # fp16 convs are missing from some CPU builds
        pytest.skip(f"{precision} kernels missing from this torch build: {reason}")
    out = G.synthesis(ws, v, precision=precision, channels_last=channels_last)
    assert out.dtype == torch.float32
    err = (out - ref).abs()
    assert err.mean() <= mean_tol and err.max() <= max_tol, (float(err.mean()), float(err.max()))


def test_discriminator_reduced_precision(small_inputs):
    D = engine.Discriminator(engine.preset("tiny").discriminator).eval()
    img = torch.randn(4, 3, 3, 32, 32)
    t = torch.tensor([[0.0, 1, 3], [0, 4, 8], [2, 10, 34], [5, 6, 7]])
    ref = D(img, t)
    assert (D(img, t, precision="bf16") - ref).abs().max() < 0.1 * ref.abs().max() + 0.05
