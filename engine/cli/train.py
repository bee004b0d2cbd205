"""`sgv train`: thin over engine.train.run (run_training, check_run)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine.cli.common import add_command
from engine.train.options import SNAP_KIMG, field_choices, field_default, flag_fields, option_fields

EXAMPLES = """examples:
  sgv dataset synth --out data/shapes --videos 64 --frames 256 --res 32
  sgv train --data data/shapes --outdir runs/tiny --preset tiny --kimg 50 --batch 8
  sgv train --data ~/videos --outdir runs/mine --preset small --kimg 2000      # a folder of mp4 files
  sgv train --outdir runs/mine --resume latest                                 # continue where it stopped
  sgv train --data data/ffs.zip --outdir runs/ffs --preset paper256 --gpus 4   # 4 GPUs (or: torchrun ... sgv train)
  sgv train --data data/sky.zip --outdir runs/sky --preset paper256 --override generator.motion.min_period=256
  sgv train --data data/shapes --outdir runs/x --preset tiny --dry-run        # check everything, train nothing

Ctrl-C (or SIGTERM) writes a snapshot and exits; --resume latest continues exactly.
Run folder: training_options.json, log.jsonl (one JSON object per tick), samples/, snapshots/,
model-latest.safetensors (load it with `sgv generate --ckpt`).
"""


def _override(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"--override needs KEY=VALUE, got '{text}'")
    key, value = text.split("=", 1)
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = value
    return key.strip(), parsed


def register(sub) -> None:
    S = argparse.SUPPRESS  # unset flags stay absent, so `--resume latest` can reuse the run's stored options
    p = add_command(sub, "train", "train a model on a folder of videos, frame folders or a zip", EXAMPLES)
    p.add_argument("--outdir", required=True, type=Path, help="run folder (created)")
    add_option_flags(p)
    p.add_argument("--lr", type=float, default=S, help="learning rate of G and D (default 0.0025)")
    p.add_argument("--resume", default=None, help="'latest' (this run folder), a state .pt, or another run folder")
    p.add_argument("--snap-kimg", type=float, default=S, help=f"snapshot every this many kimg (default {SNAP_KIMG:g})")
    p.add_argument("--metrics", default=S, help="comma-separated metrics evaluated at snapshots")
    p.add_argument("--override", type=_override, action="append", default=S, help="model config KEY=VALUE")
    p.add_argument("--dry-run", action="store_true", help="check data, options and model; train nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)


def add_option_flags(p: argparse.ArgumentParser, cls: type | None = None) -> None:
    """One flag per options field that has one (TrainOptions unless `cls`): type, choices and help (with the
    default) from the field. Unset flags stay absent from the arguments (`--resume` keeps the stored value)."""
    fields = option_fields(cls)
    for flag, name in flag_fields(cls).items():
        f = fields[name]
        default = field_default(name, cls)
        shown = "on" if default is True else f"{default:g}" if isinstance(default, float) else default
        help_text = f.metadata["help"] + (
            "" if default is None or default is False or default == "" else f" (default {shown})"
        )
        kwargs: dict = dict(default=argparse.SUPPRESS, help=help_text)
        kind = f.type if isinstance(f.type, str) else f.type.__name__
        if kind == "bool":
            kwargs["action"] = argparse.BooleanOptionalAction if default else "store_true"
        else:
            kwargs["type"] = float if kind.startswith("float") else int if kind.startswith("int") else str
            if field_choices(name, cls):
                kwargs["choices"] = field_choices(name, cls)
        p.add_argument(flag, **kwargs)


def given_options(args, cls: type | None = None) -> dict:
    """Field → value of every option flag given on the command line (TrainOptions unless `cls`)."""
    given = vars(args)
    dests = {name: flag[2:].replace("-", "_") for flag, name in flag_fields(cls).items()}
    return {name: given[dest] for name, dest in dests.items() if dest in given}


def apply_args(opts, args, cls: type | None = None, paths: tuple[str, ...] = ("data",), extra: dict | None = None):
    """`opts` (TrainOptions unless `cls`) with what the command line gives: the option flags and the run folder,
    `paths` expanded (~), --metrics (comma-separated), --override KEY=VALUE (added to the stored ones),
    --snap-kimg (as snap_ticks) and `extra` field changes."""
    given = vars(args)
    changes = {"outdir": str(args.outdir), **given_options(args, cls), **(extra or {})}
    for key in paths:
        if changes.get(key):
            changes[key] = str(Path(changes[key]).expanduser())
    if "metrics" in given:
        changes["metrics"] = tuple(m.strip() for m in given["metrics"].split(",") if m.strip())
    if "override" in given:
        changes["overrides"] = {**opts.overrides, **dict(given["override"])}
    opts = opts.replace(**changes)
    if "snap_kimg" in given:
        opts = opts.replace(snap_ticks=max(1, round(given["snap_kimg"] / opts.tick_kimg)))
    return opts


def _options(args):
    from engine.train.options import TrainOptions
    from engine.train.run import read_run_options

    given = vars(args)
    base = read_run_options(args.outdir) if args.resume else None
    lr = {"lr_g": given["lr"], "lr_d": given["lr"]} if "lr" in given else None
    opts = apply_args(base or TrainOptions(), args, extra=lr)
    if base is None and "snap_kimg" not in given:
        opts = opts.replace(snap_ticks=max(1, round(SNAP_KIMG / opts.tick_kimg)))
    return opts


def cmd_train(args) -> int:
    from engine.train.run import run_training

    opts = _options(args)
    opts.validate()
    if args.dry_run:
        return _dry_run(opts, args.resume)
    result = run_training(opts, resume=args.resume, make_progress=_progress_for(args.quiet))
    if result is not None:
        state = "stopped" if result.aborted else "finished"
        print(f"sgv train: {state} at {result.cur_nimg / 1000:g} kimg; model: {result.model}", file=sys.stderr)
    return 0


def _progress_for(quiet: bool):
    import functools

    return functools.partial(make_progress, quiet=quiet)


def make_progress(rank: int, quiet: bool = False):
    """A tqdm bar in kimg on rank 0, with the latest tick's losses as its postfix."""
    if rank != 0 or quiet:
        return lambda info: None
    from tqdm import tqdm

    bar = tqdm(
        unit="kimg",
        dynamic_ncols=True,
        bar_format="{l_bar}{bar}| {n:.1f}/{total_fmt} kimg [{elapsed}<{remaining}]{postfix}",
    )

    def advance(nimg: int) -> None:
        # The loop trains whole batches, so it ends up to one batch past --kimg: the bar's end moves with it
        # (a count past the total makes tqdm warn "clamping frac to range [0, 1]").
        bar.n = nimg / 1000
        bar.total = max(bar.total or 0, bar.n)

    def progress(info: dict) -> None:
        event = info["event"]
        if event == "start":
            bar.total = info["total_nimg"] / 1000
            advance(info["nimg"])
            bar.set_description(Path(info["run_dir"]).name)
        elif event == "step":
            advance(info["nimg"])
            bar.refresh()
        elif event == "tick":
            fmt = lambda x: "-" if x is None else f"{x:.3g}"  # noqa: E731
            bar.set_postfix_str(
                f"G {fmt(info['loss_G'])} D {fmt(info['loss_D'])} p {info['aug_p']:.2f} "
                f"{fmt(info['sec_per_kimg'])} s/kimg"
            )
            if info.get("snapshot"):
                bar.write(f"snapshot: {info['snapshot']}")
        elif event == "note":
            bar.write(info["text"])
        elif event == "done":
            advance(info["nimg"])
            bar.close()

    return progress


def _dry_run(opts, resume) -> int:
    from engine.train.run import check_run

    plan = check_run(opts, resume)
    print(opts.to_json())
    print(f"dataset: {json.dumps(plan.dataset, default=str)}", file=sys.stderr)
    print(
        f"model: {plan.model_name} {plan.resolution}x{plan.resolution}, G {plan.g_params / 1e6:.2f} M params, "
        f"D {plan.d_params / 1e6:.2f} M; R1 gamma {opts.r1_gamma(plan.resolution):g}; "
        f"{plan.steps} steps of {opts.batch} videos x {opts.num_frames} frames",
        file=sys.stderr,
    )
    if plan.resume_from is not None:
        print(f"would resume from {plan.resume_from} at {plan.resume_nimg / 1000:.1f} kimg", file=sys.stderr)
    print("sgv train: dry run OK (nothing written)", file=sys.stderr)
    return 0
