"""`sgv train-sr`: train a cascade super-resolution level on a base model's dataset (engine.cascade.train)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from engine.cli.train import _override, _progress_for

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

_FIELDS = {
    "data": "data",
    "base": "base",
    "preset": "preset",
    "scale": "scale",
    "window": "window",
    "base_res": "base_resolution",
    "kimg": "total_kimg",
    "batch": "batch",
    "batch_gpu": "batch_gpu",
    "frames": "num_frames",
    "lr_g": "lr_g",
    "lr_d": "lr_d",
    "gamma": "gamma",
    "lr_cond_prob": "lr_cond_prob",
    "degrade_p": "degrade_p",
    "recon_weight": "recon_weight",
    "ema_kimg": "ema_kimg",
    "mirror": "mirror",
    "tick_kimg": "tick_kimg",
    "keep_states": "keep_states",
    "seed": "seed",
    "workers": "workers",
    "device": "device",
    "gpus": "gpus",
}


def register(sub) -> None:
    S = argparse.SUPPRESS  # unset flags stay absent, so `--resume latest` reuses the run's stored options
    p = sub.add_parser(
        "train-sr",
        help="train a cascade super-resolution level (sharper frames on top of a base model)",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--data", default=S, help="the base's dataset (any layout `sgv train` reads)")
    p.add_argument("--outdir", required=True, type=Path, help="run folder (created)")
    p.add_argument("--base", default=S, help="base model file: input size and fps come from it (checked)")
    p.add_argument("--preset", default=S, help="sr-tiny, sr-small or sr-large (default sr-small)")
    p.add_argument("--scale", type=int, choices=[2, 4], default=S, help="upscaling factor (default 2)")
    p.add_argument("--window", type=int, default=S, help="k: each frame sees base frames t-k..t+k (default 4)")
    p.add_argument("--base-res", type=int, default=S, help="input side without --base (default data side / scale)")
    p.add_argument("--kimg", type=float, default=S, help="thousands of high-res frames shown to D (default 1000)")
    p.add_argument("--batch", type=int, default=S, help="clips per step (default 16)")
    p.add_argument("--batch-gpu", type=int, default=S, help="clips per forward pass (gradient accumulation)")
    p.add_argument("--frames", type=int, default=S, help="consecutive frames per clip seen by D (default 4)")
    p.add_argument("--lr-g", type=float, default=S, help="G learning rate (default 0.005)")
    p.add_argument("--lr-d", type=float, default=S, help="D learning rate (default 0.0025)")
    p.add_argument("--gamma", type=float, default=S, help="R1 weight (default 1)")
    p.add_argument("--lr-cond-prob", type=float, default=S, help="P(D sees the low-res input) (default 0.1)")
    p.add_argument("--degrade-p", type=float, default=S, help="P(G's low-res input is degraded) (default 0.1)")
    p.add_argument("--recon-weight", type=float, default=S, help="weight of the MSE to real frames (default 100)")
    p.add_argument("--ema-kimg", type=float, default=S, help="G_ema half-life in thousands of clips")
    p.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=S, help="x-flip whole clips (on)")
    p.add_argument("--tick-kimg", type=float, default=S, help="log interval in kimg (default 1)")
    p.add_argument("--snap-kimg", type=float, default=S, help="snapshot every this many kimg (default 20)")
    p.add_argument("--keep-states", type=int, default=S, help="training states kept (default 2; models: all)")
    p.add_argument("--seed", type=int, default=S, help="random seed (default 0)")
    p.add_argument("--workers", type=int, default=S, help="data loader processes")
    p.add_argument("--device", default=S, help="cpu or cuda (default: cuda if available)")
    p.add_argument("--gpus", type=int, default=S, help="ranks to spawn: one per GPU, gloo ranks on CPU (or torchrun)")
    p.add_argument(
        "--metrics", default=S, help="comma-separated metrics of the whole cascade at snapshots (needs --base)"
    )
    p.add_argument("--override", type=_override, action="append", default=S, help="SR config KEY=VALUE")
    p.add_argument("--resume", default=None, help="'latest' (this run folder), a state .pt, or another run folder")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train_sr)


def _options(args):
    from engine.cascade.options import SRTrainOptions

    given = vars(args)
    stored = Path(args.outdir) / "training_options.json"
    base = SRTrainOptions.from_json_file(stored) if args.resume and stored.exists() else None
    opts = base or SRTrainOptions()
    changes = {"outdir": str(args.outdir)}
    for flag, field in _FIELDS.items():
        if flag in given:
            changes[field] = given[flag]
    for key in ("data", "base"):
        if key in changes and changes[key]:
            changes[key] = str(Path(changes[key]).expanduser())
    if "metrics" in given:
        changes["metrics"] = tuple(m.strip() for m in given["metrics"].split(",") if m.strip())
    if "override" in given:
        changes["overrides"] = {**opts.overrides, **dict(given["override"])}
    opts = opts.replace(**changes)
    if "snap_kimg" in given:
        opts = opts.replace(snap_ticks=max(1, round(given["snap_kimg"] / opts.tick_kimg)))
    return opts


def cmd_train_sr(args) -> int:
    from engine.cascade.train import run_sr_training

    opts = _options(args)
    opts.validate()  # bad options are one line before any progress bar appears
    result = run_sr_training(opts, resume=args.resume, make_progress=_progress_for(args.quiet))
    if result is not None:  # None: spawned ranks (--gpus N) ran it and rank 0's bar reported
        state = "stopped" if result.aborted else "finished"
        print(f"sgv train-sr: {state} at {result.cur_nimg / 1000:g} kimg; model: {result.model}", file=sys.stderr)
    return 0
