"""One training step on the CPU: our networks and loss against upstream StyleGAN-V's own, same run.

    python bench/train_step.py --threads 2                                   # ours only
    python bench/train_step.py --threads 2 --upstream ~/src/stylegan-v --upstream-deps ~/upstream-deps

A step is the network work of a step of the training loop without augmentation: the Gmain and Dmain
phases (G forward, D on fake and real clips, backward, Adam) plus the Dreg (R1) phase every 16 steps, at
batch 8, k = 3 frames per clip, the small preset (64², fp32). Ours runs through `VideoGANLoss` and the
loop's own Adam settings; upstream's through its `StyleGAN2Loss` in a subprocess
(bench/upstream_train_runner.py) on the same config. The last line is the ratio ours / upstream.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.config import preset  # noqa: E402
from engine.motion_codes import MotionCodes  # noqa: E402
from engine.nets import Discriminator, Generator  # noqa: E402
from engine.train.loop import _adam  # noqa: E402
from engine.train.loss import Phase, VideoGANLoss  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from upstream_train_runner import time_step  # noqa: E402  (imports nothing of upstream itself)


def ours(name: str, batch: int, k: int, steps: int, reg_reps: int, reg_interval: int, gamma: float) -> dict:
    cfg = preset(name)
    torch.manual_seed(0)
    G = Generator(cfg.generator).train().requires_grad_(False)
    D = Discriminator(cfg.discriminator).train().requires_grad_(False)
    opt_G, opt_D = _adam(G, 0.0025, 0), _adam(D, 0.0025, reg_interval)
    loss_fn = VideoGANLoss(G, D, None, gamma, "fp32", channels_last=True)  # as the loop runs on a CPU
    res = cfg.generator.synthesis.img_resolution
    real_img = torch.rand(batch, k, 3, res, res) * 2 - 1

    def times() -> torch.Tensor:
        return torch.sort(torch.rand(batch, k, dtype=torch.float64) * 32, dim=1).values.floor()

    calls = itertools.count()

    def phase(p: Phase, module, opt) -> None:
        step = next(calls)
        opt.zero_grad(set_to_none=True)
        module.requires_grad_(True)
        fake = (torch.randn(batch, G.z_dim), None, times(), [MotionCodes(seed=step * batch + i) for i in range(batch)])
        loss, _ = loss_fn.phase_loss(p, (real_img, times(), None), fake)
        loss.backward()
        module.requires_grad_(False)
        opt.step()

    return time_step(
        lambda: (phase(Phase("Gmain", "G", 1, 1.0), G, opt_G), phase(Phase("Dmain", "D", 1, 1.0), D, opt_D)),
        lambda: phase(Phase("Dreg", "D", reg_interval, float(reg_interval)), D, opt_D),
        steps, reg_reps, reg_interval,
    )  # fmt: skip


def upstream(args) -> dict | None:
    cmd = [sys.executable, str(Path(__file__).with_name("upstream_train_runner.py")), "--upstream", str(args.upstream)]
    cmd += ["--preset", args.preset, "--batch", str(args.batch), "--frames", str(args.frames)]
    cmd += ["--steps", str(args.steps), "--reg-reps", str(args.reg_reps), "--gamma", str(args.gamma)]
    cmd += ["--deps", str(args.upstream_deps)] if args.upstream_deps else []
    cmd += ["--threads", str(args.threads)] if args.threads else []
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        print(f"upstream failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}")
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="small")
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--reg-reps", type=int, default=3)
    ap.add_argument("--gamma", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--upstream", type=Path, default=None, help="checkout of universome/stylegan-v to compare with")
    ap.add_argument("--upstream-deps", type=Path, default=None, help="folder with omegaconf (+ requests) for upstream")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    kimg = args.batch * args.frames / 1000  # real frames D sees per step, in thousands

    def row(who: str, r: dict) -> None:
        print(
            f"{who:9s} Gmain+Dmain {r['main_s']:.3f} s, Dreg {r['reg_s']:.3f} s, "
            f"step {r['step_s']:.3f} s ({r['step_s'] / kimg:.1f} s/kimg)"
        )

    # Upstream runs before and after ours and the baseline is the mean of the two, so a drift in the machine's
    # load over the run moves both sides alike.
    before = upstream(args) if args.upstream else None
    mine = ours(args.preset, args.batch, args.frames, args.steps, args.reg_reps, 16, args.gamma)
    row("ours", mine)
    after = upstream(args) if before is not None else None
    if before is None or after is None:
        print(f"summary: ours {mine['step_s']:.3f} s/step (no upstream given)")
        return 0
    row("upstream", before)
    row("upstream", after)
    theirs = {key: (before[key] + after[key]) / 2 for key in ("main_s", "reg_s", "step_s")}
    print(
        f"summary: ours / upstream = {mine['step_s'] / theirs['step_s']:.2f}x "
        f"({mine['step_s']:.2f} s vs {theirs['step_s']:.2f} s per step, "
        f"{args.preset}, batch {args.batch}, k {args.frames})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
