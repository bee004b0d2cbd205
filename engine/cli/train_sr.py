"""`sgv train-sr`: train a cascade super-resolution level on a base model's dataset (engine.cascade.train)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.cli.common import add_command
from engine.cli.train import _override, _progress_for, add_option_flags, apply_args

EXAMPLES = """examples:
  sgv dataset synth --out data/shapes128 --videos 64 --frames 256 --res 128 --seed 0   # the base data at 2x
  sgv train-sr --data data/shapes128 --base base.safetensors --outdir runs/sr --scale 2 --kimg 200
  sgv train-sr --outdir runs/sr --resume latest                  # continue exactly where it stopped
  sgv train-sr --data data/ffs.zip --base ffs64.safetensors --outdir runs/sr4 --scale 4 --preset sr-large --gpus 4
  sgv train-sr --data data/shapes128 --base base.safetensors --outdir runs/sr --metrics fsd2048   # of the cascade
  sgv generate --ckpt base.safetensors --sr runs/sr/model-latest.safetensors --out out.mp4

The data is read at (base resolution x scale); its low-resolution view is the same frames downsampled by the
reader (Lanczos), like the base's own training data. --base sets the input size and fps and is checked
against the data; without it the input side is the data's side / scale. Ctrl-C (or SIGTERM) writes a
snapshot and exits. Run folder: training_options.json, log.jsonl (psnr_sr / psnr_bicubic at snapshots),
samples/ (low-res | SR | real), snapshots/, model-latest.safetensors.
"""


def register(sub) -> None:
    from engine.cascade.options import SRTrainOptions

    S = argparse.SUPPRESS  # unset flags stay absent, so `--resume latest` reuses the run's stored options
    p = add_command(
        sub, "train-sr", "train a cascade super-resolution level (sharper frames on top of a base model)", EXAMPLES
    )
    p.add_argument("--outdir", required=True, type=Path, help="run folder (created)")
    add_option_flags(p, SRTrainOptions)
    p.add_argument("--snap-kimg", type=float, default=S, help="snapshot every this many kimg (default 20)")
    p.add_argument(
        "--metrics", default=S, help="comma-separated metrics of the whole cascade at snapshots (needs --base)"
    )
    p.add_argument("--override", type=_override, action="append", default=S, help="SR config KEY=VALUE")
    p.add_argument("--resume", default=None, help="'latest' (this run folder), a state .pt, or another run folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train_sr)


def _options(args):
    from engine.cascade.options import SRTrainOptions

    stored = Path(args.outdir) / "training_options.json"
    base = SRTrainOptions.from_json_file(stored) if args.resume and stored.exists() else None
    return apply_args(base or SRTrainOptions(), args, SRTrainOptions, paths=("data", "base"))


def cmd_train_sr(args) -> int:
    from engine.cascade.train import run_sr_training

    opts = _options(args)
    opts.validate()  # bad options are one line before any progress bar appears
    result = run_sr_training(opts, resume=args.resume, make_progress=_progress_for(args.quiet))
    if result is not None:  # None: spawned ranks (--gpus N) ran it and rank 0's bar reported
        state = "stopped" if result.aborted else "finished"
        print(f"sgv train-sr: {state} at {result.cur_nimg / 1000:g} kimg; model: {result.model}", file=sys.stderr)
    return 0
