"""Projection and text-editing speed: seconds per optimisation step on this machine.

    python bench/edit.py                         # the bundled model, else an UNTRAINED `small` (labelled)
    python bench/edit.py --ckpt model.safetensors --device cuda
    python bench/edit.py --preset paper256 --steps 5

Rows: a plain frame render (the baseline, measured in the same run), a projection step with the pixel loss and
with LPIPS-VGG16, a CLIP edit step (ViT-B-32) without and with a preview render, and a video
projection step on a 32-frame clip (8 frames rendered per step) with each loss. Each row also gives the
ratio to the baseline. Weights: when `sgv weights fetch vgg16` / `clip-vit-b-32-openai` have run, the real
files are used; otherwise networks of the same architecture with random weights are timed (same arithmetic,
labelled "random weights"), so the numbers never need the network.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import engine  # noqa: E402
from engine import weights  # noqa: E402
from engine.checkpoint import BUNDLED_MODEL  # noqa: E402
from engine.edit.clip_edit import ClipEditor, EditConfig  # noqa: E402
from engine.edit.clip_model import ClipModel, load_clip  # noqa: E402
from engine.edit.losses import PixelPyramidLoss, load_lpips  # noqa: E402
from engine.edit.projection import ProjectionConfig, Projector  # noqa: E402
from engine.edit.video_projection import Clip, VideoProjectionConfig, VideoProjector  # noqa: E402
from engine.latents import from_seed  # noqa: E402


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_steps(step, n: int, device: torch.device, warmup: int = 2) -> float:
    """Median seconds of one call of `step` over n calls, after `warmup` untimed calls."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(n):
        _sync(device)
        t = time.perf_counter()
        step()
        _sync(device)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def model(args, device):
    if args.ckpt:
        return engine.load_generator(args.ckpt, device=device), f"{args.ckpt}"
    if args.preset is None and BUNDLED_MODEL.exists():
        return engine.load_generator(BUNDLED_MODEL, device=device), "bundled model"
    preset = args.preset or "small"
    return engine.build_generator(preset, seed=0, device=device), f"UNTRAINED '{preset}' preset (random weights)"


def lpips_loss(device, tmp: Path):
    try:
        return load_lpips(device), "LPIPS-VGG16"
    except weights.WeightsMissing:
        g = torch.Generator().manual_seed(0)
        convs = [(0, 64, 3), (2, 64, 64), (5, 128, 64), (7, 128, 128), (10, 256, 128), (12, 256, 256)]
        convs += [(14, 256, 256), (17, 512, 256), (19, 512, 512), (21, 512, 512)]
        convs += [(24, 512, 512), (26, 512, 512), (28, 512, 512)]
        sd = {}
        for i, cout, cin in convs:
            sd[f"features.{i}.weight"] = torch.randn(cout, cin, 3, 3, generator=g) * (2 / (cin * 9)) ** 0.5
            sd[f"features.{i}.bias"] = torch.zeros(cout)
        torch.save(sd, tmp / "vgg16-random.pth")
        return load_lpips(device, vgg_path=tmp / "vgg16-random.pth"), "LPIPS-VGG16, random weights"


def clip_model(device) -> tuple[ClipModel, str]:
    try:
        return load_clip("ViT-B-32", "openai", device), "CLIP ViT-B-32/openai"
    except weights.WeightsMissing:
        import open_clip
        from open_clip.model import CLIP

        cfg = open_clip.get_model_config("ViT-B-32")
        net = CLIP(**cfg, quick_gelu=True).to(device).eval().requires_grad_(False)
        tok = open_clip.tokenizer.SimpleTokenizer()
        from engine.edit.clip_model import OPENAI_MEAN, OPENAI_STD

        return ClipModel(net, tok, 224, OPENAI_MEAN, OPENAI_STD, "ViT-B-32", "random"), "CLIP ViT-B-32, random weights"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", default=None, help="model file (default: the bundled model, else --preset)")
    ap.add_argument("--preset", default=None, help="untrained preset instead (default small when no bundled model)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument("--steps", type=int, default=8, help="timed steps per row (median)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    G, label = model(args, device)
    print(f"model: {label}, {G.img_resolution}², device {device}, {torch.get_num_threads()} threads")
    rng = np.random.default_rng(0)
    image = (rng.random((G.img_resolution, G.img_resolution, 3)) * 255).astype(np.uint8)
    start = from_seed(G, 0, motion=0)
    v = G.motion([start.motion], [0.0])

    def render():
        with torch.no_grad():
            G.synthesis(start.ws_batch(device), v)

    base = time_steps(render, args.steps, device)
    rows = [("render one frame (baseline, no grad)", base)]
    n = args.steps + 2
    with tempfile.TemporaryDirectory() as tmp:
        for loss, name in [(PixelPyramidLoss(), "pixel loss"), lpips_loss(device, Path(tmp))]:
            p = Projector(G, image, config=ProjectionConfig(num_steps=n + 10, w_avg_samples=2000), image_loss=loss)
            rows.append((f"projection step, {name}", time_steps(p.step, args.steps, device)))
        clip, clip_label = clip_model(device)
        for every, what in [(0, "no preview"), (1, "+ preview render")]:
            ed = ClipEditor(G, start, "a photo", clip, EditConfig(num_steps=n + 10, preview_every=every))
            rows.append((f"edit step, {clip_label}, {what}", time_steps(ed.step, args.steps, device)))
        frames = np.repeat(image[None], 32, axis=0)  # a 32-frame clip; its content does not change the cost
        video = Clip(frames, G.config.native_fps, np.arange(32), "bench clip")
        for loss, name in [(PixelPyramidLoss(), "pixel loss"), lpips_loss(device, Path(tmp))]:
            cfg = VideoProjectionConfig(num_steps=n + 10, w_avg_samples=2000)
            vp = VideoProjector(G, video, cfg, image_loss=loss)
            what = f"video projection step, 32-frame clip ({cfg.frames_per_step} frames/step), {name}"
            rows.append((what, time_steps(vp.step, args.steps, device)))
    width = max(len(r[0]) for r in rows)
    for name, sec in rows:
        print(f"{name:<{width}}  {sec:8.4f} s  {sec / base:7.1f}x baseline")
    proj, edit = rows[1][1], rows[3][1]
    print(
        f"summary: video projection of a 32-frame clip {rows[5][1]:.3f} s/step (pixel), {rows[6][1]:.3f} s/step "
        f"(LPIPS) -> 500 steps {rows[6][1] * 500 / 60:.1f} min"
    )
    print(
        f"summary: {label}, {G.img_resolution}²: projection {proj:.3f} s/step (pixel), {rows[2][1]:.3f} s/step "
        f"(LPIPS) -> 1000 steps {rows[2][1] * 1000 / 60:.1f} min; edit {edit:.3f} s/step -> 40 steps {edit * 40:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
