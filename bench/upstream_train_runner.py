"""Time one training step of upstream StyleGAN-V's own networks and loss (a checkout given by path),
for bench/train_step.py.

    python bench/upstream_train_runner.py --upstream ~/src/stylegan-v --deps ~/upstream-deps --preset small

A step is what upstream's training loop runs per batch without augmentation: the Gmain and Dmain phases
of its `StyleGAN2Loss` with their Adam steps, plus the Dreg (R1) phase every `--reg-interval` steps.
fp32 throughout (its fp16 blocks would run in half precision on a CPU). Upstream needs omegaconf (and
requests, for its dnnlib) importable: install them anywhere and pass --deps. Nothing of upstream is part
of this project; this script only imports the checkout it is pointed at.
Prints one JSON line: {"main_s": ..., "reg_s": ..., "step_s": ...} (medians, seconds).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from upstream_runner import PRESETS  # noqa: E402


def time_step(main, reg, steps: int, reg_reps: int, reg_interval: int) -> dict:
    """Median seconds of `main()` (Gmain + Dmain) and of `reg()` (Dreg), and of a step with R1 every
    `reg_interval` steps; the first calls warm allocators and caches and are not counted. Shared with
    bench/train_step.py, which times ours the same way."""
    main_laps, reg_laps = [], []
    for s in range(steps + 2):
        start = time.perf_counter()
        main()
        if s >= 2:
            main_laps.append(time.perf_counter() - start)
    for s in range(reg_reps + 1):
        start = time.perf_counter()
        reg()
        if s >= 1:
            reg_laps.append(time.perf_counter() - start)
    main_s, reg_s = statistics.median(main_laps), statistics.median(reg_laps)
    return {"main_s": main_s, "reg_s": reg_s, "step_s": main_s + reg_s / reg_interval, "main_laps": main_laps,
            "reg_laps": reg_laps}  # fmt: skip


def build_upstream_training(preset: str, batch: int, frames: int, r1_gamma: float):
    import torch
    from omegaconf import OmegaConf
    from src.training.loss import StyleGAN2Loss
    from src.training.networks import Discriminator, Generator

    p = PRESETS[preset]
    sampling = dict(
        type="random", total_dists=[2**i for i in range(12)], max_dist=32,
        num_frames_per_video=frames, max_num_frames=1024, fps=25,
    )  # fmt: skip
    g_cfg = OmegaConf.create(
        dict(
            source="networks", sampling=sampling, use_noise=False, input=dict(type="temporal"),
            w_dim=p["w"], z_dim=p["z"], c_dim=0,
            motion=dict(
                z_dim=p["mz"], v_dim=p["mv"], motion_z_distance=16, gen_strategy="conv", kernel_size=11,
                use_fractional_t=True, fourier=True,
            ),
            time_enc=dict(
                cond_type="concat_const", dim=p["te"], min_period_len=16, max_period_len=1024, phase_dropout_std=1.0
            ),
        )
    )  # fmt: skip
    d_cfg = OmegaConf.create(dict(sampling=sampling, concat_res=16, num_frames_div_factor=2, dummy_c=False))
    G = Generator(
        c_dim=0, w_dim=p["w"], img_resolution=p["res"], img_channels=3,
        mapping_kwargs=dict(num_layers=2, cfg=g_cfg),
        synthesis_kwargs=dict(channel_base=p["base"], channel_max=p["max"], num_fp16_res=0, conv_clamp=256),
        cfg=g_cfg,
    )  # fmt: skip
    D = Discriminator(
        c_dim=0, img_resolution=p["res"], img_channels=3, channel_base=p["base"], channel_max=p["max"],
        num_fp16_res=0, conv_clamp=256, mapping_kwargs=dict(num_layers=2),
        epilogue_kwargs=dict(mbstd_group_size=min(batch, 4)), cfg=d_cfg,
    )  # fmt: skip
    loss_cfg = OmegaConf.create(dict(model=dict(loss_kwargs=dict(video_consistent_aug=True))))
    loss = StyleGAN2Loss(
        loss_cfg,
        torch.device("cpu"),
        G.mapping,
        G.synthesis,
        D,
        r1_gamma=r1_gamma,
        style_mixing_prob=0.0,
        pl_weight=0.0,
    )
    return G.train(), D.train(), loss, torch


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", type=Path, required=True)
    ap.add_argument("--deps", type=Path, default=None)
    ap.add_argument("--preset", default="small", choices=list(PRESETS))
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--reg-reps", type=int, default=3)
    ap.add_argument("--reg-interval", type=int, default=16)
    ap.add_argument("--gamma", type=float, default=1.0)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    sys.path[:0] = [str(args.upstream), str(args.upstream / "src")] + ([str(args.deps)] if args.deps else [])
    G, D, loss, torch = build_upstream_training(args.preset, args.batch, args.frames, args.gamma)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n, k, res = args.batch, args.frames, PRESETS[args.preset]["res"]
    ratio = args.reg_interval / (args.reg_interval + 1)  # upstream's lazy-regularisation Adam settings
    opt_G = torch.optim.Adam(G.parameters(), lr=0.0025, betas=(0.0, 0.99), eps=1e-8)
    opt_D = torch.optim.Adam(D.parameters(), lr=0.0025 * ratio, betas=(0.0, 0.99**ratio), eps=1e-8)
    real = torch.rand(n, k, 3, res, res) * 2 - 1
    c = torch.zeros(n, 0)

    def times() -> torch.Tensor:
        return torch.sort(torch.rand(n, k) * 32, dim=1).values.floor()

    def phase(name: str, module, opt, gain: float) -> None:
        opt.zero_grad(set_to_none=True)
        module.requires_grad_(True)
        loss.accumulate_gradients(
            phase=name, real_img=real, real_c=c, real_t=times(), gen_z=torch.randn(n, G.z_dim), gen_c=c,
            gen_t=times(), sync=True, gain=gain,
        )  # fmt: skip
        module.requires_grad_(False)
        opt.step()

    result = time_step(
        lambda: (phase("Gmain", G, opt_G, 1.0), phase("Dmain", D, opt_D, 1.0)),
        lambda: phase("Dreg", D, opt_D, float(args.reg_interval)),
        args.steps, args.reg_reps, args.reg_interval,
    )  # fmt: skip
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
