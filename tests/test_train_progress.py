"""The `sgv train` progress bar: its end follows the loop, which may pass --kimg by up to one batch."""

from __future__ import annotations

import warnings

from engine.cli.train import make_progress


def test_bar_ends_at_the_last_batch_without_tqdm_warnings(tmp_path, capsys):
    progress = make_progress(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tqdm's "clamping frac to range [0, 1]" is a TqdmWarning
        progress({"event": "start", "nimg": 0, "total_nimg": 50, "run_dir": str(tmp_path / "run")})
        for nimg in range(8, 57, 8):  # batches of 8 up to 56 images: 112 % of 0.05 kimg
            progress({"event": "step", "nimg": nimg, "total_nimg": 50})
        progress({"event": "done", "nimg": 56, "aborted": False, "model": None})
    err = capsys.readouterr().err
    assert "clamping" not in err
    last = err.replace("\r", "\n").strip().splitlines()[-1]
    assert "100%" in last and "/0.056 kimg" in last, last  # the bar's end is where the run ended


def test_quiet_and_other_ranks_print_nothing(tmp_path, capsys):
    for progress in (make_progress(1), make_progress(0, quiet=True)):
        progress({"event": "start", "nimg": 0, "total_nimg": 50, "run_dir": str(tmp_path)})
        progress({"event": "done", "nimg": 56, "aborted": False, "model": None})
    assert capsys.readouterr().err == ""
