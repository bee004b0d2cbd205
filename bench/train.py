"""Training speed: seconds per kimg (thousands of real frames shown to D) of the real loop.

    python bench/train.py                        # tiny on CPU (+ paper256 when CUDA is present)
    python bench/train.py --presets tiny,small --batch 8 --steps 12
    python bench/train.py --presets small --batch 32 --steps 30 --compile reduce-overhead   # on a GPU

Baseline measured in the same run: the bare cost of one step's network work (G forward, D forward and
backward on fake and real clips, no data loading, augmentation, EMA, R1 or bookkeeping). The ratio
loop / baseline is the loop's overhead; the last line is a one-line summary.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.config import preset  # noqa: E402
from engine.motion_codes import MotionCodes  # noqa: E402
from engine.nets import Discriminator, Generator  # noqa: E402
from engine.train import TrainOptions  # noqa: E402
from engine.train.loop import training_loop  # noqa: E402
from engine.train.run import device_kind  # noqa: E402


def write_data(root: Path, res: int, videos: int = 8, frames: int = 64) -> Path:
    from engine.data import write_synthetic_dataset

    write_synthetic_dataset(root, videos=videos, frames=frames, resolution=res, seed=0)
    return root


def loop_sec_per_kimg(
    data: Path, name: str, batch: int, steps: int, device: str, workdir: Path, compile_mode: str = "off"
) -> float:
    k = 3
    times: list[tuple[float, int]] = []
    opts = TrainOptions(
        data=str(data), outdir=str(workdir / f"run-{name}-{compile_mode}"), preset=name, batch=batch,
        total_kimg=batch * k * steps / 1000, tick_kimg=1e9, snap_ticks=10**6, device=device, workers=1,
        sample_contents=2, sample_seconds=0.2, compile=compile_mode,
    )  # fmt: skip
    training_loop(
        opts,
        progress_fn=lambda i: times.append((time.perf_counter(), i["nimg"])) if i["event"] == "step" else None,
    )
    (t0, n0), (t1, n1) = times[2], times[-1]  # skip warm-up steps (and, with --compile, compiling)
    return (t1 - t0) / ((n1 - n0) / 1000)


def bare_sec_per_kimg(name: str, batch: int, steps: int, device: str) -> float:
    cfg = preset(name)
    G = Generator(cfg.generator).to(device).train().requires_grad_(True)
    D = Discriminator(cfg.discriminator).to(device).train().requires_grad_(True)
    res = cfg.generator.synthesis.img_resolution
    t = torch.tensor([[0.0, 4.0, 8.0]] * batch, dtype=torch.float64)
    real = torch.randn(batch, 3, 3, res, res, device=device)
    laps = []
    for s in range(steps):
        start = time.perf_counter()
        z = torch.randn(batch, G.z_dim, device=device)
        x = G.synthesis(G.mapping(z, None), G.motion([MotionCodes(seed=s * batch + i) for i in range(batch)], t))
        (D(x, t.float()).sum() + D(real, t.float()).sum()).backward()
        if device == "cuda":
            torch.cuda.synchronize()
        laps.append(time.perf_counter() - start)
    return float(np.median(laps[2:])) / (batch * 3 / 1000)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", default=None, help="default: tiny (+ paper256 with CUDA)")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--compile", default=None, help="also time the loop under `sgv train --compile MODE`")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = device_kind(TrainOptions().device)
    names = args.presets.split(",") if args.presets else ["tiny"] + (["paper256"] if device == "cuda" else [])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            res = preset(name).generator.synthesis.img_resolution
            data = write_data(Path(tmp) / f"data{res}", res)
            loop = loop_sec_per_kimg(data, name, args.batch, args.steps, device, Path(tmp))
            bare = bare_sec_per_kimg(name, args.batch, args.steps, device)
            rows.append((name, loop, bare))
            print(f"{name:9s} {device}: loop {loop:8.2f} s/kimg, bare G+D {bare:8.2f} s/kimg, ratio {loop / bare:.2f}")
            if args.compile:
                compiled = loop_sec_per_kimg(data, name, args.batch, args.steps, device, Path(tmp), args.compile)
                print(
                    f"{name:9s} {device}: loop --compile {args.compile} {compiled:8.2f} s/kimg, "
                    f"{compiled / loop:.2f}x eager"
                )
    print("summary: " + "; ".join(f"{n} {loop:.2f} s/kimg ({loop / bare:.2f}x bare)" for n, loop, bare in rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
