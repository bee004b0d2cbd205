"""Video projection and photo animation quality on a real model (default: the bundled one), CPU or GPU.

    python bench/video_projection.py                       # bundled model, 300 steps, pixel loss (offline)
    python bench/video_projection.py --steps 500 --device cuda --loss lpips

1. In-domain clip: 32 frames (t = 0..31) the model renders from content seed 5 and motion seed 3. Video
   projection (content + anchor codes) vs the baseline of projecting its first frame with default motion
   (upstream's projector: W+ at t = 0, motion seed 0 held fixed), same steps and loss: mean PSNR over the clip.
2. Continuation: mean |frame(t+1) − frame(t)| over the hand-over spans before/after the clip divided by its
   mean inside the clip (≤ 1.5 = no jump).
3. Photo animation: a procedural photo projected upstream-style and with the default projector (motions
   re-sampled, W prior), played with 4 motions over t in [0, 100]; frame-to-frame change and colour drift as
   ratios to the model's own samples (8 contents x the same 4 motions; 0.5-2 = moves like the model).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import engine  # noqa: E402
from engine.checkpoint import BUNDLED_MODEL  # noqa: E402
from engine.edit.images import psnr  # noqa: E402
from engine.edit.motion_stats import model_motion_stats, motion_stats  # noqa: E402
from engine.edit.projection import ProjectionConfig, Projector  # noqa: E402
from engine.edit.video_projection import (  # noqa: E402
    Clip,
    VideoProjectionConfig,
    VideoProjector,
    boundary_change_ratios,
    render_times,
)
from engine.latents import from_seed  # noqa: E402

UPSTREAM = dict(motions_per_step=0, w_prior_lambda=0.0)


def procedural_photo(w: int = 97, h: int = 61) -> np.ndarray:
    """Gradients, a disc and a bar: not a frame the model can make exactly, not square."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([xx / w, yy / h, 1 - xx / w * 0.5], axis=2) * 200
    img[(xx - w * 0.6) ** 2 + (yy - h * 0.4) ** 2 < (h * 0.25) ** 2] = (250, 220, 30)
    img[int(h * 0.7) : int(h * 0.8), 5 : w // 2] = (20, 20, 120)
    return img.astype(np.uint8)


def write_picture(path: str, G, latents, clip: Clip, every: int = 6, after_s: float = 2.0) -> None:
    """Every 6th frame from t = 0 to 2 s after the clip: the clip on top (black once it ends), the fit below, 2x."""
    from engine.edit.video_projection import continuation_frames
    from engine.media import write_image

    pairs = continuation_frames(G, latents, clip, after_s=after_s)[::every]  # [K, R, 2R + 2, 3]
    r = G.img_resolution
    gap = np.full((r, 2, 3), 255, np.uint8)
    top = np.concatenate([x for f in pairs for x in (f[:, :r], gap)], axis=1)
    bottom = np.concatenate([x for f in pairs for x in (f[:, -r:], gap)], axis=1)
    grid = np.concatenate([top, np.full((2, top.shape[1], 3), 255, np.uint8), bottom], axis=0)
    write_image(path, grid.repeat(2, axis=0).repeat(2, axis=1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", default=None, help="model file (default: the bundled model)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--loss", default="pixel", choices=["pixel", "lpips", "auto"])
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--skip-photo", action="store_true", help="only the clip figures")
    ap.add_argument("--picture", default=None, help="also write a PNG: target row over fit + continuation row")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    path = args.ckpt or BUNDLED_MODEL
    G = engine.load_generator(path, device=device)
    print(f"model {path}, {G.img_resolution}², δz {G.delta_z:g}, device {device}, {args.steps} steps, {args.loss} loss")

    truth = from_seed(G, 5, motion=3)
    times = np.arange(32, dtype=np.float64)
    target = render_times(G, truth, times)
    clip = Clip(target, G.config.native_fps, np.arange(32), "seed 5, motion 3")
    start = time.perf_counter()
    vp = VideoProjector(G, clip, VideoProjectionConfig(num_steps=args.steps), image_loss=args.loss)
    for _ in vp:
        pass
    secs = time.perf_counter() - start
    result = vp.result()
    video_db = result.provenance["psnr_db"]
    pp = Projector(
        G, target[0], motion=0, config=ProjectionConfig(num_steps=args.steps, **UPSTREAM), image_loss=args.loss
    )
    for _ in pp:
        pass
    recon = render_times(G, pp.result(), times)
    photo_db = float(np.mean([min(psnr(a, b), 100.0) for a, b in zip(recon, target)]))
    before, after = boundary_change_ratios(G, result)
    print(f"clip: video projection mean PSNR {video_db:.2f} dB ({secs / args.steps:.3f} s/step incl. setup)")
    print(f"clip: first frame projected, default motion  {photo_db:.2f} dB  -> +{video_db - photo_db:.2f} dB")
    ok = video_db >= 26.0 and video_db >= photo_db + 3.0
    print(f"clip: target >= 26 dB and >= 3 dB over the first-frame projection: {'met' if ok else 'NOT met'}")
    print(f"continuation: change ratio before {before:.2f}, after {after:.2f} (<= 1.5 is no jump)")
    if args.picture:
        write_picture(args.picture, G, result, clip)
        print(f"picture -> {args.picture}")
    if args.skip_photo:
        return 0
    seeds = [0, 1, 2, 3]
    ref = model_motion_stats(G, 8, seeds)
    print(f"model samples: frame change {ref.change:.3f}, colour drift {ref.drift:.3f} (8-bit levels)")
    for name, extra in [("upstream-style", UPSTREAM), ("default", {})]:
        cfg = ProjectionConfig(num_steps=args.steps, **extra)
        p = Projector(G, procedural_photo(), motion=0, config=cfg, image_loss=args.loss)
        for _ in p:
            pass
        st = motion_stats(G, [p.result().ws], seeds)
        change, drift = st.ratio(ref)
        print(
            f"photo, {name:<14}: PSNR at t=0 {p.psnr():.2f} dB, frame change {change:.2f}x, colour drift "
            f"{drift:.2f}x the model's"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
