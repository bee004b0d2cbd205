"""Cascade super-resolution: random access without seams, the SR level uses its input, the matching D sees the
low-resolution clip, SR runs resume exactly, bad or mismatched files are one line (docs/cascade.md)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import engine
from engine.cascade import CascadeVideo, SRDiscriminator, SRGenerator, load_sr, save_sr, sr_preset, windows_of
from engine.cascade.options import SRTrainOptions
from engine.cascade.train import bicubic, psnr, run_sr_training, sr_training_loop, to_float
from engine.errors import CheckpointError, SgvError
from engine.train.options import TrainingError


def _random_sr(base_resolution=32, scale=2, window=2, fps=25.0, seed=0) -> SRGenerator:
    cfg = sr_preset("sr-tiny", base_resolution=base_resolution, scale=scale, window=window, native_fps=fps)
    torch.manual_seed(seed)
    G = SRGenerator(cfg.generator)
    with torch.no_grad():  # a trained level's residual is not zero: make the window matter
        G.torgb.weight.normal_()
    return G.eval().requires_grad_(False)


@pytest.fixture(scope="module")
def base_G():
    return engine.build_generator("tiny", seed=1)


# ----------------------------------------------------------------------------------------------------
# Random access, no seams, shared low-resolution frames


@pytest.mark.parametrize("t0", [0.0, 37.25, 1e6 + 0.3])
def test_frame_alone_equals_chunk_and_batch(base_G, t0):
    sr = _random_sr()
    ts = t0 + np.arange(16) * 0.8  # a 16-frame chunk at 31.25 fps, fractional t
    chunk = CascadeVideo(engine.Video(base_G, 3, 5), sr, seed=2, batch_size=16).frames(ts)
    assert chunk.shape == (16, 3, 64, 64)
    order = np.random.RandomState(0).permutation(16)
    batch = CascadeVideo(engine.Video(base_G, 3, 5), sr, seed=2, batch_size=5).frames(ts[order])
    assert (batch - chunk[order]).abs().max() <= 1e-5
    for i in (0, 7, 15):
        alone = CascadeVideo(engine.Video(base_G, 3, 5), sr, seed=2, batch_size=1).frame(ts[i])
        assert (alone - chunk[i]).abs().max() <= 1e-5, i


def test_output_depends_on_its_window_only(base_G):
    sr = _random_sr(window=2)
    video = CascadeVideo(engine.Video(base_G, 0, 0), sr)
    keys = video.window_keys([10.0])
    lr = video._base_frames(keys.reshape(-1))[None, None]  # [1, 1, 5, 3, 32, 32]
    ref = sr.synthesis(video.ws, lr)
    for j in (0, 4):  # the outermost window frames (t − 2 and t + 2) change the output
        bumped = lr.clone()
        bumped[:, :, j] += 0.5
        assert (sr.synthesis(video.ws, bumped) - ref).abs().max() > 1e-4
    assert torch.allclose(video.frame(10.0), ref[0, 0], atol=1e-5)


def test_neighbouring_outputs_share_base_frames(base_G):
    sr = _random_sr(window=2)
    video = CascadeVideo(engine.Video(base_G, 0, 0), sr, batch_size=4)
    video.frames(np.arange(16.0) + 1e6)  # native fps: windows overlap in 4 of 5 frames
    assert video.base_frames_rendered == 16 + 2 * 2
    video.frames(np.arange(16.0, 20.0) + 1e6)  # continuing playback: one new base frame per output frame
    assert video.base_frames_rendered == 20 + 2 * 2


def test_export_streams_sr_resolution(base_G, tmp_path):
    sr = _random_sr()
    video = CascadeVideo(engine.Video(base_G, 1, 1), sr, batch_size=4)
    n = engine.export_video(video, tmp_path / "frames", num_frames=6, fps=50)
    from PIL import Image

    files = sorted((tmp_path / "frames").glob("*.png"))
    assert n == 6 and len(files) == 6
    got = np.asarray(Image.open(files[3]))
    want = video.frames_uint8(video.times(6, fps=50))[3]
    assert got.shape == (64, 64, 3) and np.array_equal(got, want)


# ----------------------------------------------------------------------------------------------------
# The matching discriminator


def test_matching_discriminator_sees_the_low_resolution_input():
    cfg = sr_preset("sr-tiny", base_resolution=16, scale=2, num_frames=2)
    torch.manual_seed(0)
    D = SRDiscriminator(cfg.discriminator).eval()
    hr, lr = torch.rand(2, 2, 3, 32, 32) * 2 - 1, torch.rand(2, 2, 3, 16, 16) * 2 - 1
    other = torch.rand(2, 2, 3, 16, 16) * 2 - 1
    keep, drop = torch.ones(2), torch.zeros(2)
    with torch.no_grad():
        assert (D(hr, lr, keep) - D(hr, other, keep)).abs().min() > 1e-4
        assert torch.equal(D(hr, lr, drop), D(hr, other, drop))  # zeroed: the lr_cond_prob = 0 half of samples


# ----------------------------------------------------------------------------------------------------
# Training: beats bicubic on held-out clips, stays faithful to its input, resumes exactly


@pytest.fixture(scope="module")
def synth32(tmp_path_factory):
    from engine.data.synth import write_synthetic_dataset

    root = tmp_path_factory.mktemp("sr-data")
    train = write_synthetic_dataset(root / "train", videos=8, frames=48, resolution=32, seed=0, progress=False)
    held = write_synthetic_dataset(root / "held", videos=4, frames=24, resolution=32, seed=7, progress=False)
    return train, held


def _opts(data, outdir, **kw) -> SRTrainOptions:
    base = dict(
        data=str(data), outdir=str(outdir), preset="sr-tiny", window=2, batch=4, num_frames=2, tick_kimg=0.8,
        snap_ticks=100, workers=0, device="cpu", sample_clips=1, sample_seconds=0.2, ema_kimg=0.01,
    )  # fmt: skip
    base.update(kw)
    return SRTrainOptions(**base)


def test_trained_sr_beats_bicubic_and_keeps_its_input(synth32, tmp_path):
    train, held = synth32
    result = run_sr_training(_opts(train, tmp_path / "run", total_kimg=2.4, degrade_p=0.0, lr_g=0.02))
    G = load_sr(result.model, device="cpu")
    from engine.data import open_dataset

    hr_ds, lr_ds = open_dataset(held, 32), open_dataset(held, 16)
    sr_db, bic_db, faithful = [], [], []
    for i in range(len(hr_ds)):
        hr = to_float(torch.from_numpy(hr_ds.read_frames(i, list(range(2, 22)))).permute(0, 3, 1, 2))
        lr = to_float(torch.from_numpy(lr_ds.read_frames(i, list(range(0, 24)))).permute(0, 3, 1, 2))
        with torch.no_grad():
            out = G(torch.randn(1, G.z_dim, generator=torch.Generator().manual_seed(i)), windows_of(lr[None], 2))[0]
        sr_db.append(psnr(out, hr))
        bic_db.append(psnr(bicubic(lr[2:22], 32), hr))
        faithful.append(psnr(F.interpolate(out, size=16, mode="bilinear", antialias=True), lr[2:22]))  # vs its input
    sr_m, bic_m, back = np.mean(sr_db), np.mean(bic_db), np.mean(faithful)
    print(f"held-out PSNR: SR {sr_m:.2f} dB, bicubic {bic_m:.2f} dB, SR shrunk vs its input {back:.2f} dB")
    assert sr_m > bic_m + 0.3, (sr_db, bic_db)
    assert back > 30.0, faithful
    log = (tmp_path / "run" / "log.jsonl").read_text().strip().splitlines()
    assert '"psnr_sr"' in log[-1] and (tmp_path / "run" / "samples").is_dir()


def test_sr_run_resumes_exactly(synth32, tmp_path):
    train, _ = synth32
    straight = sr_training_loop(_opts(train, tmp_path / "a", total_kimg=0.08, tick_kimg=0.04))
    steps = []
    stopped = sr_training_loop(
        _opts(train, tmp_path / "b", total_kimg=0.08, tick_kimg=0.04),
        progress_fn=lambda info: steps.append(info) if info["event"] == "step" else None,
        abort_fn=lambda: len(steps) >= 3,  # polled in step 4 (before its progress event): stop with a snapshot
    )
    assert stopped.aborted and stopped.cur_nimg == 4 * 4 * 2
    with pytest.raises(TrainingError, match="--resume latest"):
        sr_training_loop(_opts(train, tmp_path / "b", total_kimg=0.08, tick_kimg=0.04))
    resumed = sr_training_loop(_opts(train, tmp_path / "b", total_kimg=0.08, tick_kimg=0.04), resume="latest")
    assert resumed.cur_nimg == straight.cur_nimg
    a, b = straight.G_ema.state_dict(), resumed.G_ema.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


# ----------------------------------------------------------------------------------------------------
# Files: round trip, bad and mismatched files are one line


def test_sr_file_round_trip_and_bad_files(tmp_path, base_G):
    sr = _random_sr()
    path = tmp_path / "sr.safetensors"
    save_sr(sr, path, provenance={"test": True})
    again = load_sr(path, device="cpu")
    assert all(torch.equal(a, b) for a, b in zip(sr.state_dict().values(), again.state_dict().values()))
    base = tmp_path / "base.safetensors"
    engine.save_generator(base_G, base)
    truncated = tmp_path / "cut.safetensors"
    truncated.write_bytes(path.read_bytes()[:-100])
    cases = [
        (tmp_path / "missing.safetensors", "no such file"),
        (base, "not a cascade SR model"),
        (truncated, "truncated"),
    ]
    for bad, needle in cases:
        with pytest.raises(CheckpointError, match=needle) as e:
            load_sr(bad)
        assert "\n" not in str(e.value) and str(bad) in str(e.value)
    with pytest.raises(CheckpointError, match="cascade super-resolution model"):
        engine.load_generator(path, device="cpu")
    with pytest.raises(SgvError, match="trained for 16x16 input, the base model renders 32x32"):
        CascadeVideo(engine.Video(base_G), _random_sr(base_resolution=16))
    with pytest.raises(SgvError, match="30 fps data"):
        CascadeVideo(engine.Video(base_G), _random_sr(fps=30.0))


def test_cli_generate_with_sr_info_and_mismatch(tmp_path, base_G):
    base, sr_path, bad = tmp_path / "base.safetensors", tmp_path / "sr.safetensors", tmp_path / "sr16.safetensors"
    engine.save_generator(base_G, base)
    save_sr(_random_sr(), sr_path)
    save_sr(_random_sr(base_resolution=16), bad)

    def sgv(*args):
        return subprocess.run([sys.executable, "-m", "engine.cli", *args], capture_output=True, text=True)

    out = tmp_path / "frames"
    r = sgv("generate", "--ckpt", base, "--sr", sr_path, "--out", out, "--frames", "3", "--quiet", "--device", "cpu")
    assert r.returncode == 0, r.stderr
    from PIL import Image

    assert np.asarray(Image.open(sorted(out.glob("*.png"))[0])).shape == (64, 64, 3)
    r = sgv("generate", "--ckpt", base, "--sr", bad, "--out", tmp_path / "x", "--frames", "2", "--quiet")
    assert r.returncode == 2 and r.stderr.strip().splitlines()[-1] == (
        f"sgv: {bad}: trained for 16x16 input, the base model renders 32x32"
    )
    r = sgv("info", "--ckpt", sr_path)
    assert r.returncode == 0 and "32x32 -> 64x64 (x2)" in r.stdout and "t-2..t+2" in r.stdout
    r = sgv("train-sr", "--outdir", tmp_path / "run")
    assert r.returncode == 2 and r.stderr.strip() == "sgv: --data is required"


@pytest.mark.skipif(not engine.checkpoint.BUNDLED_MODEL.exists(), reason="bundled model not present")
def test_generate_uses_the_bundled_sr_level_with_the_bundled_base(tmp_path, monkeypatch):
    from PIL import Image

    import engine.cascade
    from engine.cli import main

    bundled_sr = tmp_path / "default-sr.safetensors"
    save_sr(_random_sr(base_resolution=64), bundled_sr)
    monkeypatch.setattr(engine.cascade, "BUNDLED_SR", bundled_sr)

    def first_frame(*flags):
        out = tmp_path / f"frames{len(flags)}"
        assert main(["generate", "--out", str(out), "--frames", "2", "--quiet", "--device", "cpu", *flags]) == 0
        return np.asarray(Image.open(sorted(out.glob("*.png"))[0]))

    assert first_frame().shape == (128, 128, 3)  # bundled base + bundled SR level
    assert first_frame("--no-sr").shape == (64, 64, 3)
    assert first_frame("--ckpt", str(engine.checkpoint.BUNDLED_MODEL)).shape == (64, 64, 3)  # a named base: no SR


def test_degradation_is_deterministic_and_per_clip():
    from engine.cascade.data import degrade, degrade_generator

    lr = torch.rand(3, 5, 3, 16, 16) * 2 - 1
    assert degrade(lr, 0.0, degrade_generator(0, 1, 0, 0)) is lr
    a = degrade(lr, 1.0, degrade_generator(0, 1, 0, 0))
    assert torch.equal(a, degrade(lr, 1.0, degrade_generator(0, 1, 0, 0)))  # a pure function of (seed, step, slot)
    assert not torch.equal(a, degrade(lr, 1.0, degrade_generator(0, 2, 0, 0)))
    assert (a - lr).abs().amax(dim=(1, 2, 3, 4)).min() > 1e-3  # p = 1: every clip is degraded


def test_base_and_sr_run_folders_point_at_each_others_command(tmp_path):
    from engine.train.options import TrainOptions

    sr_run, base_run = tmp_path / "sr", tmp_path / "base"
    sr_run.mkdir(), base_run.mkdir()
    (sr_run / "training_options.json").write_text(SRTrainOptions(data="d", outdir=str(sr_run)).to_json())
    (base_run / "training_options.json").write_text(TrainOptions(data="d", outdir=str(base_run)).to_json())

    def sgv(*args):
        return subprocess.run([sys.executable, "-m", "engine.cli", *map(str, args)], capture_output=True, text=True)

    r = sgv("train", "--outdir", sr_run, "--resume", "latest")
    assert r.returncode == 2 and r.stderr.strip() == (
        f"sgv: {sr_run}: this is an SR-level run folder; resume it with sgv train-sr --outdir {sr_run} --resume latest"
    )
    r = sgv("train-sr", "--outdir", base_run, "--resume", "latest")
    assert r.returncode == 2 and r.stderr.strip() == (
        f"sgv: {base_run}: this is a base-model run folder; "
        f"resume it with sgv train --outdir {base_run} --resume latest"
    )


# ----------------------------------------------------------------------------------------------------
# Metrics of the whole cascade at SR snapshots


@pytest.fixture(scope="module")
def base16_file(tmp_path_factory):
    """A tiny base model at the synth32 data's low resolution (16²), 25 fps like the data."""
    from engine.config import override, preset

    path = tmp_path_factory.mktemp("base16") / "base16.safetensors"
    engine.save_generator(
        engine.build_generator(override(preset("tiny").generator, **{"synthesis.img_resolution": 16}), seed=3), path
    )
    return path


def test_metrics_render_the_cascade_at_the_sr_resolution(base16_file):
    from engine.cascade.metrics import CascadeMetricsG
    from engine.metrics.fakes import render_fake_videos
    from engine.metrics.protocol import fake_draw, fake_times, quantize
    from engine.motion_codes import MotionCodes

    base, sr = engine.load_generator(base16_file, device="cpu"), _random_sr(base_resolution=16)
    G = CascadeMetricsG(base, sr)
    times = fake_times(4, 1)
    (idx, x), *_ = list(render_fake_videos(G, [5], seed=2, times=times, label_of=None, num_labels=0))
    assert idx == [5] and tuple(x.shape) == (1, 4, 3, 32, 32) and x.dtype == torch.uint8
    d = fake_draw(2, 5, base.z_dim, None)
    with torch.no_grad():
        ws = base.mapping(torch.from_numpy(d.z)[None], None, psi=1.0)
    video = CascadeVideo(
        engine.Video(base, content=ws, motion=MotionCodes(seed=d.motion_seed)), sr, seed=d.motion_seed % 2**31
    )
    assert torch.equal(x[0], quantize(video.frames(times)))  # exactly what `sgv generate --sr` shows
    with pytest.raises(SgvError, match="trained for 32x32 input, the base model renders 16x16"):
        CascadeMetricsG(base, _random_sr(base_resolution=32))


def test_sr_snapshots_score_the_whole_cascade(synth32, base16_file, tmp_path):
    train, _ = synth32
    run = tmp_path / "run"
    result = sr_training_loop(_opts(train, run, total_kimg=0.016, base=str(base16_file), metrics=("fsd2048",)))
    lines = engine.metrics.read_jsonl(run / "metric-fsd2048.jsonl")
    assert len(lines) == 1 and lines[0]["snapshot"] == str(result.model)
    assert lines[0]["num_fake"] == 128 and np.isfinite(lines[0]["results"]["fsd2048"])
    with pytest.raises(TrainingError, match="--metrics scores the whole cascade: give its base model with --base"):
        _opts(train, tmp_path / "x", metrics=("fsd2048",)).validate()


def test_a_missing_detector_stops_train_sr_with_the_base_trainers_line(synth32, base16_file, tmp_path):
    import os

    env = {**os.environ, "SGV_WEIGHTS_DIR": str(tmp_path / "no-weights")}
    train, _ = synth32

    def sgv(*args):
        r = subprocess.run(
            [sys.executable, "-m", "engine.cli", *map(str, args)], capture_output=True, text=True, env=env
        )
        return r.returncode, r.stderr.strip().splitlines()[-1]

    code, line = sgv(
        "train-sr",
        "--data",
        train,
        "--base",
        base16_file,
        "--outdir",
        tmp_path / "sr",
        "--metrics",
        "fvd2048_16f",
        "--quiet",
    )
    base_code, base_line = sgv(
        "train", "--data", train, "--outdir", tmp_path / "b", "--metrics", "fvd2048_16f", "--quiet"
    )
    assert code == base_code == 2 and line == base_line and "i3d" in line, (line, base_line)
    assert not (tmp_path / "sr" / "log.jsonl").exists()


# ----------------------------------------------------------------------------------------------------
# Ranks: 2 gloo ranks on the CPU hold identical weights and equal one process with the same per-pass batch


def _sr_rank_worker(rank, world, port, data, outdir, results):
    from engine import distributed

    ranks = distributed.init(rank, world, "cpu", port)
    torch.set_num_threads(1)
    try:
        r = sr_training_loop(_opts(data, outdir, total_kimg=0.016, gpus=2), ranks)
        torch.save(r.G_ema.state_dict(), f"{results}/rank{rank}.pt")
    finally:
        distributed.shutdown()


def test_two_gloo_ranks_train_sr_like_one_process(synth32, tmp_path):
    import torch.multiprocessing as mp

    from engine.distributed import free_port

    train, _ = synth32
    mp.spawn(_sr_rank_worker, args=(2, free_port(), str(train), str(tmp_path / "ddp"), str(tmp_path)), nprocs=2)
    r0, r1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    assert all(torch.equal(r0[k], r1[k]) for k in r0)  # ranks hold identical weights
    single = sr_training_loop(_opts(train, tmp_path / "one", total_kimg=0.016, batch_gpu=2)).G_ema.state_dict()
    err = max((single[k] - r0[k]).abs().max().item() for k in single)
    assert err <= 1e-5, err  # same global batch and per-pass batch: equal up to summation order
    # `sgv train-sr --gpus 2` spawns the ranks itself (run_sr_training returns None) and writes the same model
    assert run_sr_training(_opts(train, tmp_path / "spawned", total_kimg=0.016, gpus=2)) is None
    spawned = load_sr(tmp_path / "spawned" / "model-latest.safetensors", device="cpu").state_dict()
    assert max((spawned[k] - r0[k]).abs().max().item() for k in r0) <= 1e-5
