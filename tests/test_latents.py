"""engine.latents (.npz latents files) and engine.edit.directions."""

import warnings

import numpy as np
import pytest
import torch

import engine
from engine.edit.directions import Direction, load_direction, save_direction
from engine.latents import Latents, LatentsError, LatentsWarning, check_model, from_seed, load_latents, save_latents
from engine.motion_codes import MotionCodes


def _same(a: Latents, b: Latents) -> bool:
    return (
        torch.equal(a.ws, b.ws)
        and a.motion.same_motion(b.motion)
        and a.fingerprint == b.fingerprint
        and a.provenance == b.provenance
        and ((a.c is None and b.c is None) or torch.equal(a.c, b.c))
    )


def test_roundtrip_seed_noise_overrides_label(tmp_path, tiny_G):
    lat = from_seed(tiny_G, 4, motion=9)
    assert lat.provenance == {"source": "seed", "seed": 4, "psi": 1.0} and lat.ws.shape == (tiny_G.num_ws, 32)
    u = torch.randn(tiny_G.config.motion.v_dim)
    variants = [
        lat,
        lat.replace(motion=MotionCodes(seed=3).with_override(2, u).with_override(-1, -u)),
        lat.replace(motion=MotionCodes.from_noise(torch.randn(40, tiny_G.config.motion.z_dim)), c=torch.ones(3)),
        lat.replace(provenance={"source": "projection", "image": "ü.png", "nested": {"a": [1, 2]}}),
    ]
    for i, v in enumerate(variants):
        p = save_latents(tmp_path / f"l{i}.npz", v)
        assert _same(load_latents(p), v)
    assert sorted(x.name for x in tmp_path.iterdir()) == [f"l{i}.npz" for i in range(4)]  # no temp files
    with np.load(tmp_path / "l0.npz", allow_pickle=False) as data:  # plain arrays only
        assert str(data["format"]) == "sgv-studio.latents" and data["ws"].dtype == np.float32


def test_saved_latents_render_the_same_frames(tmp_path, tiny_G):
    lat = from_seed(tiny_G, 1, motion=2)
    back = load_latents(save_latents(tmp_path / "a.npz", lat), tiny_G)
    a = engine.Video(tiny_G, content=lat.ws_batch(), motion=lat.motion).frames([0.0, 7.5])
    b = engine.Video(tiny_G, content=back.ws_batch(), motion=back.motion).frames([0.0, 7.5])
    assert torch.equal(a, b)
    a_seed = engine.Video(tiny_G, content=1, motion=2).frames([0.0, 7.5])
    assert torch.equal(a, a_seed)  # same codes `sgv generate --seeds 1 --motion-seed 2` renders


def test_fingerprint_policy_and_shape_check(tmp_path, tiny_G):
    other = engine.build_generator("tiny", seed=1)
    p = save_latents(tmp_path / "a.npz", from_seed(tiny_G, 0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_latents(p, tiny_G)  # same model: silent
    with pytest.warns(LatentsWarning, match="made with model .* this model is"):
        load_latents(p, other)
    with pytest.raises(LatentsError, match="results will differ"):
        load_latents(p, other, on_mismatch="error")
    assert check_model(load_latents(p), other, on_mismatch="ignore") is None
    small = engine.build_generator("small", seed=0)
    with pytest.raises(LatentsError, match=r"content codes are \[\d+, 32\], this model needs"):
        load_latents(p, small, on_mismatch="ignore")


def test_bad_files_are_one_line(tmp_path):
    (tmp_path / "empty.npz").write_bytes(b"")
    (tmp_path / "garbage.npz").write_bytes(b"\x00garbage" * 10)
    np.save(tmp_path / "array.npy", np.zeros(3))
    np.savez(tmp_path / "foreign.npz", x=np.zeros(3))
    np.savez(tmp_path / "pickled.npz", format=np.array("sgv-studio.latents"), ws=np.array([{"a": 1}], dtype=object))
    good = Latents(ws=torch.zeros(4, 8))
    save_latents(tmp_path / "good.npz", good)
    with np.load(tmp_path / "good.npz") as d:
        arrays = dict(d)
    np.savez(tmp_path / "nan.npz", **{**arrays, "ws": np.full((4, 8), np.nan, np.float32)})
    np.savez(tmp_path / "newer.npz", **{**arrays, "format_version": np.array(99)})
    np.savez(tmp_path / "nomotion.npz", **{k: v for k, v in arrays.items() if k != "motion_seed"})
    for name in [
        "missing.npz",
        "empty.npz",
        "garbage.npz",
        "array.npy",
        "foreign.npz",
        "pickled.npz",
        "nan.npz",
        "newer.npz",
        "nomotion.npz",
    ]:
        with pytest.raises(LatentsError) as err:
            load_latents(tmp_path / name)
        msg = str(err.value)
        assert msg.startswith(str(tmp_path / name)) and "\n" not in msg, msg
    with pytest.raises(LatentsError, match="end in .npz"):
        save_latents(tmp_path / "x.pt", good)


def test_failed_save_keeps_previous_file(tmp_path, monkeypatch):
    p = save_latents(tmp_path / "a.npz", Latents(ws=torch.zeros(4, 8)))
    before = p.read_bytes()

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(KeyboardInterrupt):
        save_latents(p, Latents(ws=torch.ones(4, 8)))
    assert p.read_bytes() == before and [x.name for x in tmp_path.iterdir()] == ["a.npz"]


def test_direction_between_apply_and_file(tmp_path, tiny_G):
    a = from_seed(tiny_G, 0, motion=5)
    b = a.replace(ws=a.ws + 0.5, provenance={"source": "edit", "prompt": "red"})
    d = Direction.between(a, b)
    assert d.name == "red" and torch.allclose(d.apply(a, 1.0).ws, b.ws)
    assert torch.equal(d.apply(a, 0.0).ws, a.ws) and torch.allclose(d.apply(a, -1.0).ws, a.ws - 0.5)
    applied = d.apply(a, 2.0)
    assert applied.motion is a.motion and applied.provenance["strength"] == 2.0
    back = load_direction(save_direction(tmp_path / "d.npz", d))
    assert torch.equal(back.delta, d.delta) and back.name == "red" and back.fingerprint == d.fingerprint
    with pytest.raises(LatentsError, match="not an sgv-studio direction"):
        load_direction(save_latents(tmp_path / "l.npz", a))
    with pytest.raises(LatentsError, match="direction 'red' is"):
        d.apply(Latents(ws=torch.zeros(2, 2)))
