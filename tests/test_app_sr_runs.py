"""Train > New SR level run: the `sgv train-sr` command line the app builds (app/sr_runs.py), and a real tiny
SR run launched and resumed through the app's run registry, whose snapshot opens as an SR level of its base."""

from __future__ import annotations

import time
from pathlib import Path

from test_training_runs import reaper, wait_for  # noqa: F401 (fixture)

from app.run_registry import TrainingRuns
from app.sr_runs import SRRunSpec
from app.training_runs import RunStatus
from engine.cascade import check_fits, load_sr
from engine.data import write_synthetic_dataset


def test_sr_run_spec_args_and_problems(tmp_path, tiny_model_file):
    spec = SRRunSpec(data=str(tmp_path), outdir=str(tmp_path / "run"), base=str(tiny_model_file), kimg=0.5, batch=4)
    assert spec.problems() == []
    args = spec.args()
    assert args[0] == "train-sr" and args[-1] == "--quiet"
    joined = " ".join(args)
    assert f"--base {Path(tiny_model_file).absolute()}" in joined and "--kimg 0.5 --batch 4" in joined
    assert "--scale 2 --window 4" in joined and "--preset sr-small" in joined
    bad = SRRunSpec(data=str(tmp_path / "nope"), outdir="", base="", preset="huge", scale=3, window=-1, kimg=0)
    text = " | ".join(bad.problems())
    for words in ("nope: no such file", "base model", "run folder", "huge", "scale must be 2 or 4", "window", "kimg"):
        assert words in text, text


def test_sr_run_launched_and_resumed_from_the_app(tmp_path, tiny_model_file, reaper):  # noqa: F811
    data = write_synthetic_dataset(tmp_path / "shapes64", 3, 12, 64, progress=False, workers=1)
    spec = SRRunSpec(
        data=str(data), outdir=str(tmp_path / "sr-run"), base=str(tiny_model_file), preset="sr-tiny", window=1,
        kimg=0.016, batch=2,
    )  # fmt: skip
    runs = TrainingRuns(remember=tmp_path / "runs.json")
    runs.start_monitor(interval_s=0.1)
    try:
        run = runs.launch(spec)
        reaper.append(run.proc)
        wait_for(lambda: not run.status.active and run.status is not RunStatus.EMPTY, 300, "the SR run", run.poll)
        assert run.status is RunStatus.FINISHED, (run.status, run.error, run.stderr_tail[-5:])
        assert run.options.get("kind") == "cascade-sr" and run.latest_model is not None
        sr = load_sr(run.latest_model, device="cpu")
        check_fits(sr.config, 32, 25.0)  # an SR level of the tiny base: opens beside it in the app
        first = run.kimg
        run.resume(0.032)  # `sgv train-sr --resume latest`, not `sgv train`
        reaper.append(run.proc)
        time.sleep(0.2)
        wait_for(lambda: not run.status.active, 300, "the resumed SR run", run.poll)
        assert run.status is RunStatus.FINISHED, (run.status, run.error, run.stderr_tail[-5:])
        assert run.kimg > first
    finally:
        runs.close()
