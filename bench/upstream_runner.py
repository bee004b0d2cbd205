"""Time upstream StyleGAN-V's own generator (a checkout given by path) on this machine, for bench/render.py.

    python bench/upstream_runner.py --upstream ~/src/stylegan-v --deps ~/upstream-deps --preset paper256 --t 0

Upstream needs omegaconf (and requests, for its dnnlib) importable: install them anywhere and pass --deps.
Nothing of upstream is part of this project; this script only imports the checkout it is pointed at.
Prints one JSON line: {"seconds_per_frame": ...}.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

PRESETS = {  # upstream hyper-parameters of our presets (docs/model.md §15)
    "tiny": dict(res=32, z=32, w=32, mz=32, mv=32, te=16, base=512, max=32),
    "small": dict(res=64, z=128, w=128, mz=128, mv=128, te=64, base=4096, max=128),
    "paper256": dict(res=256, z=512, w=512, mz=512, mv=512, te=256, base=16384, max=512),
    "paper1024": dict(res=1024, z=512, w=512, mz=512, mv=512, te=256, base=32768, max=512),
}


def build_upstream_generator(preset: str):
    import torch
    from omegaconf import OmegaConf
    from src.training.networks import Generator

    p = PRESETS[preset]
    sampling = dict(
        type="random",
        total_dists=[2**i for i in range(12)],
        max_dist=32,
        num_frames_per_video=3,
        max_num_frames=1024,
        fps=25,
    )
    cfg = OmegaConf.create(
        dict(
            source="networks",
            sampling=sampling,
            use_noise=False,
            input=dict(type="temporal"),
            w_dim=p["w"],
            z_dim=p["z"],
            c_dim=0,
            motion=dict(
                z_dim=p["mz"],
                v_dim=p["mv"],
                motion_z_distance=16,
                gen_strategy="conv",
                kernel_size=11,
                use_fractional_t=True,
                fourier=True,
            ),
            time_enc=dict(
                cond_type="concat_const", dim=p["te"], min_period_len=16, max_period_len=1024, phase_dropout_std=1.0
            ),
        )
    )
    G = Generator(
        c_dim=0,
        w_dim=p["w"],
        img_resolution=p["res"],
        img_channels=3,
        mapping_kwargs=dict(num_layers=2, cfg=cfg),
        synthesis_kwargs=dict(channel_base=p["base"], channel_max=p["max"], num_fp16_res=4, conv_clamp=256),
        cfg=cfg,
    )
    return G.eval().requires_grad_(False), torch


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", type=Path, required=True)
    ap.add_argument("--deps", type=Path, default=None)
    ap.add_argument("--preset", default="paper256", choices=list(PRESETS))
    ap.add_argument("--t", type=float, default=0.0)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()
    sys.path[:0] = [str(args.upstream), str(args.upstream / "src")] + ([str(args.deps)] if args.deps else [])
    G, torch = build_upstream_generator(args.preset)
    if args.threads:
        torch.set_num_threads(args.threads)
    z, c = torch.randn(1, G.z_dim), torch.zeros(1, 0)
    samples = []
    with torch.no_grad():
        for rep in range(args.reps + 2):
            t = torch.tensor([[args.t + 0.37 * rep]])
            start = time.perf_counter()
            G(z, c, t, truncation_psi=1, force_fp32=True)  # fp32: its fp16 blocks would run in half on CPU
            if rep >= 2:
                samples.append(time.perf_counter() - start)
    print(json.dumps({"seconds_per_frame": statistics.median(samples), "samples": samples}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
