"""`sgv metrics`: FVD / FID / FSD of a model against a dataset, on one process or N ranks (engine.metrics.evaluate)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from engine.cli.common import Progress, add_command, add_model_args, note

EXAMPLES = """examples:
  sgv weights fetch i3d                                   # once: the I3D file FVD needs (inception for FID)
  sgv metrics --ckpt runs/ffs/model-latest.safetensors --data data/ffs.zip --metric fvd2048_16f
  sgv metrics --ckpt model.safetensors --data data/sky.zip --metric fvd2048_16f,fvd2048_128f --num-runs 3
  sgv metrics --ckpt model.safetensors --data data/sky.zip --metric fid50k_full --gpus 4
  sgv metrics --ckpt model.safetensors --data data/shapes --metric fvd2048_16f --detector ~/i3d_torchscript.pt
  sgv metrics --preset tiny --data data/shapes --metric fvd2048_16f --num-videos 64 --run-dir out/m   # quick look
  sgv metrics --data /tmp/shapes64 --metric fsd2048       # the bundled model on `sgv dataset synth` data, offline

metrics: fvd2048_16f, fvd2048_128f, fvd2048_128f_subsample8f, fid50k_full (StyleGAN-V's protocol);
fsd2048: Fréchet distance in the feature space of a small network trained on `sgv dataset synth` ground truth
(committed, no download; meaningful for synthetic data only; --detector takes another feature file).
Results print as JSON and are appended to <run dir>/metric-<name>.jsonl (run dir: --run-dir, else the
checkpoint's run folder). Real-data statistics are cached (--cache-dir) and reused across runs.
"""


def register(sub) -> None:
    p = add_command(sub, "metrics", "FVD / FID of a model by the StyleGAN-V protocol (fsd offline)", EXAMPLES)
    add_model_args(p)
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
    from engine.metrics.evaluate import MetricsRequest, RankFailed, evaluate
    from engine.model_source import ModelSource

    model = ModelSource.from_args(args)
    request = MetricsRequest(
        metrics=tuple(m.strip() for m in args.metric.split(",") if m.strip()),
        data=args.data,
        model=model,
        num_runs=args.num_runs,
        gpus=args.gpus,
        detector=args.detector,
        num_videos=args.num_videos,
        seed=args.seed,
        run_dir=args.run_dir,
        cache=not args.no_cache,
        cache_dir=args.cache_dir,
        batch_frames=args.batch_frames,
        workers=args.workers,
    ).checked()
    if model.preset:
        note(f"note: using an UNTRAINED '{model.preset}' network (random weights, seed {model.init_seed})")
    try:
        evaluate(request, on_result=print_result, make_progress=None if args.quiet else progress_bar)
    except RankFailed:  # the rank printed its one line already
        return 2
    return 0


def print_result(result: dict) -> None:
    """The result as one JSON line on stdout, and a readable summary on stderr."""
    print(json.dumps(result), flush=True)
    values = ", ".join(f"{k} = {v:.4f}" for k, v in result["results"].items())
    print(
        f"sgv: {values} ({result['num_real']} real, {result['num_fake']} generated, "
        f"real stats cache {result['real_stats']['cache']}, {result['total_time']:.1f} s)",
        file=sys.stderr,
    )


def progress_bar(name: str) -> Progress:
    return Progress(name, unit="item")
