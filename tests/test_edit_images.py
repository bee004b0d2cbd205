"""Helpers the edit commands share: frames of latents at t, images side by side, keep masks."""

import numpy as np
import torch
from PIL import Image

import engine
from engine.edit.images import frames_at, keep_mask, side_by_side
from engine.latents import from_seed


def test_side_by_side_puts_black_gaps_between():
    a = np.full((2, 4, 3, 3), 200, dtype=np.uint8)
    out = side_by_side(a, gap=2)
    assert out.shape == (4, 3 + 2 + 3, 3)
    assert (out[:, 3:5] == 0).all() and (out[:, :3] == 200).all() and (out[:, 5:] == 200).all()
    assert side_by_side(a[:1]).shape == (4, 3, 3)


def test_frames_at_are_the_generators_frames():
    G = engine.build_generator("tiny", seed=0)
    lats = [from_seed(G, s, motion=s) for s in (1, 2)]
    got = frames_at(G, lats, t=3.5)
    with torch.no_grad():
        v = G.motion([lats[1].motion], [3.5])
        ref = engine.video.to_uint8(G.synthesis(lats[1].ws_batch(G.device), v)[0, 0])
    assert got.shape == (2, 32, 32, 3) and np.array_equal(got[1], ref)
    assert not np.array_equal(got[0], got[1])


def test_keep_mask_is_white_one(tmp_path):
    img = np.zeros((10, 20, 3), dtype=np.uint8)
    img[:, 10:] = 255  # right half white; a center crop keeps the middle 10 columns
    Image.fromarray(img).save(tmp_path / "m.png")
    m = keep_mask(tmp_path / "m.png", 10)
    assert m.shape == (10, 10) and m.dtype == np.float32
    assert m[:, :4].max() == 0.0 and m[:, 6:].min() == 1.0
