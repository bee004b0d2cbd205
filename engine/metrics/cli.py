"""`sgv metrics`: FVD / FID of a model against a dataset, on one process or N ranks."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXAMPLES = """examples:
  sgv weights fetch i3d                                   # once: the I3D file FVD needs (inception for FID)
  sgv metrics --ckpt runs/ffs/model-latest.safetensors --data data/ffs.zip --metric fvd2048_16f
  sgv metrics --ckpt model.safetensors --data data/sky.zip --metric fvd2048_16f,fvd2048_128f --num-runs 3
  sgv metrics --ckpt model.safetensors --data data/sky.zip --metric fid50k_full --gpus 4
  sgv metrics --ckpt model.safetensors --data data/shapes --metric fvd2048_16f --detector ~/i3d_torchscript.pt
  sgv metrics --preset tiny --data data/shapes --metric fvd2048_16f --num-videos 64 --run-dir out/m   # quick look

metrics: fvd2048_16f, fvd2048_128f, fvd2048_128f_subsample8f, fid50k_full (StyleGAN-V's protocol).
Results print as JSON and are appended to <run dir>/metric-<name>.jsonl (run dir: --run-dir, else the
checkpoint's run folder). Real-data statistics are cached (--cache-dir) and reused across runs.
"""


def register(sub) -> None:
    from engine.cli import _add_model_args

    p = sub.add_parser(
        "metrics",
        help="FVD / FID of a model by the StyleGAN-V protocol",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_model_args(p)
    p.add_argument("--data", type=Path, required=True, help="the real dataset (folder of videos / frame folders, zip)")
    p.add_argument("--metric", "--metrics", dest="metric", required=True, help="metric name(s), comma-separated")
    p.add_argument("--num-runs", type=int, default=1, help="repeat with new generated videos; reports mean and std")
    p.add_argument("--gpus", type=int, default=1, help="ranks (one per GPU; CPU ranks under gloo without CUDA)")
    p.add_argument("--detector", type=Path, default=None, help="I3D / Inception TorchScript file (default: cache)")
    p.add_argument("--num-videos", type=int, default=None, help="override the protocol's 2048 videos (not comparable)")
    p.add_argument("--seed", type=int, default=0, help="seed of real clip offsets and generated videos")
    p.add_argument("--run-dir", type=Path, default=None, help="where metric-<name>.jsonl goes")
    p.add_argument("--cache-dir", type=Path, default=None, help="real-statistics cache (default: user cache dir)")
    p.add_argument("--no-cache", action="store_true", help="recompute real statistics and do not store them")
    p.add_argument(
        "--batch-frames", type=int, default=None, help="frames per generator / detector batch (default by resolution)"
    )
    p.add_argument("--workers", type=int, default=2, help="data loader processes per rank reading real frames")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_metrics)


def cmd_metrics(args) -> int:
    from engine.metrics.detectors import MetricError
    from engine.metrics.registry import METRICS
    from engine.train import distributed

    names = [m.strip() for m in args.metric.split(",") if m.strip()]
    unknown = [m for m in names if m not in METRICS]
    if not names or unknown:
        raise MetricError(f"unknown metric {', '.join(unknown) or '(none)'}; known: {', '.join(METRICS)}")
    kinds = {METRICS[m].detector for m in names}
    if args.detector is not None and len(kinds) > 1:
        raise MetricError("--detector names one file, but these metrics need both I3D and Inception; run them apart")
    if args.gpus < 1:
        raise MetricError(f"--gpus must be at least 1, got {args.gpus}")
    args.metric_names = names
    if args.run_dir is None and args.ckpt is not None:
        parent = Path(args.ckpt).expanduser().resolve().parent
        args.run_dir = parent.parent if parent.name == "snapshots" else parent

    launched = distributed.from_torchrun()
    if launched is not None:
        rank, world = launched
        _run(rank, world, None, args)
    elif args.gpus > 1:
        _preflight(args)  # bad input: one clear line here, not a traceback from every rank
        import torch.multiprocessing as mp

        try:
            distributed.launch(args.gpus, _spawned, (args,))
        except mp.ProcessExitedException as e:
            if e.exit_code == 2:  # an SgvError a rank already printed as one line
                return 2
            raise
    else:
        _run(0, 1, None, args)
    return 0


def _device_kind(args) -> str:
    import torch

    if args.device:
        return torch.device(args.device).type
    return "cuda" if torch.cuda.is_available() else "cpu"


def _spawned(rank: int, world: int, port: int, args) -> None:
    """A rank started by `--gpus N`: input errors print one line (rank 0) and exit 2 instead of a traceback."""
    from engine.errors import SgvError

    try:
        _run(rank, world, port, args)
    except SgvError as e:
        if rank == 0:
            print(f"sgv: {e}", file=sys.stderr, flush=True)
        sys.exit(2)


def _run(rank: int, world: int, port: int | None, args) -> None:
    import torch

    from engine.cli import _load_model
    from engine.metrics.detectors import load_detector
    from engine.metrics.registry import METRICS, calc
    from engine.train import distributed

    ranks = distributed.init(rank, world, _device_kind(args), port)
    try:
        if world > 1 or args.device is None:
            args.device = str(ranks.device)  # rank r uses GPU r
        G = _load_model(args)
        detectors = {}
        for name in args.metric_names:
            kind = METRICS[name].detector
            if kind not in detectors:
                detectors[kind] = load_detector(kind, args.detector, device=torch.device(args.device))
            progress = None if (args.quiet or rank != 0) else _bar(name)
            try:
                result = calc(
                    name, G, args.data, detector=detectors[kind], run_dir=args.run_dir,
                    snapshot=args.ckpt, num_runs=args.num_runs, num_videos=args.num_videos, seed=args.seed,
                    rank=rank, world=world, cache=not args.no_cache, cache_dir=args.cache_dir,
                    batch_frames=args.batch_frames, workers=args.workers, progress=progress,
                )  # fmt: skip
            finally:
                if progress is not None:
                    progress.close()
            if rank == 0:
                print(json.dumps(result), flush=True)
                values = ", ".join(f"{k} = {v:.4f}" for k, v in result["results"].items())
                print(
                    f"sgv: {values} ({result['num_real']} real, {result['num_fake']} generated, "
                    f"real stats cache {result['real_stats']['cache']}, {result['total_time']:.1f} s)",
                    file=sys.stderr,
                )
    finally:
        distributed.shutdown()


def _preflight(args) -> None:
    """Open everything once in the parent so a missing file fails here with one line."""
    from engine.cli import _load_model
    from engine.metrics.fvd import real_clips
    from engine.metrics.registry import METRICS, _dataset, check

    check(args.metric_names, args.detector)
    G = _load_model(argparse.Namespace(**{**vars(args), "device": "cpu"}))
    ds = _dataset(args.data, G)
    for name in args.metric_names:
        if METRICS[name].kind == "fvd":
            real_clips(ds, METRICS[name], args.seed, 1)  # at least one video long enough


def _bar(name: str):
    from engine.cli import _Progress

    return _Progress(name, unit="item")
