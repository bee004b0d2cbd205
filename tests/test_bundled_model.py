"""The bundled model (assets/models/default.safetensors): it loads, renders real-looking video and its
frame statistics match the synthetic dataset it was trained on (assets/models/README.md)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import engine
from engine.checkpoint import BUNDLED_MODEL, model_info
from engine.data import synth_video
from engine.motion_codes import MotionCodes
from engine.video import content_z, to_uint8

pytestmark = pytest.mark.skipif(not BUNDLED_MODEL.exists(), reason="bundled model not present")

SEED, VIDEOS, FRAMES = 0, 16, 48  # `sgv dataset synth --seed 0`, first videos, first frames


@pytest.fixture(scope="module")
def G():
    return engine.load_generator()  # None = the bundled model


@pytest.fixture(scope="module")
def data_frames() -> np.ndarray:
    res = model_info(BUNDLED_MODEL)["config"]["synthesis"]["img_resolution"]
    return np.stack([synth_video((SEED, i), FRAMES, res) for i in range(VIDEOS)]).astype(np.float32)  # [V,F,R,R,3]


@pytest.fixture(scope="module")
def fake_frames(G) -> np.ndarray:
    z = torch.cat([content_z(s, G.z_dim) for s in range(VIDEOS)])
    with torch.no_grad():
        ws = G.mapping(z, None)
        v = G.motion([MotionCodes(seed=s) for s in range(VIDEOS)], torch.arange(FRAMES, dtype=torch.float64))
        return to_uint8(G.synthesis(ws, v)).astype(np.float32)  # [V, F, R, R, 3]


def test_it_is_small_and_native(G):
    assert BUNDLED_MODEL.stat().st_size <= 50 * 2**20
    assert G.img_resolution >= 64
    assert model_info(BUNDLED_MODEL)["provenance"]["trained_by"] == "sgv train"


def test_colour_statistics_match_the_data(data_frames, fake_frames):
    data_mean, fake_mean = data_frames.mean(axis=(0, 1, 2, 3)), fake_frames.mean(axis=(0, 1, 2, 3))
    data_std, fake_std = data_frames.std(axis=(0, 1, 2, 3)), fake_frames.std(axis=(0, 1, 2, 3))
    assert np.all(np.abs(fake_mean - data_mean) <= 25), (fake_mean, data_mean)  # of 255, per channel
    assert np.all((fake_std >= 0.5 * data_std) & (fake_std <= 2.0 * data_std)), (fake_std, data_std)


def test_motion_magnitude_matches_the_data(data_frames, fake_frames):
    def step(x, gap):
        return np.abs(x[:, gap:] - x[:, :-gap]).mean()

    for gap in (1, 8):
        ratio = step(fake_frames, gap) / step(data_frames, gap)
        assert 0.5 <= ratio <= 2.0, (gap, ratio)


def test_far_future_frames_look_like_early_ones(G):
    """Frames at t = 10^5 have the statistics of frames at t = 0..48 (no drift, no collapse)."""
    video = engine.Video(G, content=3, motion=7)
    early = np.stack([video.frame(t).numpy() for t in np.linspace(0, 48, 8)])
    late = np.stack([video.frame(1e5 + t).numpy() for t in np.linspace(0, 48, 8)])
    assert abs(early.mean() - late.mean()) < 0.15 and 0.6 < late.std() / early.std() < 1.6
