"""fsd2048 (Fréchet distance in the committed synthetic-data feature space) and the frame statistics of
bench/quality.py: the ground truth, the file format, the metric end to end on a tiny model and tiny data,
that it separates real from a wrong generator, and bad inputs as one line."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from engine.data import synth_video, write_synthetic_dataset
from engine.data.synth import SHAPE_KINDS, make_scene
from engine.metrics import METRICS, FeatureStats, MetricError, calc, frechet_distance, load_detector
from engine.metrics.frame_stats import compare, edge_strength
from engine.metrics.synth_features import (
    BUNDLED_FEATURES,
    SynthFeatureNet,
    SynthFeaturesConfig,
    frame_targets,
    load_features,
    save_features,
)

needs_features = pytest.mark.skipif(not BUNDLED_FEATURES.exists(), reason="committed feature network not present")


def test_targets_are_the_scene_ground_truth():
    seed = (0, 3)
    scene = make_scene(seed)
    y = frame_targets(seed, np.array([0.0, 10.0, 200.0]))
    cfg = SynthFeaturesConfig()
    assert y.shape == (3, cfg.num_targets) and y.dtype == np.float32
    k = len(SHAPE_KINDS)
    for j, kind in enumerate(SHAPE_KINDS):  # counts / 2 per kind, the same at every t
        assert np.all(y[:, j] == 0.5 * sum(s.kind == kind for s in scene.shapes))
    assert y[0, 2 * k] == (1.0 if scene.stripes > 0 else 0.0)
    np.testing.assert_allclose(y[0, 2 * k + 1 : 2 * k + 4], scene.bg0, rtol=1e-6)
    assert not np.allclose(y[0, 2 * k + 7 :], y[2, 2 * k + 7 :])  # the position maps follow the motion


def test_file_round_trip_and_resizing(tmp_path):
    torch.manual_seed(0)
    net = SynthFeatureNet(SynthFeaturesConfig())
    path = tmp_path / "f.safetensors"
    save_features(net, path, {"note": "test"})
    assert path.with_suffix(".json").is_file()
    det = load_detector("synth", path)  # the metrics' loading path
    x = torch.from_numpy(synth_video(5, 3, 64)).permute(0, 3, 1, 2)
    np.testing.assert_allclose(det(x).numpy(), net(x).detach().numpy(), rtol=1e-5, atol=1e-6)
    small = torch.from_numpy(synth_video(5, 3, 16)).permute(0, 3, 1, 2)
    assert det(small).shape == (3, SynthFeaturesConfig().feature_dim)  # other sizes are resized to 64²


def test_bad_feature_files_are_one_line(tmp_path):
    with pytest.raises(MetricError, match="not found"):
        load_features(tmp_path / "missing.safetensors")
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file at all")
    with pytest.raises(MetricError, match="cannot read") as e:
        load_features(junk)
    assert "\n" not in str(e.value)
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other))
    with pytest.raises(MetricError, match="not a synthetic-data feature network"):
        load_features(other)


def _stats(det, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    s = FeatureStats()
    s.append(det(torch.from_numpy(frames.reshape(-1, *frames.shape[-3:])).permute(0, 3, 1, 2)))
    return s.mean_cov()


def _blur(frames: np.ndarray, k: int = 7) -> np.ndarray:
    """A soft generator's frames: the same scenes, box-blurred (k×k), as uint8."""
    x = torch.from_numpy(frames.reshape(-1, *frames.shape[-3:])).permute(0, 3, 1, 2).float()
    x = torch.nn.functional.avg_pool2d(x, k, stride=1, padding=k // 2, count_include_pad=False)
    return x.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy().reshape(frames.shape)


@needs_features
def test_fsd_separates_real_from_a_blurry_generator():
    """Two independent samples of the data are much closer than the data and blurred copies of held-out
    scenes (what the bundled model's soft shapes look like): same-sized samples and the same feature network
    on both sides, so the floor is measured, not assumed. (Washed-out colours are the frame statistics' job.)"""
    det = load_features()
    real = np.stack([synth_video((0, i), 8, 64, t0=4 * i) for i in range(48)])
    held = np.stack([synth_video((1, i), 8, 64, t0=4 * i) for i in range(48)])
    mu_r, sig_r = _stats(det, real)
    floor = frechet_distance(*_stats(det, held), mu_r, sig_r)
    blurry = frechet_distance(*_stats(det, _blur(held)), mu_r, sig_r)
    assert floor > 0 and blurry > 2 * floor, (floor, blurry)


def test_frame_statistics_see_blur_and_washed_out_colours():
    data = np.stack([synth_video((0, i), 4, 64) for i in range(32)])
    held = np.stack([synth_video((1, i), 4, 64) for i in range(32)])
    s = compare(data, held)  # another sample of the data passes the goals (palettes vary: at 16 scenes, ~1.25×)
    assert s.contrast_ok and s.edge_ok, s.as_dict()
    blurred = compare(data, _blur(held))
    assert blurred.edge_ratio < 0.7 and not blurred.edge_ok
    faded = compare(data, (held.astype(np.float32) - 128) * 0.5 + 128)
    assert all(r < 0.8 for r in faded.contrast_ratio) and not faded.contrast_ok
    assert edge_strength(np.zeros((2, 8, 8, 3))) == 0.0
    with pytest.raises(ValueError, match="H, W, 3"):
        compare(data, data[..., :2])


@needs_features
def test_fsd2048_end_to_end_on_a_tiny_model(tiny_G, tiny_model_file, tmp_path, capsys):
    assert METRICS["fsd2048"].num_fake * METRICS["fsd2048"].num_frames == 2048
    data = write_synthetic_dataset(tmp_path / "shapes", 4, 20, tiny_G.img_resolution, progress=False, workers=1)
    r = calc("fsd2048", tiny_G, data, num_videos=3, cache=False, batch_frames=32)
    assert r["num_fake"] == 3 and r["num_real"] == 80 and r["detector"]["kind"] == "synth"
    assert np.isfinite(r["results"]["fsd2048"]) and r["results"]["fsd2048"] > 0
    from engine.cli import main

    args = ["metrics", "--ckpt", str(tiny_model_file), "--data", str(data), "--metric", "fsd2048",
            "--num-videos", "3", "--no-cache", "--quiet", "--run-dir", str(tmp_path / "run")]  # fmt: skip
    assert main(args) == 0
    assert "fsd2048 = " in capsys.readouterr().err
    assert (tmp_path / "run" / "metric-fsd2048.jsonl").is_file()
    rc = main([*args, "--detector", str(tmp_path / "nope.safetensors")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("sgv: ") and "nope.safetensors" in err and len(err.splitlines()) == 1
