"""Training: sampler properties, one tick end to end, exact resume, 2 gloo ranks = 1 rank, robustness."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import engine
from engine.train import TrainingError, TrainOptions
from engine.train.loop import read_log, training_loop
from engine.train.sampling import StepBatches, TrainClips, fake_draws, rng, sample_frame_times
from engine.train.snapshot import list_states, load_state

LENGTHS = (1, 2, 3, 9, 40)  # 1- and 2-frame videos must never crash


def write_frame_folders(root: Path, lengths=LENGTHS, res: int = 32) -> Path:
    """A tiny dataset in the upstream layout: root/<video>/<frame>.png, a moving bar per video."""
    for v, n in enumerate(lengths):
        d = root / f"video{v:02d}"
        d.mkdir(parents=True)
        for t in range(n):
            img = np.zeros((res, res, 3), np.uint8)
            img[..., v % 3] = 60 + 30 * v
            x = (2 * t + 5 * v) % (res - 6)
            img[8:24, x : x + 6] = (255, 220, 40)
            Image.fromarray(img).save(d / f"{t:06d}.png")
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_frame_folders(tmp_path_factory.mktemp("data") / "shapes")


def opts_for(data: Path, outdir: Path, **kw) -> TrainOptions:
    base = dict(
        data=str(data), outdir=str(outdir), preset="tiny", total_kimg=0.096, batch=4, tick_kimg=0.048,
        snap_ticks=100, workers=0, aug="ada", aug_p=0.3, ada_interval=2, sample_contents=2, sample_seconds=0.2,
    )  # fmt: skip
    base.update(kw)
    return TrainOptions(**base)


# ----------------------------------------------------------------------------------------------------
# Sampling


@pytest.mark.parametrize("length", [1, 2, 3, 4, 5, 17, 33, 1024, 5000])
@pytest.mark.parametrize("fractional", [False, True])
def test_frame_times_properties(length, fractional):
    for i in range(200):
        t = sample_frame_times(length, 3, 32, rng(0, length, i), fractional=fractional)
        assert t.shape == (3,) and np.all(np.diff(t) >= 0)
        assert t[0] >= 0 and t[-1] <= length - 1 + 1e-9
        span = t[-1] - t[0]
        if length >= 3:  # enough frames: distinct, span a power of two between k−1 and min(len−1, 32)
            assert np.all(np.diff(t) > 0)
            assert round(span, 9) in {2, 4, 8, 16, 32} and span <= min(length - 1, 32) + 1e-9
            inner = t[1] - t[0]
            assert abs(inner - round(inner)) < 1e-9  # middle frames on integer offsets from the first
        else:  # 1- and 2-frame videos: the whole video, frames repeated
            assert abs(span - (length - 1)) < 1e-9
        if not fractional:
            assert np.all(t == np.round(t))


def test_fractional_offsets_and_span_coverage():
    spans, fracs = set(), []
    for i in range(400):
        t = sample_frame_times(100, 3, 32, rng(1, i), fractional=True)
        spans.add(round(t[-1] - t[0]))
        fracs.append(t[0] % 1)
    assert spans == {2, 4, 8, 16, 32}
    assert np.std(fracs) > 0.2  # offsets really are fractional


def test_step_batches_shard_the_global_batch():
    one = StepBatches(batch=8, rank=0, world=1, batch_gpu=4, start_step=3)
    r0 = StepBatches(batch=8, rank=0, world=2, batch_gpu=4, start_step=3)
    r1 = StepBatches(batch=8, rank=1, world=2, batch_gpu=4, start_step=3)
    it, i0, i1 = iter(one), iter(r0), iter(r1)
    assert next(it) == next(i0) == [24, 25, 26, 27]
    assert next(it) == next(i1) == [28, 29, 30, 31]


def test_clips_are_pure_functions_of_the_index(data):
    ds = engine_open(data)
    clips = TrainClips(ds, 3, 32, 1024, mirror=True, seed=5)
    assert len(clips) == 2 * len(LENGTHS)
    a, b = clips[17], TrainClips(ds, 3, 32, 1024, mirror=True, seed=5)[17]
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    frames, t, label = a
    assert frames.shape == (3, 3, 32, 32) and frames.dtype == torch.uint8 and t.shape == (3,)
    epoch = [clips.video_of(g) for g in range(len(clips))]
    assert sorted(epoch) == sorted((i, f) for i in range(len(LENGTHS)) for f in (False, True))  # each once


def test_fake_draws_follow_real_lengths():
    z, seeds, t, vids = fake_draws(0, 0, 0, range(64), np.array([1, 2, 3, 2000]), 3, 32, 1024, 8)
    assert z.shape == (64, 8) and t.shape == (64, 3)
    lengths = np.array([1, 2, 3, 1024])[vids]
    assert np.all(t[:, -1].numpy() <= lengths - 1 + 1e-9) and np.all(t[:, 0].numpy() >= 0)
    z2, _, t2, _ = fake_draws(0, 0, 0, range(32, 64), np.array([1, 2, 3, 2000]), 3, 32, 1024, 8)
    assert torch.equal(z[32:], z2) and torch.equal(t[32:], t2)  # a slot's draw does not depend on its batch


def engine_open(path):
    from engine.data import open_dataset

    return open_dataset(path, resolution=32)


# ----------------------------------------------------------------------------------------------------
# End to end


def test_one_tick_end_to_end(data, tmp_path):
    run = tmp_path / "run"
    ticks = []
    result = training_loop(opts_for(data, run), progress_fn=lambda i: ticks.append(i) if i["event"] == "tick" else None)
    assert not result.aborted and result.cur_nimg >= 96
    opts = json.loads((run / "training_options.json").read_text())
    assert opts["preset"] == "tiny" and opts["batch"] == 4
    log = read_log(run / "log.jsonl")
    assert len(log) == len(ticks) == 2
    for key in ("kimg", "sec_per_kimg", "loss_G", "loss_D", "r1_penalty", "aug_p", "lr_G", "eta_sec", "peak_mem_bytes"):
        assert key in log[-1], key
    assert all(np.isfinite(x["loss_G"]) and np.isfinite(x["loss_D"]) for x in log)
    assert log[0]["r1_penalty"] is not None  # lazy R1 ran at step 0
    # snapshot at the end: model file, state (weights_only), samples, model-latest
    model = result.model
    assert model.exists() and (run / "model-latest.safetensors").read_bytes() == model.read_bytes()
    G = engine.load_generator(model)
    assert G.img_resolution == 32 and torch.isfinite(engine.Video(G, content=0, motion=0).frame(3.5)).all()
    state = torch.load(list_states(run)[-1], weights_only=True)
    assert state["cur_nimg"] == result.cur_nimg and set(state) >= {"G", "D", "G_ema", "opt_G", "opt_D", "augment_p"}
    grid = np.asarray(Image.open(next((run / "samples").glob("grid-*.png"))))
    assert grid.shape[0] == 2 * 32 + 2 and grid.std() > 0
    from engine.media import probe_video

    assert probe_video(next((run / "samples").glob("video-*.mp4")))["frames"] >= 4


def _weights(module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def test_resume_is_exact(data, tmp_path):
    """8 steps straight == 4 steps, a stop (snapshot), --resume latest, 4 more steps."""
    straight = training_loop(opts_for(data, tmp_path / "a", total_kimg=0.096))
    first = training_loop(
        opts_for(data, tmp_path / "b", total_kimg=0.096),
        progress_fn=None,
        abort_fn=_after_steps(4),
    )
    assert first.aborted and first.cur_nimg == 48
    state = load_state(list_states(tmp_path / "b")[-1])
    assert state["step"] == 4
    second = training_loop(opts_for(data, tmp_path / "b", total_kimg=0.096), resume="latest")
    assert second.cur_nimg == straight.cur_nimg == 96
    a, b = _weights(straight.G_ema), _weights(second.G_ema)
    assert all(torch.equal(a[k], b[k]) for k in a), max((a[k] - b[k]).abs().max().item() for k in a)
    sa, sb = load_state(list_states(tmp_path / "a")[-1]), load_state(list_states(tmp_path / "b")[-1])
    assert sa["augment_p"] == sb["augment_p"]
    assert all(torch.equal(sa["D"][k], sb["D"][k]) for k in sa["D"])
    assert [x["nimg"] for x in read_log(tmp_path / "b" / "log.jsonl")][-1] == 96


def _after_steps(n: int):
    calls = [0]

    def abort() -> bool:
        calls[0] += 1
        return calls[0] >= n

    return abort


def _ddp_worker(rank, world, port, data, outdir, results):
    from engine import distributed

    ranks = distributed.init(rank, world, "cpu", port)
    torch.set_num_threads(1)
    try:
        r = training_loop(opts_for(data, outdir, batch=4, gpus=2, total_kimg=0.036), ranks)
        torch.save(_weights(r.G_ema), Path(results) / f"rank{rank}.pt")
    finally:
        distributed.shutdown()


def test_two_gloo_ranks_match_one_process(data, tmp_path):
    import torch.multiprocessing as mp

    from engine.distributed import free_port

    mp.spawn(_ddp_worker, args=(2, free_port(), str(data), str(tmp_path / "ddp"), str(tmp_path)), nprocs=2)
    r0, r1 = torch.load(tmp_path / "rank0.pt"), torch.load(tmp_path / "rank1.pt")
    assert all(torch.equal(r0[k], r1[k]) for k in r0)  # ranks hold identical weights
    single = training_loop(opts_for(data, tmp_path / "one", batch=4, batch_gpu=2, total_kimg=0.036))
    one = _weights(single.G_ema)
    # Same global batch, same per-pass batch (so minibatch-std groups match): equal up to summation order.
    err = max((one[k] - r0[k]).abs().max().item() for k in one)
    assert err <= 1e-5, err


def test_non_finite_losses_abort_with_a_clear_error(data, tmp_path, monkeypatch):
    from engine.train import loss as loss_mod

    real = loss_mod.VideoGANLoss.phase_loss

    def poisoned(self, phase, real_batch, fake):
        loss, stats = real(self, phase, real_batch, fake)
        return loss * float("nan"), stats

    monkeypatch.setattr(loss_mod.VideoGANLoss, "phase_loss", poisoned)
    with pytest.raises(TrainingError, match="NaN/inf"):
        training_loop(opts_for(data, tmp_path / "nan", max_bad_steps=3))
    assert not list_states(tmp_path / "nan")  # nothing written from a broken model


# ----------------------------------------------------------------------------------------------------
# CLI


def _sgv(*args, **kw):
    return subprocess.run([sys.executable, "-m", "engine.cli", *map(str, args)], capture_output=True, text=True, **kw)


def test_cli_dry_run_and_errors(data, tmp_path):
    r = _sgv("train", "--data", data, "--outdir", tmp_path / "dry", "--preset", "tiny", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert "dry run OK" in r.stderr and not (tmp_path / "dry").exists()
    r = _sgv("train", "--data", tmp_path / "missing", "--outdir", tmp_path / "x", "--dry-run")
    assert r.returncode == 2 and r.stderr.startswith("sgv: ") and "Traceback" not in r.stderr
    r = _sgv("train", "--outdir", tmp_path / "x", "--dry-run")
    assert r.returncode == 2 and "--data is required" in r.stderr


def test_cli_sigterm_snapshots_and_resume_latest_continues(data, tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "engine.cli", "train", "--data", str(data), "--outdir", str(run), "--preset", "tiny",
           "--kimg", "1000", "--batch", "4", "--tick-kimg", "0.024", "--workers", "1", "--quiet"]  # fmt: skip
    # Its own process group, signalled as a whole (as `timeout`, a terminal's Ctrl-C or the app do): the
    # loader worker gets the signal too and must leave the stopping to the main process.
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not read_log(run / "log.jsonl"):
        time.sleep(0.2)
    assert read_log(run / "log.jsonl"), proc.stderr.read() if proc.poll() is not None else "no tick in 120 s"
    os.killpg(proc.pid, signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert "stopped at" in err
    stopped = load_state(list_states(run)[-1])["cur_nimg"]
    assert engine.load_generator(run / "model-latest.safetensors").img_resolution == 32
    # Resume with the stored options, only the length changed.
    r = _sgv("train", "--outdir", run, "--resume", "latest", "--kimg", stopped / 1000 + 0.024, "--quiet")
    assert r.returncode == 0, r.stderr
    assert load_state(list_states(run)[-1])["cur_nimg"] > stopped


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_run_folder_lock(data, tmp_path):
    from engine.train.loop import _RunLock

    run = tmp_path / "locked"
    run.mkdir()
    held = _RunLock(run)
    try:
        with pytest.raises(TrainingError, match="another training process"):
            training_loop(opts_for(data, run))
    finally:
        held.release()


def test_cli_folder_with_nothing_usable_is_one_clear_error(tmp_path):
    bad = tmp_path / "videos"
    bad.mkdir()
    (bad / "empty.mp4").write_bytes(b"")
    (bad / "notes.txt").write_text("not a video")
    (bad / "truncated.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 40)
    r = _sgv(
        "train",
        "--data",
        bad,
        "--outdir",
        tmp_path / "run",
        "--dry-run",
        env={**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")},
    )
    assert r.returncode == 2, r.stderr
    last = r.stderr.strip().splitlines()[-1]
    assert last.startswith("sgv: ") and "Traceback" not in r.stderr, r.stderr


def test_a_used_run_folder_needs_resume(data, tmp_path):
    run = tmp_path / "used"
    training_loop(opts_for(data, run, total_kimg=0.012))
    with pytest.raises(TrainingError, match="--resume latest"):
        training_loop(opts_for(data, run, total_kimg=0.024))


def test_damaged_frames_end_the_run_with_one_line_and_no_hang(tmp_path):
    data = write_frame_folders(tmp_path / "damaged", lengths=(12, 12))
    for video in data.iterdir():
        for frame in sorted(video.glob("*.png"))[1:]:
            frame.write_bytes(b"not a png")
    r = _sgv("train", "--data", data, "--outdir", tmp_path / "run", "--preset", "tiny", "--kimg", "1",
             "--batch", "4", "--workers", "1", "--quiet", timeout=180)  # fmt: skip
    assert r.returncode == 2, r.stderr
    lines = [x for x in r.stderr.strip().splitlines() if x.startswith("sgv: ")]
    assert len(lines) == 1 and "reading training data failed" in lines[0] and "Traceback" not in r.stderr, r.stderr


def test_fake_motions_cover_the_window_and_follow_their_seed():
    from engine.config import preset
    from engine.nets import Generator
    from engine.train.sampling import fake_motions

    cfg = preset("tiny").generator
    G = Generator(cfg)
    m = cfg.motion
    a = fake_motions(np.array([3, 4]), 100, m.delta_z, m.context, m.z_dim)
    b = fake_motions(np.array([3]), 100, m.delta_z, m.context, m.z_dim)
    assert torch.equal(a[0].noise, b[0].noise) and not torch.equal(a[0].noise, a[1].noise)
    assert abs(float(a[0].noise.std()) - 1) < 0.1
    t = torch.tensor([[0.0, 50.0, 99.999], [12.5, 13.0, 98.0]], dtype=torch.float64)  # up to the window's end
    with torch.no_grad():
        v = G.motion(a, t)
    assert v.shape == (2, 3, cfg.motion.code_dim) and torch.isfinite(v).all()
