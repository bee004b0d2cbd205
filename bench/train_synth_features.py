"""Train the synthetic-data feature network behind `sgv metrics --metric fsd2048` (run once; weights committed).

    python bench/train_synth_features.py                      # → assets/metrics/synth-features.safetensors (+ .json)
    python bench/train_synth_features.py --videos 64 --steps 50 --out /tmp/f.safetensors   # a quick try

Frames come from `synth_video((seed, i), …)` with seed 7 (neither the bundled model's data, seed 0, nor the
held-out floor, seed 1), a few random times per video; the targets are their ground-truth attributes
(engine/metrics/synth_features.py: frame_targets). The loss is the mean squared error per attribute, each
scaled by its spread in the training set. Prints the validation R² (1 − MSE / variance, on videos it never saw)
per attribute group, so a model file's quality is visible; deterministic for a given thread count.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.data.synth import SHAPE_KINDS, SYNTH_VERSION, synth_video  # noqa: E402
from engine.metrics.synth_features import (  # noqa: E402
    BUNDLED_FEATURES,
    SynthFeatureNet,
    SynthFeaturesConfig,
    frame_targets,
    save_features,
)

TRAIN_SEED = 7


def make_set(first: int, videos: int, per_video: int, frames: int, res: int, rng: np.random.Generator, grid: int):
    xs, ys = [], []
    for i in range(first, first + videos):
        ts = np.sort(rng.choice(frames, per_video, replace=False))
        xs.append(np.concatenate([synth_video((TRAIN_SEED, i), 1, res, t0=int(t)) for t in ts]))  # [n, R, R, 3]
        ys.append(frame_targets((TRAIN_SEED, i), ts.astype(np.float64), grid))
    x = torch.from_numpy(np.concatenate(xs)).permute(0, 3, 1, 2).contiguous()  # uint8 [N, 3, R, R]
    return x, torch.from_numpy(np.concatenate(ys))


def groups(cfg: SynthFeaturesConfig) -> list[tuple[str, slice]]:
    k, g = len(SHAPE_KINDS), cfg.grid**2
    edges = [("counts", k), ("sizes", k), ("stripes", 1), ("background", 6), ("positions", k * g), ("colours", 3 * g)]
    out, start = [], 0
    for name, n in edges:
        out.append((name, slice(start, start + n)))
        start += n
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=BUNDLED_FEATURES)
    ap.add_argument("--videos", type=int, default=8192, help="training videos (scenes)")
    ap.add_argument("--val-videos", type=int, default=512)
    ap.add_argument("--per-video", type=int, default=1, help="random frames per video")
    ap.add_argument("--frames", type=int, default=256, help="times drawn from 0 … frames − 1 (the dataset's length)")
    ap.add_argument("--steps", type=int, default=2500)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    cfg = SynthFeaturesConfig(synth_version=SYNTH_VERSION)
    rng = np.random.default_rng(args.seed)
    start = time.time()
    x, y = make_set(0, args.videos, args.per_video, args.frames, cfg.resolution, rng, cfg.grid)
    xv, yv = make_set(args.videos, args.val_videos, args.per_video, args.frames, cfg.resolution, rng, cfg.grid)
    print(f"data: {len(x)} training / {len(xv)} validation frames in {time.time() - start:.0f} s", flush=True)
    mean, scale = y.mean(0), y.std(0).clamp_min(1e-3)
    net = SynthFeatureNet(cfg)
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps, pct_start=0.1)
    gen = torch.Generator().manual_seed(args.seed)
    start = time.time()
    for step in range(args.steps):
        idx = torch.randint(0, len(x), (args.batch,), generator=gen)
        loss = ((net(x[idx], return_features=False) - (y[idx] - mean) / scale) ** 2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        if step % 250 == 0 or step == args.steps - 1:
            print(f"step {step:5d}  loss {loss.item():.4f}  {time.time() - start:.0f} s", flush=True)
    net.eval()
    with torch.no_grad():
        pred = torch.cat([net(xv[i : i + 256], return_features=False) for i in range(0, len(xv), 256)])
    pred = pred * scale + mean
    r2 = {}
    for name, sl in groups(cfg):
        err = ((pred[:, sl] - yv[:, sl]) ** 2).mean()
        var = yv[:, sl].var(0, unbiased=False).mean().clamp_min(1e-12)
        r2[name] = round(float(1 - err / var), 3)
    print("validation R²: " + ", ".join(f"{k} {v:.3f}" for k, v in r2.items()))
    extra = {
        "training": {
            "script": "bench/train_synth_features.py",
            "data_seed": TRAIN_SEED,
            "videos": args.videos,
            "per_video": args.per_video,
            "frames": args.frames,
            "steps": args.steps,
            "batch": args.batch,
            "lr": args.lr,
            "seed": args.seed,
            "validation_r2": r2,
        },
        "target_mean": mean.tolist(),
        "target_scale": scale.tolist(),
    }
    save_features(net, args.out, extra)
    print(f"wrote {args.out} ({args.out.stat().st_size / 2**20:.2f} MiB) and {args.out.with_suffix('.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
