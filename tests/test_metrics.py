"""Metrics: Fréchet distance vs closed forms, the StyleGAN-V protocol, end to end on tiny TorchScript detectors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import engine
import engine.metrics
from engine.errors import SgvError
from engine.metrics import METRICS, FeatureStats, calc, frechet_distance, load_detector, read_jsonl
from engine.metrics import fid as fid_stats
from engine.metrics.fakes import render_fake_videos
from engine.metrics.fvd import real_clips
from engine.metrics.protocol import clip_offset, eligible_videos, fake_draw, fake_times, quantize
from engine.motion_codes import MotionCodes
from engine.video import to_uint8

RES = 32  # the tiny preset's resolution

# ----------------------------------------------------------------------------------------------------
# Tiny detectors with the real files' signatures (uint8 in, features out), scripted and saved as .pt


class TinyI3D(torch.nn.Module):
    """Same call contract as i3d_torchscript.pt: uint8 [N, 3, T, H, W], rescale/resize/return_features."""

    def __init__(self, dim: int = 8):
        super().__init__()
        self.conv = torch.nn.Conv3d(3, 12, kernel_size=(3, 4, 4), stride=(1, 4, 4))
        self.fc = torch.nn.Linear(24, dim)

    def forward(
        self, x: torch.Tensor, rescale: bool = False, resize: bool = False, return_features: bool = False
    ) -> torch.Tensor:
        if x.dtype != torch.uint8 or x.dim() != 5 or x.shape[1] != 3:
            raise RuntimeError("expected uint8 [N, 3, T, H, W]")
        if not (rescale and resize and return_features):
            raise RuntimeError("FVD calls the I3D file with rescale=True, resize=True, return_features=True")
        h = x.float() * (2.0 / 255.0) - 1.0
        h = F.interpolate(h, size=(x.shape[2], 24, 24), mode="trilinear", align_corners=False)
        h = torch.relu(self.conv(h))  # [N, 12, T', 6, 6]
        motion = (h[:, :, 1:] - h[:, :, :-1]).abs().mean(dim=[2, 3, 4])  # something temporal, too
        return self.fc(torch.cat([h.mean(dim=[2, 3, 4]), motion], dim=1))  # [N, D]


class TinyInception(torch.nn.Module):
    """Same call contract as inception-2015-12-05.pt: uint8 [N, 3, H, W], return_features."""

    def __init__(self, dim: int = 12):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 16, kernel_size=4, stride=4)
        self.fc = torch.nn.Linear(16, dim)

    def forward(self, x: torch.Tensor, return_features: bool = False) -> torch.Tensor:
        if x.dtype != torch.uint8 or x.dim() != 4 or x.shape[1] != 3:
            raise RuntimeError("expected uint8 [N, 3, H, W]")
        if not return_features:
            raise RuntimeError("FID calls the Inception file with return_features=True")
        h = torch.relu(self.conv(x.float() / 127.5 - 1.0))
        return self.fc(h.mean(dim=[2, 3]))


@pytest.fixture(scope="module")
def detector_files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("detectors")
    out = {}
    for kind, cls in (("i3d", TinyI3D), ("inception", TinyInception)):
        torch.manual_seed(1)
        out[kind] = root / f"tiny_{kind}.pt"
        torch.jit.script(cls().eval()).save(str(out[kind]))
    return out


# ----------------------------------------------------------------------------------------------------
# An in-memory dataset with the engine.data reader contract, recording every read


class MemoryDataset:
    def __init__(self, lengths, res: int = RES, c_dim: int = 0, seed: int = 0):
        rng = np.random.default_rng(seed)
        self.path = f"memory-{seed}"
        self.resolution, self.fps, self.c_dim = res, 25.0, c_dim
        self.videos = []
        for v, n in enumerate(lengths):  # a bright square drifting over a per-video background
            frames = np.empty((n, res, res, 3), np.uint8)
            frames[:] = rng.integers(0, 120, size=3, dtype=np.uint8)
            size = max(1, res // 4)
            for t in range(n):
                x = (2 * t + 5 * v) % (res - size + 1)
                frames[t, size : 2 * size, x : x + size] = (230, 200, 40)
            self.videos.append(frames)
        self.reads: list[tuple[int, list[int]]] = []

    def __len__(self):
        return len(self.videos)

    def num_frames(self, i):
        return len(self.videos[i])

    def video_name(self, i):
        return f"video{i:03d}"

    def label(self, i):
        return np.eye(max(self.c_dim, 1), dtype=np.float32)[i % max(self.c_dim, 1)][: self.c_dim]

    def read_frames(self, i, frame_idx):
        idx = [int(j) for j in frame_idx]
        self.reads.append((i, idx))
        return self.videos[i][idx]


def write_frame_folders(root: Path, lengths, res: int = RES) -> Path:
    """The same videos as MemoryDataset(lengths), on disk in the upstream layout root/<video>/<frame>.png."""
    mem = MemoryDataset(lengths, res)
    for v, frames in enumerate(mem.videos):
        d = root / f"video{v:03d}"
        d.mkdir(parents=True)
        for t, f in enumerate(frames):
            Image.fromarray(f).save(d / f"{t:06d}.png")
    return root


# ----------------------------------------------------------------------------------------------------
# Fréchet distance


def test_frechet_diagonal_gaussians_match_the_closed_form():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=7), rng.normal(size=7)
    s1, s2 = rng.uniform(0.1, 3, size=7), rng.uniform(0.1, 3, size=7)
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(s1 + s2 - 2 * np.sqrt(s1 * s2))
    assert frechet_distance(mu1, np.diag(s1), mu2, np.diag(s2)) == pytest.approx(expected, rel=1e-12)
    # same Gaussians rotated by any orthogonal Q: the distance is unchanged
    q, _ = np.linalg.qr(rng.normal(size=(7, 7)))
    rotated = frechet_distance(q @ mu1, q @ np.diag(s1) @ q.T, q @ mu2, q @ np.diag(s2) @ q.T)
    assert rotated == pytest.approx(expected, rel=1e-10)


def test_frechet_non_commuting_2x2_matches_the_closed_form():
    # For 2×2 PSD A, B: Tr((AB)^½) = sqrt(Tr(AB) + 2·sqrt(det(AB))) (AB has real non-negative eigenvalues).
    a = np.array([[2.0, 0.7], [0.7, 1.0]])
    b = np.array([[0.5, -0.3], [-0.3, 3.0]])
    assert not np.allclose(a @ b, b @ a)
    mu1, mu2 = np.array([1.0, -2.0]), np.array([0.5, 0.5])
    ab = a @ b
    tr_sqrt = np.sqrt(np.trace(ab) + 2 * np.sqrt(np.linalg.det(ab)))
    expected = np.sum((mu1 - mu2) ** 2) + np.trace(a) + np.trace(b) - 2 * tr_sqrt
    assert frechet_distance(mu1, a, mu2, b) == pytest.approx(expected, rel=1e-12)
    assert frechet_distance(mu1, a, mu2, b) == pytest.approx(frechet_distance(mu2, b, mu1, a), rel=1e-12)
    # torch tensors work too
    assert frechet_distance(*(torch.as_tensor(x) for x in (mu1, a, mu2, b))) == pytest.approx(expected, rel=1e-12)


def test_frechet_singular_covariances_are_robust_and_agree_with_scipy():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(20, 64)) @ rng.normal(size=(64, 64))  # 20 samples in 64-d: rank-19 covariances
    y = rng.normal(size=(20, 64)) @ rng.normal(size=(64, 64)) + 0.5
    stats = []
    for feats in (x, y):
        s = FeatureStats()
        s.append(torch.from_numpy(feats))
        stats.append(s.mean_cov())
    (m1, c1), (m2, c2) = stats
    # identical → 0 up to round-off in the 45 null directions (scipy's sqrtm does no better), never NaN/complex
    assert abs(frechet_distance(m1, c1, m1, c1)) < 1e-6 * np.trace(c1)
    fd = frechet_distance(m1, c1, m2, c2)
    assert np.isfinite(fd) and fd > 0
    linalg = pytest.importorskip("scipy.linalg")  # upstream's formula, for comparison only (not a dependency)
    s = linalg.sqrtm(c1 @ c2)
    upstream = float(np.real(np.sum((m1 - m2) ** 2) + np.trace(c1 + c2 - 2 * s)))
    assert fd == pytest.approx(upstream, rel=1e-6)


def test_feature_stats_biased_and_weighted():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(50, 5))
    s = FeatureStats()
    s.append(torch.from_numpy(x[:20]))
    s.append(torch.from_numpy(x[20:]))
    mu, cov = s.mean_cov()
    np.testing.assert_allclose(mu, x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(cov, np.cov(x, rowvar=False, bias=True), rtol=1e-10, atol=1e-14)
    # weights 1/n per video == every video counted once: a video of 2 frames weighs what one of 6 does
    w = torch.tensor([0.5] * 2 + [1 / 6] * 6, dtype=torch.float64)
    ws = FeatureStats()
    ws.append(torch.from_numpy(x[:8]), w)
    reference = np.concatenate([np.repeat(x[:2], 3, axis=0), x[2:8]])  # duplicate the short video's frames ×3
    mu_w, cov_w = ws.mean_cov()
    np.testing.assert_allclose(mu_w, reference.mean(0), rtol=1e-12)
    np.testing.assert_allclose(cov_w, np.cov(reference, rowvar=False, bias=True), rtol=1e-10, atol=1e-14)
    assert ws.sum_w == pytest.approx(2.0)


# ----------------------------------------------------------------------------------------------------
# Protocol


def test_registry_matches_the_stylegan_v_protocol():
    p = METRICS
    assert (p["fvd2048_16f"].num_frames, p["fvd2048_16f"].subsample, p["fvd2048_16f"].max_real) == (16, 1, 2048)
    assert (p["fvd2048_128f"].num_frames, p["fvd2048_128f"].clip_span) == (128, 128)
    assert (p["fvd2048_128f_subsample8f"].num_frames, p["fvd2048_128f_subsample8f"].subsample) == (16, 8)
    assert p["fvd2048_128f_subsample8f"].clip_span == 128  # upstream discards videos shorter than F·s
    assert p["fid50k_full"].num_fake * p["fid50k_full"].num_frames == 50_000 and p["fid50k_full"].max_real is None
    assert all(m.num_fake == 2048 for n, m in p.items() if n.startswith("fvd"))
    np.testing.assert_array_equal(fake_times(16, 8), np.arange(0, 128, 8))
    from engine.metrics.registry import default_batch_frames  # upstream's NUM_FRAMES_IN_BATCH

    assert [default_batch_frames(r) for r in (128, 256, 512, 1024)] == [128, 128, 64, 32]


def test_short_videos_dropped_and_first_n_eligible_kept():
    lengths = [5, 16, 15, 40, 200, 16]
    assert eligible_videos(lengths, 16, None) == [1, 3, 4, 5]
    assert eligible_videos(lengths, 16, 2) == [1, 3]
    assert eligible_videos(lengths, 128, None) == [4]
    assert eligible_videos([127, 128, 121], 16 * 8, None) == [1]  # stride 8: 121 frames would fit, upstream wants 128


@pytest.mark.parametrize("length,frames,stride", [(16, 16, 1), (20, 16, 1), (130, 16, 8), (128, 16, 8), (300, 128, 1)])
def test_random_offsets_cover_exactly_upstreams_range(length, frames, stride):
    hi = length - frames * stride + stride - 1  # upstream: random.randint(0, hi), inclusive
    offsets = [clip_offset(seed, 3, length, frames, stride) for seed in range(400)]
    assert 0 <= min(offsets) <= max(offsets) <= hi
    if hi < 40:  # 400 draws reach both ends of a small range
        assert min(offsets) == 0 and max(offsets) == hi
    assert all(o + (frames - 1) * stride <= length - 1 for o in offsets)  # the clip always fits
    assert clip_offset(7, 3, length, frames, stride) == clip_offset(7, 3, length, frames, stride)  # seeded
    if hi > 0:  # videos differ, seeds differ
        assert len({clip_offset(7, v, length, frames, stride) for v in range(40)}) > 1
    with pytest.raises(ValueError):
        clip_offset(0, 0, frames * stride - 1, frames, stride)


def test_one_clip_per_video_through_the_detector(detector_files):
    ds = MemoryDataset([5, 20, 16, 3, 40, 33, 17])
    videos, frames = real_clips(ds, METRICS["fvd2048_16f"], seed=3, max_real=4)
    assert videos == [1, 2, 4, 5]  # 5 and 3 frames: dropped; max 4 eligible videos, in dataset order
    for v, f in zip(videos, frames):
        assert len(f) == 16 and np.all(np.diff(f) == 1) and 0 <= f[0] and f[-1] < ds.num_frames(v)
    det = load_detector("i3d", detector_files["i3d"])
    from engine.metrics.fvd import real_stats

    stats = real_stats(ds, METRICS["fvd2048_16f"], det, seed=3, max_real=4, batch_frames=32)
    assert stats.count == 4
    assert sorted(i for i, _ in ds.reads) == videos  # each eligible video read once, nothing else
    assert {i: idx for i, idx in ds.reads} == {v: f.tolist() for v, f in zip(videos, frames)}
    # the offsets are random: another seed moves at least one clip
    _, other = real_clips(ds, METRICS["fvd2048_16f"], seed=4, max_real=4)
    assert any(a[0] != b[0] for a, b in zip(frames, other))


def test_subsampled_clips_take_every_8th_frame():
    ds = MemoryDataset([130, 127, 200, 128], res=8)
    videos, frames = real_clips(ds, METRICS["fvd2048_128f_subsample8f"], seed=0, max_real=None)
    assert videos == [0, 2, 3]
    for v, f in zip(videos, frames):
        assert len(f) == 16 and np.all(np.diff(f) == 8) and f[-1] < ds.num_frames(v)


def test_no_eligible_video_is_a_clear_error():
    with pytest.raises(SgvError, match="no video has the 128 frames"):
        real_clips(MemoryDataset([10, 20], res=8), METRICS["fvd2048_128f"], 0, 2048)


def test_uint8_quantisation_like_a_saved_video():
    x = torch.tensor([-2.0, -1.0, -0.999, 0.0, 0.5, 0.99, 1.0, 3.0])
    assert quantize(x).tolist() == [0, 0, 0, 128, 191, 254, 255, 255]  # (x·127.5 + 128) truncated, clamped
    assert quantize(x).dtype == torch.uint8
    y = torch.randn(2, 3, 5, 4)
    np.testing.assert_array_equal(quantize(y).permute(0, 2, 3, 1).numpy(), to_uint8(y))  # = engine's video writer


def test_fake_draws_are_pure_functions_of_seed_and_index():
    a, b = fake_draw(0, 5, 16, 10), fake_draw(0, 5, 16, 10)
    assert np.array_equal(a.z, b.z) and a.motion_seed == b.motion_seed and a.label_index == b.label_index
    assert not np.array_equal(fake_draw(0, 6, 16, 10).z, a.z) and not np.array_equal(fake_draw(1, 5, 16, 10).z, a.z)
    assert fake_draw(0, 5, 16, None).label_index is None


def test_generated_clips_are_the_models_videos_quantised(tiny_G):
    times = fake_times(4, 8)  # t = 0, 8, 16, 24
    batches = list(render_fake_videos(tiny_G, [0, 3, 4], seed=9, times=times, label_of=None, num_labels=0,
                                      batch_frames=8))  # fmt: skip
    assert [idx for idx, _ in batches] == [[0, 3], [4]]  # 8 frames per batch = 2 videos of 4 frames
    clips = torch.cat([x for _, x in batches])  # [3, T, 3, H, W] uint8
    assert clips.dtype == torch.uint8 and tuple(clips.shape) == (3, 4, 3, RES, RES)
    for k, j in enumerate([0, 3, 4]):
        d = fake_draw(9, j, tiny_G.z_dim, None)
        ws = tiny_G.mapping(torch.from_numpy(d.z)[None], None)
        video = engine.Video(tiny_G, content=ws, motion=MotionCodes(seed=d.motion_seed))
        expected = video.frames_uint8(times)  # [T, H, W, 3]
        got = clips[k].permute(0, 2, 3, 1).numpy()
        assert np.abs(got.astype(int) - expected.astype(int)).max() <= 1  # batching may move a rounding edge
        assert (got == expected).mean() > 0.999
    # time chunks (batch smaller than a clip) give the same frames: motion is random access
    chunked = torch.cat([x for _, x in render_fake_videos(tiny_G, [0], 9, times, None, 0, batch_frames=2)])
    assert np.abs(chunked[0].int() - clips[0].int()).max() <= 1


# ----------------------------------------------------------------------------------------------------
# End to end: tiny detector files, tiny data, the tiny model


def test_fvd_end_to_end_repeatable_and_cached(tiny_G, detector_files, tmp_path):
    ds = MemoryDataset([40, 10, 24, 16, 33, 50, 20, 18])
    kw = dict(detector=detector_files["i3d"], num_videos=6, cache_dir=tmp_path / "cache", batch_frames=32)
    first = calc("fvd2048_16f", tiny_G, ds, run_dir=tmp_path / "run", **kw)
    value = first["results"]["fvd2048_16f"]
    assert np.isfinite(value) and value > 0
    assert first["num_real"] == 6 and first["num_fake"] == 6 and first["real_stats"]["cache"] == "miss"
    assert first["detector"]["kind"] == "i3d" and len(first["detector"]["sha256"]) == 64
    assert first["protocol"]["num_frames"] == 16 and first["protocol"]["max_real"] == 6
    assert Path(first["real_stats"]["file"]).is_file()
    reads = len(ds.reads)
    assert reads == 6

    second = calc("fvd2048_16f", tiny_G, ds, run_dir=tmp_path / "run", **kw)
    assert second["real_stats"]["cache"] == "hit" and len(ds.reads) == reads  # no real frame read again
    assert second["results"]["fvd2048_16f"] == value  # fixed seeds: identical number

    uncached = calc("fvd2048_16f", tiny_G, ds, **{**kw, "cache": False})
    assert uncached["results"]["fvd2048_16f"] == value and uncached["real_stats"]["cache"] == "off"

    lines = read_jsonl(tmp_path / "run" / "metric-fvd2048_16f.jsonl")
    assert len(lines) == 2 and lines[0]["results"]["fvd2048_16f"] == value and lines[0]["metric"] == "fvd2048_16f"

    # another seed: other clips and videos, another (finite) number
    other = calc("fvd2048_16f", tiny_G, ds, seed=1, **kw)
    assert other["real_stats"]["cache"] == "miss" and other["results"]["fvd2048_16f"] != value

    runs = calc("fvd2048_16f", tiny_G, ds, num_runs=2, **kw)["results"]
    assert runs["fvd2048_16f_run01"] == value and runs["fvd2048_16f_run02"] != value
    assert runs["fvd2048_16f_mean"] == pytest.approx((value + runs["fvd2048_16f_run02"]) / 2)


def test_cache_key_follows_the_data_and_the_detector(tiny_G, detector_files, tmp_path):
    kw = dict(num_videos=3, cache_dir=tmp_path, batch_frames=48)
    ds = MemoryDataset([20, 20, 20])
    calc("fvd2048_16f", tiny_G, ds, detector=detector_files["i3d"], **kw)
    longer = MemoryDataset([20, 20, 21])  # one video changed length: a different dataset
    assert calc("fvd2048_16f", tiny_G, longer, detector=detector_files["i3d"], **kw)["real_stats"]["cache"] == "miss"
    torch.manual_seed(5)
    retrained = tmp_path / "other_i3d.pt"
    torch.jit.script(TinyI3D().eval()).save(str(retrained))
    assert calc("fvd2048_16f", tiny_G, ds, detector=retrained, **kw)["real_stats"]["cache"] == "miss"
    assert calc("fvd2048_16f", tiny_G, ds, detector=detector_files["i3d"], **kw)["real_stats"]["cache"] == "hit"
    Path(calc("fvd2048_16f", tiny_G, ds, detector=detector_files["i3d"], **kw)["real_stats"]["file"]).write_bytes(
        b"torn"
    )
    assert calc("fvd2048_16f", tiny_G, ds, detector=detector_files["i3d"], **kw)["real_stats"]["cache"] == "miss"


def test_subsampled_fvd_end_to_end(tiny_G, detector_files, tmp_path):
    ds = MemoryDataset([130, 127, 200], res=RES)
    r = calc("fvd2048_128f_subsample8f", tiny_G, ds, detector=detector_files["i3d"], num_videos=3,
             cache_dir=tmp_path, batch_frames=48)  # fmt: skip
    assert r["num_real"] == 2 and np.isfinite(r["results"]["fvd2048_128f_subsample8f"])
    assert all(np.all(np.diff(idx) == 8) for _, idx in ds.reads)


def test_fid_weights_every_real_video_equally(tiny_G, detector_files, tmp_path):
    ds = MemoryDataset([2, 6, 5])
    det = load_detector("inception", detector_files["inception"])
    stats = fid_stats.real_stats(ds, det, batch_frames=4)
    assert stats.count == 13 and stats.sum_w == pytest.approx(3.0)
    per_video = [det(torch.from_numpy(v).permute(0, 3, 1, 2)).double().mean(0) for v in ds.videos]
    np.testing.assert_allclose(stats.mean_cov()[0], torch.stack(per_video).mean(0).numpy(), rtol=1e-5, atol=1e-6)

    r = calc("fid50k_full", tiny_G, ds, detector=det, num_videos=3, cache_dir=tmp_path, run_dir=tmp_path)
    assert r["num_real"] == 13 and r["num_fake"] == 3 and np.isfinite(r["results"]["fid50k_full"])
    again = calc("fid50k_full", tiny_G, ds, detector=det, num_videos=3, cache_dir=tmp_path)
    assert again["real_stats"]["cache"] == "hit" and again["results"] == r["results"]
    assert len(read_jsonl(tmp_path / "metric-fid50k_full.jsonl")) == 1


def test_bad_inputs_are_one_clear_line(tiny_G, detector_files, tmp_path, monkeypatch):
    monkeypatch.setenv("SGV_WEIGHTS_DIR", str(tmp_path / "empty"))
    with pytest.raises(SgvError) as e:
        load_detector("i3d")
    assert "i3d_torchscript.pt" in str(e.value) and "sgv weights fetch i3d" in str(e.value)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a torchscript file")
    with pytest.raises(SgvError, match="junk.pt"):
        load_detector("inception", junk)
    with pytest.raises(SgvError, match="sgv weights fetch i3d"):  # what `sgv train --metrics` can check first
        engine.metrics.check(["fvd2048_16f", "fid50k_full"], None)
    assert len(engine.metrics.check(["fvd2048_16f"], detector_files["i3d"])) == 1
    ds = MemoryDataset([20, 20])
    with pytest.raises(SgvError, match="unknown metric"):
        calc("fvd_nope", tiny_G, ds, detector=detector_files["i3d"])
    with pytest.raises(SgvError, match="needs the i3d detector"):
        calc("fvd2048_16f", tiny_G, ds, detector=load_detector("inception", detector_files["inception"]))
    with pytest.raises(SgvError, match="64²"):
        calc("fvd2048_16f", tiny_G, MemoryDataset([20], res=64), detector=detector_files["i3d"])
    cond = engine.build_generator(engine.preset("tiny", c_dim=3).generator)
    with pytest.raises(SgvError, match="conditional"):
        calc("fvd2048_16f", cond, ds, detector=detector_files["i3d"], num_videos=2, cache=False)


# ----------------------------------------------------------------------------------------------------
# On-disk data, the CLI, two gloo ranks


def test_cli_on_disk_dataset_and_two_gloo_ranks(tiny_model_file, detector_files, tmp_path):
    data = write_frame_folders(tmp_path / "data", [20, 5, 18, 30, 16, 17])
    base = ["metrics", "--ckpt", str(tiny_model_file), "--data", str(data), "--metric", "fvd2048_16f",
            "--detector", str(detector_files["i3d"]), "--num-videos", "5", "--cache-dir", str(tmp_path / "cache"),
            "--batch-frames", "32", "--quiet"]  # fmt: skip
    from engine.cli import main

    assert main([*base, "--run-dir", str(tmp_path / "one"), "--workers", "2"]) == 0  # real frames read in workers
    one = read_jsonl(tmp_path / "one" / "metric-fvd2048_16f.jsonl")[-1]
    # the on-disk dataset gives what the same videos in memory give
    mem = calc("fvd2048_16f", engine.load_generator(tiny_model_file), MemoryDataset([20, 5, 18, 30, 16, 17]),
               detector=detector_files["i3d"], num_videos=5, cache=False, batch_frames=32)  # fmt: skip
    assert mem["results"]["fvd2048_16f"] == pytest.approx(one["results"]["fvd2048_16f"], rel=1e-6)

    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    two_ranks = ["--run-dir", str(tmp_path / "two"), "--gpus", "2", "--no-cache", "--workers", "0"]
    cmd = [sys.executable, "-m", "engine.cli", *base, *two_ranks]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    two = read_jsonl(tmp_path / "two" / "metric-fvd2048_16f.jsonl")
    assert len(two) == 1 and two[0]["num_gpus"] == 2 and two[0]["num_real"] == 5
    assert two[0]["results"]["fvd2048_16f"] == pytest.approx(one["results"]["fvd2048_16f"], rel=1e-5)
    assert json.loads(r.stdout.strip().splitlines()[-1])["results"] == two[0]["results"]


def test_cli_errors(tiny_model_file, detector_files, tmp_path, capsys):
    from engine.cli import main

    rc = main(["metrics", "--ckpt", str(tiny_model_file), "--data", str(tmp_path), "--metric", "fvd_nope"])
    assert rc == 2 and "unknown metric" in capsys.readouterr().err
    both = "fvd2048_16f,fid50k_full"
    rc = main(["metrics", "--ckpt", str(tiny_model_file), "--data", str(tmp_path), "--metric", both,
               "--detector", str(tmp_path / "x.pt")])  # fmt: skip
    assert rc == 2 and "run them apart" in capsys.readouterr().err
    short = write_frame_folders(tmp_path / "short", [3, 4])  # caught before any rank is spawned
    rc = main(["metrics", "--ckpt", str(tiny_model_file), "--data", str(short), "--metric", "fvd2048_16f",
               "--detector", str(tmp_path / "x.pt"), "--gpus", "2"])  # fmt: skip
    assert rc == 2 and "x.pt" in capsys.readouterr().err
    rc = main(["metrics", "--ckpt", str(tiny_model_file), "--data", str(short), "--metric", "fvd2048_16f",
               "--detector", str(detector_files["i3d"]), "--gpus", "2"])  # fmt: skip
    assert rc == 2 and "no video has the 16 frames" in capsys.readouterr().err
