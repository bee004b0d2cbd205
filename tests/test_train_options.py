"""Each training option is defined once (engine/train/options.py): `sgv train`'s flags and the app's New run
dialog (RunSpec) are derived from TrainOptions' fields, with the same defaults and the same checks."""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys

import pytest

from app.training_runs import RunSpec, preset_names
from engine.cli import build_parser
from engine.config import PRESETS
from engine.train.options import TrainOptions, auto_gamma, field_choices, field_help, flag_fields, option_fields


def _train_parser() -> argparse.ArgumentParser:
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices["train"]


def test_every_flag_comes_from_its_field():
    actions = {s: a for a in _train_parser()._actions for s in a.option_strings}
    assert len(flag_fields()) >= 15
    for flag, name in flag_fields().items():
        action = actions[flag]
        assert action.help.startswith(field_help(name)), (flag, action.help)
        assert tuple(action.choices or ()) == field_choices(name), flag
    assert field_choices("preset") == tuple(PRESETS) == preset_names()
    assert all(f.metadata.get("help") for f in option_fields().values()), "every option says what it is"


def test_flags_set_their_fields():
    from engine.cli.train import _options

    args = _train_parser().parse_args(
        ["--outdir", "r", "--data", "d", "--kimg", "2", "--aug", "noaug", "--no-mirror", "--res", "64", "--seed", "3"]
    )
    opts = _options(args)
    assert (opts.total_kimg, opts.aug, opts.mirror, opts.resolution, opts.seed) == (2.0, "noaug", False, 64, 3)
    assert opts.batch == TrainOptions().batch  # unset flags keep the field's default


def test_app_run_spec_has_the_trainers_defaults_and_checks(tmp_path):
    spec = RunSpec(data="d", outdir=str(tmp_path / "o"))
    assert spec.options() == TrainOptions(data="d", outdir=str(tmp_path / "o"))
    for bad in (dict(preset="huge"), dict(kimg=0), dict(batch=6, gpus=4), dict(gamma=-1), dict(resolution=48)):
        spec = RunSpec(data="d", outdir=str(tmp_path / "o"), **bad)
        assert spec.problems() == spec.options().problems() != [], bad


def test_app_run_spec_passes_compile_and_device_data(tmp_path):
    plain = RunSpec(data="d", outdir=str(tmp_path / "o")).args()
    assert "--compile" not in plain and "--data-on-device" not in plain
    spec = RunSpec(data="d", outdir=str(tmp_path / "o"), compile="reduce-overhead", data_on_device=True)
    args = spec.args()
    assert args[args.index("--compile") + 1] == "reduce-overhead" and "--data-on-device" in args
    from engine.cli.train import _options

    parsed = _options(_train_parser().parse_args(args[1:]))  # what `sgv train` makes of the app's command line
    assert (parsed.compile, parsed.data_on_device) == ("reduce-overhead", True)
    assert RunSpec(data="d", outdir="o", compile="fast").problems() != []


def test_ranges_and_choices_are_checked():
    problems = " | ".join(TrainOptions(data="d", outdir="o", aug_p=2.0, precision="fp8", num_frames=1).problems())
    assert "--aug-p must be at most 1" in problems and "--precision must be" in problems
    assert "num_frames must be at least 2" in problems
    assert TrainOptions(data="d", outdir="o").problems() == []
    assert TrainOptions(batch=64).r1_gamma(256) == auto_gamma(256, 64) == 0.0002 * 256 * 256 / 64


def test_options_import_without_torch():
    code = "import sys, engine.train.options, app.training_runs; assert 'torch' not in sys.modules, 'torch loaded'"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert dataclasses.is_dataclass(TrainOptions)


def test_resolution_below_the_discriminators_frame_join_is_one_line():
    """`--res 16` once crashed inside D (AttributeError: it joins the k frames at 16², below its first block)."""
    from engine.config import ConfigError, preset
    from engine.nets import Discriminator, Generator

    with pytest.raises(ConfigError, match="resolution 16 is too small .* at least 32"):
        Discriminator(preset("tiny", resolution=16).discriminator)
    Generator(preset("tiny", resolution=16).generator)  # a generator alone is fine at 16²
    problems = TrainOptions(data="d", outdir="o", resolution=16).problems()
    assert problems == [
        "--res: resolution 16 is too small for the video discriminator: it joins the frames at 16², "
        "so the resolution must be at least 32"
    ]
    assert TrainOptions(data="d", outdir="o", resolution=32).problems() == []
