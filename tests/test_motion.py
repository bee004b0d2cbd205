"""Motion: random access, continuity, exactness at large t, overrides, explicit noise."""

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import engine
from engine.motion_codes import MotionCodes, noise_code


def test_noise_is_counter_based():
    a = noise_code(7, 123456789, 16)
    assert np.array_equal(a, noise_code(7, 123456789, 16))
    assert not np.array_equal(a, noise_code(7, 123456790, 16))
    assert not np.array_equal(a, noise_code(8, 123456789, 16))
    m = MotionCodes(seed=7)
    win = m.noise_window(123456780, 20, 16).numpy()
    assert np.array_equal(win[9], a)
    assert abs(float(m.noise_window(0, 2000, 16).std()) - 1) < 0.05


@pytest.mark.parametrize("t_max", [40.0, 1e4, 1e7])
def test_frame_alone_equals_frame_in_batch(tiny_G, t_max):
    rng = np.random.default_rng(0)
    ts = np.concatenate([[t_max, t_max - 0.5, 0.0, 15.999, 16.0], rng.uniform(0, t_max, 27)])
    long_batch = engine.Video(tiny_G, content=1, motion=5, batch_size=32).frames(ts)
    reversed_chunks = engine.Video(tiny_G, content=1, motion=5, batch_size=3).frames(ts[::-1].copy()).flip(0)
    for i in [0, 1, 3, 4, 17]:
        alone = engine.Video(tiny_G, content=1, motion=5, batch_size=1).frame(float(ts[i]))
        assert (alone - long_batch[i]).abs().max() <= 1e-5
    assert (reversed_chunks - long_batch).abs().max() <= 1e-5


@pytest.mark.parametrize("anchor", [1, 3, 62500, 625000])
def test_no_seams_at_anchor_boundaries(tiny_G, anchor):
    G = tiny_G
    t0 = anchor * G.delta_z
    m = MotionCodes(seed=3)
    diffs = []
    for eps in [1e-2, 1e-4, 1e-6]:
        v = G.motion(m, [t0 - eps, t0, t0 + eps])[0]
        diffs.append(max(float((v[0] - v[1]).abs().max()), float((v[2] - v[1]).abs().max())))
    assert diffs[0] < 0.05 and diffs[1] < 5e-4 and diffs[2] < 1e-5, diffs
    video = engine.Video(G, content=0, motion=m)
    f = video.frames([t0 - 1e-6, t0, t0 + 1e-6])
    assert (f[0] - f[1]).abs().max() < 1e-4 and (f[2] - f[1]).abs().max() < 1e-4


def _reference_v(G, window: np.ndarray, first: int, ts: np.ndarray) -> np.ndarray:
    """Independent float64 evaluation of docs/model.md §4-§5 from the raw weights.

    `window` holds the noise codes of positions first, first+1, ...; times are absolute.
    """
    sd = {k: v.detach().double().numpy() for k, v in G.state_dict().items()}
    p = "synthesis.motion_encoder."
    cfg = G.config.motion
    k = cfg.kernel_size

    def eqlr_conv(x, name):  # x [C, L]; equalised LR with lr_mult 0.01, plain leaky ReLU
        w = sd[p + name + ".weight"] * (0.01 / math.sqrt(x.shape[0] * k))
        b = sd[p + name + ".bias"] * 0.01
        y = F.conv1d(torch.from_numpy(x)[None], torch.from_numpy(w), torch.from_numpy(b))[0].numpy()
        return np.where(y >= 0, y, 0.2 * y)

    traj = eqlr_conv(eqlr_conv(window.T.astype(np.float64), "conv.0"), "conv.1").T  # [anchors, V]
    freqs = sd[p + "time_encoder.freqs"][0]
    D = freqs.size
    # The stored float32 buffers are the formula rounded to float32, as upstream builds them.
    lo, hi = np.log2(cfg.min_period), np.log2(cfg.max_period)
    exact = 2 * np.pi / 2 ** (hi - np.arange(D) * (hi - lo) / (D - 1))
    assert np.allclose(freqs, exact, rtol=1e-6)
    scales = sd[p + "time_encoder.phase_scales"][0]
    assert np.allclose(scales, cfg.max_period * exact / (2 * np.pi), rtol=1e-6)
    V = traj.shape[1]
    P = sd[p + "time_encoder.periods_predictor.weight"] / math.sqrt(V)
    Phi = sd[p + "time_encoder.phase_predictor.weight"] / math.sqrt(V)
    A = sd[p + "time_encoder.aligners_predictor.weight"] / math.sqrt(V)
    out = []
    for t in ts:
        i = int(math.floor(t / cfg.delta_z))
        alpha = (t % cfg.delta_z) / cfg.delta_z
        tl = t - (t % cfg.delta_z)
        uL, uR = traj[i - first], traj[i + 1 - first]
        a, phi = np.tanh(P @ uL) + 1, Phi @ uL

        def pe(tau, a=a, phi=phi):
            raw = freqs * a * tau + phi * scales
            return np.concatenate([np.sin(raw), np.cos(raw)])

        out.append(
            pe(t) - ((1 - alpha) * pe(tl) + alpha * pe(tl + cfg.delta_z)) + (1 - alpha) * (A @ uL) + alpha * (A @ uR)
        )
    return np.stack(out)


def test_motion_code_matches_float64_formulas_for_explicit_noise(tiny_G):
    G = tiny_G
    ts = np.array([0.0, 0.5, 15.999, 16.0, 37.25, 1000.0, 9999.5])
    length = int(ts.max() // G.delta_z) + G.config.motion.context + 1
    noise = np.random.default_rng(0).standard_normal((length, G.config.motion.z_dim)).astype(np.float32)
    ours = G.motion(MotionCodes.from_noise(torch.from_numpy(noise)), ts)[0].numpy()
    ref = _reference_v(G, noise, 0, ts)
    assert np.abs(ours - ref).max() < 2e-6


@pytest.mark.parametrize("t", [1e6 + 0.25, 1e7 - 0.75, 12345678.9])
def test_motion_code_at_large_t_is_as_exact_as_at_zero(tiny_G, t):
    G = tiny_G
    m = MotionCodes(seed=11)
    first = int(math.floor(t / G.delta_z))
    window = m.noise_window(first, G.config.motion.context + 1, G.config.motion.z_dim).numpy()
    ours = G.motion(m, [t])[0].numpy()
    assert np.abs(ours - _reference_v(G, window, first, np.array([t]))).max() < 2e-6


def test_override_changes_only_the_affected_time_range(tiny_G):
    G = tiny_G
    m = MotionCodes(seed=2)
    anchor = 5
    u = G.synthesis.motion_encoder.anchor_codes([m], anchor, 1)[0, 0]
    edited = m.with_override(anchor, u + 0.5 * torch.randn_like(u))
    lo, hi = G.synthesis.motion_encoder.affected_time_range(anchor)
    assert (lo, hi) == (64.0, 96.0)
    ts = np.arange(40.0, 120.0, 0.5)
    before = engine.Video(G, content=0, motion=m).frames(ts)
    after = engine.Video(G, content=0, motion=edited).frames(ts)
    changed = (before - after).abs().amax(dim=(1, 2, 3)) > 1e-6
    inside = (ts > lo) & (ts < hi)
    assert changed.numpy().tolist() == inside.tolist()
    assert edited.without_override(anchor).same_motion(m)


def test_negative_time_and_explicit_noise_bounds(tiny_G):
    G = tiny_G
    v = G.motion(MotionCodes(seed=0), [-100.5, -0.25, 0.0])
    assert torch.isfinite(v).all()
    m = MotionCodes.from_noise(torch.randn(1, 30, G.config.motion.z_dim))
    G.motion(m, [0.0, 15.0])  # anchors 0, 1 need positions 0..21
    with pytest.raises(ValueError, match="explicit motion noise"):
        G.motion(m, [200.0])
    with pytest.raises(ValueError, match="explicit motion noise"):
        G.motion(m, [-1.0])


def test_frames_are_deterministic_across_processes(tiny_model_file, tmp_path):
    script = textwrap.dedent(f"""
        import numpy as np, torch, engine
        torch.set_num_threads(2)
        G = engine.load_generator({str(tiny_model_file)!r}, device="cpu")
        x = engine.Video(G, content=4, motion=9).frames([0.0, 3.7, 1e6 + 0.5])
        np.save({str(tmp_path / "a.npy")!r}, x.numpy())
    """)
    for name in ["a", "b"]:
        subprocess.run([sys.executable, "-c", script.replace("a.npy", f"{name}.npy")], check=True)
    a, b = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    assert np.array_equal(a, b)
    here = engine.Video(engine.load_generator(tiny_model_file, device="cpu"), content=4, motion=9)
    assert np.abs(here.frames([0.0, 3.7, 1e6 + 0.5]).numpy() - a).max() <= 1e-6
