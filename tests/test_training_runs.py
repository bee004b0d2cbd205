"""app/training_runs.py and app/sgv_commands.py: launching `sgv train` as a process, watching its run folder,
stopping, resuming, attaching to a run started in a terminal, crash reports; and the dataset commands behind
the Train menu.

Real runs are tiny (preset tiny, batch 4, one step per tick); fake `sgv` commands stand in for crashes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from app.run_process import lock_holder
from app.run_registry import TrainingRuns
from app.sgv_commands import (
    SgvCommandError,
    crash_message,
    dataset_info,
    parse_tqdm,
    prepare_dataset,
    summarize_dataset,
    terminal_lines,
)
from app.training_runs import (
    RunSpec,
    RunStatus,
    TrainingRun,
    TrainingRunError,
    format_duration,
    resume_args,
    tick_line,
)
from engine.data import write_synthetic_dataset
from engine.fileio import JsonlTail

CLI = (sys.executable, "-m", "engine.cli")


def wait_for(predicate, timeout_s: float, what: str, poll=None, interval_s: float = 0.1):
    t0 = time.monotonic()
    while True:
        if poll is not None:
            poll()
        if predicate():
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout_s:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


def fake_sgv(tmp_path: Path, body: str) -> tuple[str, ...]:
    """A stand-in for `python -m engine.cli`: a script with `body` (argv as usual)."""
    script = tmp_path / "fake_sgv.py"
    script.write_text("import os, signal, sys, time\n" + textwrap.dedent(body))
    return (sys.executable, str(script))


@pytest.fixture(scope="module")
def shapes(tmp_path_factory) -> Path:
    return write_synthetic_dataset(tmp_path_factory.mktemp("data") / "shapes", 3, 12, 32, progress=False, workers=1)


@pytest.fixture
def reaper():
    """Processes a test started: killed (by pid) if the test fails half-way."""
    procs: list = []
    yield procs
    for p in procs:
        pid = p if isinstance(p, int) else p.pid
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if not isinstance(p, int):
            p.wait(10)


# ----------------------------------------------------------------------------------------------------
# Pure parts


def test_run_spec_args_and_problems(tmp_path):
    spec = RunSpec(data=str(tmp_path), outdir=str(tmp_path / "run"), kimg=0.5, batch=4, gamma=0.1, tick_kimg=0.012)
    assert spec.problems() == []
    args = spec.args()
    assert args[:3] == ["train", "--data", str(tmp_path.resolve())]
    joined = " ".join(args)
    assert "--kimg 0.5 --batch 4" in joined and "--gamma 0.1" in joined and "--tick-kimg 0.012" in joined
    assert "--snap-kimg" not in joined and "--res" not in joined and args[-1] == "--quiet"
    bad = RunSpec(data="", outdir="", preset="huge", resolution=48, kimg=0, batch=6, gpus=4, gamma=-1)
    text = " | ".join(bad.problems())
    for word in ("dataset", "output", "preset", "power of two", "kimg", "divisible", "gamma"):
        assert word in text, (word, text)
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "log.jsonl").write_text("")  # the trainer refuses a used folder without --resume
    assert "already holds a run" in spec.problems()[0]
    assert resume_args(tmp_path, 2.0)[:-1] == ["train", "--outdir", str(tmp_path), "--resume", "latest", "--kimg", "2"]
    assert resume_args(tmp_path)[-1] == "--quiet"


def test_parse_tqdm_and_terminal_lines():
    text = "\rpreparing x:   0%|   | 0/4 [00:00<?, ?video/s]\rpreparing x:  50%|##  | 2/4 [00:01<00:01, 2video/s]"
    assert parse_tqdm(text) == (2, 4)
    assert parse_tqdm("nothing here") is None
    assert terminal_lines("a\rb\nc\r\nd") == ["b", "c", "d"]


WORKER_CRASH = """sgv: Caught DatasetError in DataLoader worker process 0.
Original Traceback (most recent call last):
  File "/x/worker.py", line 375, in _worker_loop
    data = fetcher.fetch(index)
engine.data.base.DatasetError: data/v0/000003.png: damaged or unreadable image (cannot identify image file)
"""


def test_crash_message_picks_the_one_line_reason():
    assert crash_message("loading\nsgv: data/x.zip: not a zip file\n", 2) == "data/x.zip: not a zip file"
    expected = "data/v0/000003.png: damaged or unreadable image (cannot identify image file)"
    assert crash_message(WORKER_CRASH, 2) == expected
    tb = 'Traceback (most recent call last):\n  File "a.py", line 1\nRuntimeError: CUDA error: out of memory\n'
    assert crash_message(tb, 1) == "CUDA error: out of memory"
    assert crash_message("", -9) == "killed by SIGKILL (out of memory?)"
    assert crash_message("", 3) == "exited with status 3"
    assert crash_message("sgv train: error: argument --kimg: invalid float value: 'x'\n", 2).startswith("sgv train")


def test_formatting_helpers():
    assert format_duration(None) == "-" and format_duration(42) == "42 s"
    assert format_duration(3 * 3600 + 120) == "3 h 02 min" and format_duration(125) == "2 min 05 s"
    info = {"format": "frames", "videos": 3, "frames": 36, "min_frames": 12, "median_frames": 12.0, "max_frames": 12,
            "fps": 25.0, "resolution": 32, "stored_size": "64x64", "skipped": 2}  # fmt: skip
    expected = "frames: 3 videos, 36 frames (12 per video), 25 fps, 32x32 (stored 64x64); 2 files skipped"
    assert summarize_dataset(info) == expected
    line = tick_line({"kimg": 0.024, "loss_G": 0.5, "loss_D": None, "aug_p": 0.0, "sec_per_kimg": 30.2,
                      "snapshot": "/r/snapshots/model-0000000024.safetensors"})  # fmt: skip
    assert "G 0.500" in line and "D -" in line and "30.2 s/kimg" in line and "model-0000000024" in line


def test_log_tail_torn_lines_and_replaced_file(tmp_path):
    path = tmp_path / "log.jsonl"
    tail = JsonlTail(path)
    assert tail.read_new() == ([], False)
    path.write_text('{"kimg": 1}\n{"kimg": 2}\n{"kim')
    assert tail.read_new() == ([{"kimg": 1}, {"kimg": 2}], True)
    with open(path, "a") as f:
        f.write('g": 3}\n')
    assert tail.read_new() == ([{"kimg": 3}], False)
    assert tail.read_new() == ([], False)
    tmp = tmp_path / "log.tmp"  # resume trims the log by replacing the file
    tmp.write_text('{"kimg": 1}\n')
    os.replace(tmp, path)
    assert tail.read_new() == ([{"kimg": 1}], True)


def test_attach_refuses_a_folder_that_is_not_a_run(tmp_path):
    runs = TrainingRuns(remember=tmp_path / "runs.json")
    with pytest.raises(TrainingRunError, match="not a training run folder"):
        runs.attach(tmp_path)
    with pytest.raises(TrainingRunError, match="no such folder"):
        runs.attach(tmp_path / "missing")


# ----------------------------------------------------------------------------------------------------
# Real runs


def test_cli_run_attached_stopped_then_resumed_from_the_app(tmp_path, shapes, reaper):
    """A run started from a terminal is attached by its folder, stopped gracefully (snapshot), then resumed by
    the app as its own process, watched to a later kimg and stopped again; the run list is remembered."""
    run_dir = tmp_path / "run"
    cmd = [*CLI, "train", "--data", str(shapes), "--outdir", str(run_dir), "--preset", "tiny", "--kimg", "5"]
    cmd += ["--batch", "4", "--tick-kimg", "0.012", "--workers", "0", "--quiet"]
    cli = subprocess.Popen(cmd, stderr=subprocess.PIPE, start_new_session=True)
    reaper.append(cli)
    wait_for(lambda: (run_dir / "training_options.json").exists(), 60, "the CLI run to start")
    runs = TrainingRuns(remember=tmp_path / "runs.json")
    run = runs.attach(run_dir)
    wait_for(lambda: len(run.ticks) >= 2, 60, "two ticks", run.poll)
    assert run.status is RunStatus.RUNNING and run.external and run.pid == cli.pid == lock_holder(run_dir)
    assert run.total_kimg == 5 and 0 < run.fraction < 1 and run.eta_s() > 0
    assert set(run.series) >= {"loss_G", "loss_D", "aug_p", "sec_per_kimg"} and len(run.series["loss_G"][0]) >= 2

    run.stop()
    assert run.status is RunStatus.STOPPING
    assert cli.wait(60) == 0, cli.stderr.read().decode()
    wait_for(lambda: not run.status.active, 10, "the stop to be seen", run.poll)
    assert run.status is RunStatus.STOPPED and run.has_state and run.can_resume
    assert run.latest_model is not None and run.latest_model.name == f"model-{run.ticks[-1]['nimg']:010d}.safetensors"
    assert run.grid_image is not None and run.grid_image.dtype == np.uint8 and run.grid_image.ndim == 3
    stopped_kimg = run.kimg

    run.resume()
    reaper.append(run.proc)
    assert run.status is RunStatus.STARTING and not run.external
    wait_for(lambda: run.status is RunStatus.RUNNING and run.kimg > stopped_kimg, 60, "resumed ticks", run.poll)
    assert lock_holder(run_dir) == run.pid
    with pytest.raises(TrainingRunError, match="already"):
        run.resume()
    run.stop()
    wait_for(lambda: not run.status.active, 60, "the resumed run to stop", run.poll)
    assert run.status is RunStatus.STOPPED and run.exit_code == 0 and run.error is None
    assert any("stopping after this step" in ln for ln in run.stderr_tail)
    assert run.latest_model.name == f"model-{run.ticks[-1]['nimg']:010d}.safetensors"
    events = runs.take_events()
    assert [k for _, k, _ in events] == ["info", "info"], events
    assert json.loads((tmp_path / "runs.json").read_text()) == [str(run_dir.absolute())]
    again = TrainingRuns(remember=tmp_path / "runs.json")
    assert [r.run_dir for r in again.runs] == [run.run_dir]


def test_crash_is_reported_and_the_monitor_survives(tmp_path, reaper):
    """A fake `sgv` that fails like a data-loader worker would: status crashed, the one-line reason, an error
    event; the monitor thread keeps watching the other runs."""
    command = fake_sgv(tmp_path, f"sys.stderr.write({WORKER_CRASH!r}); sys.exit(2)\n")
    runs = TrainingRuns(command=command)
    runs.start_monitor(interval_s=0.05)
    try:
        spec = RunSpec(data=str(tmp_path), outdir=str(tmp_path / "crash"), kimg=1, batch=4)
        run = runs.launch(spec)
        reaper.append(run.proc)
        wait_for(lambda: run.status is RunStatus.CRASHED, 30, "the crash")
        assert run.exit_code == 2 and run.error.startswith("data/v0/000003.png: damaged or unreadable image")
        assert (tmp_path / "crash" / "train-stderr.log").read_text().count("Original Traceback") == 1
        [(_, kind, message)] = runs.take_events()
        assert kind == "error" and "crashed" in message and "000003.png" in message
        other = tmp_path / "other"  # the monitor still watches: a run that logs a tick after the crash
        other.mkdir()
        (other / "log.jsonl").write_text("")
        watched = runs.attach(other)
        (other / "log.jsonl").write_text(json.dumps({"kimg": 0.5, "nimg": 500, "total_kimg": 1.0}) + "\n")
        wait_for(lambda: watched.kimg == 0.5, 10, "the monitor to read the other run")
        assert watched.status is RunStatus.STOPPED and watched.fraction == 0.5
    finally:
        runs.close()


def test_killed_and_hung_processes(tmp_path, reaper):
    killed = TrainingRun(tmp_path / "oom", fake_sgv(tmp_path, "os.kill(os.getpid(), signal.SIGKILL)\n"))
    killed.launch(["train"])
    reaper.append(killed.proc)
    wait_for(lambda: killed.status is RunStatus.CRASHED, 30, "the kill", killed.poll)
    assert killed.error == "killed by SIGKILL (out of memory?)"

    (tmp_path / "hang").mkdir()
    body = (
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nprint('ready', file=sys.stderr, flush=True)\ntime.sleep(60)\n"
    )
    hung = TrainingRun(tmp_path / "hang", fake_sgv(tmp_path / "hang", body))
    hung.launch(["train"])
    reaper.append(hung.proc)
    wait_for(lambda: "ready" in hung.stderr_tail, 30, "the fake trainer", hung.poll)
    hung.stop(timeout_s=0.5)
    wait_for(lambda: not hung.status.active, 30, "SIGKILL after the stop timeout", hung.poll)
    assert hung.status is RunStatus.STOPPED and "killed after 0.5 s" in hung.note


HANGS_AFTER_ERROR = """
import fcntl
lock = open(sys.argv[-1] + "/.lock", "a+")
fcntl.flock(lock, fcntl.LOCK_EX)
lock.truncate(0); lock.write(str(os.getpid())); lock.flush()
time.sleep(0.5)
fcntl.flock(lock, fcntl.LOCK_UN)
print("sgv: data/x.png: damaged or unreadable image", file=sys.stderr, flush=True)
time.sleep(60)  # like a trainer whose data-loader worker keeps it in the exit-time join
"""


def test_a_process_that_hangs_after_its_loop_ended_is_killed_and_reported(tmp_path, reaper):
    run = TrainingRun(tmp_path / "run", fake_sgv(tmp_path, HANGS_AFTER_ERROR))
    run.exit_grace_s = 1.0
    run.launch(["train", str(tmp_path / "run")])
    reaper.append(run.proc)
    wait_for(lambda: not run.status.active, 30, "the hung process to be killed", run.poll, 0.05)
    assert run.status is RunStatus.CRASHED and run.exit_code == -signal.SIGKILL
    assert run.error == "data/x.png: damaged or unreadable image" and "did not exit within 1 s" in run.note


def test_prepare_and_info_commands(tmp_path):
    src = write_synthetic_dataset(tmp_path / "mp4s", 2, 8, 32, format="mp4", progress=False, workers=1)
    seen = []
    r = prepare_dataset(src, tmp_path / "prepared", 32, progress=lambda d, t=None, m="": seen.append((d, t)))
    assert r["out"] == str(tmp_path / "prepared") and "2 videos, 16 frames" in r["summary"]
    assert r["info"]["videos"] == 2 and r["info"]["resolution"] == 32 and r["info"]["format"] == "frames"
    assert (2, 2) in seen, seen
    with pytest.raises(SgvCommandError) as e:
        dataset_info(tmp_path / "missing")
    assert "missing" in str(e.value) and "\n" not in str(e.value)


def test_prepare_cancel_stops_the_command(tmp_path):
    body = """
    sys.stderr.write("\\rpreparing x:  50%|##  | 1/2 [00:00<00:00]"); sys.stderr.flush()
    time.sleep(60)
    """
    seen, t0 = [], time.monotonic()
    with pytest.raises(SgvCommandError, match="preparing stopped"):
        prepare_dataset(
            tmp_path, tmp_path / "out", 32, progress=lambda d, t=None, m="": seen.append((d, t)),
            cancelled=lambda: bool(seen), command=fake_sgv(tmp_path, body),
        )  # fmt: skip
    assert seen == [(1, 2)] and time.monotonic() - t0 < 20
