"""Cascade SR cost per frame against the base model's, measured in the same run (CPU by default).

    python bench/sr.py                        # bundled base (64²) + bundled SR level if present, else sr-small x2
    python bench/sr.py --scale 4              # an (untrained) sr-small x4 level: 64² -> 256²
    python bench/sr.py --threads 2 --device cuda
    python bench/sr.py --strip assets/models/samples-sr.png   # rows: seeds 0..3; t = 0, 100, 10^6 (low-res | SR)
    python bench/sr.py --held-out out/held.png   # PSNR vs bicubic on synth videos of seed 1 (scenes never trained on)

Prints, per output frame: the base frame alone, the SR pass alone (windows already rendered), and cascade
playback (consecutive frames at native fps through CascadeVideo: about one new base frame plus one SR pass
each), with the ratio SR / base. Numbers depend on the machine and its load; the ratios are what compare.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

import engine
from engine.cascade import BUNDLED_SR, CascadeVideo, SRGenerator, load_sr, sr_preset


def _timed(fn, repeats: int) -> float:
    fn()  # warm-up (allocations, cached weights)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=int, choices=[2, 4], default=None, help="untrained sr-small at this scale")
    ap.add_argument("--sr", default=None, help="SR model file (default: the bundled one for x2)")
    ap.add_argument("--batch", type=int, default=8, help="frames per batch")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--strip", type=Path, default=None, help="write the low-res | SR sample strip PNG here")
    ap.add_argument("--held-out", type=Path, default=None, help="PSNR on unseen synth videos; grid PNG here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    G = engine.load_generator(device=args.device)
    if args.sr or (args.scale in (None, 2) and BUNDLED_SR.exists()):
        sr = load_sr(args.sr or BUNDLED_SR, device=args.device)
        what = str(args.sr or BUNDLED_SR.name)
    else:
        cfg = sr_preset("sr-small", base_resolution=G.img_resolution, scale=args.scale or 2)
        sr = SRGenerator(cfg.generator).to(args.device).eval().requires_grad_(False)
        what = f"untrained sr-small x{cfg.generator.scale}"
    if args.strip:
        strip(G, sr, args.strip)
        print(f"strip: {args.strip}")
        return
    if args.held_out:
        held_out(sr, args.held_out)
        return
    b = args.batch
    base = engine.Video(G, 0, 0, batch_size=b)
    t0 = 1000.0
    base_s = _timed(lambda: base.frames(t0 + np.arange(b)), args.repeats) / b

    cascade = CascadeVideo(engine.Video(G, 0, 0, batch_size=b), sr, batch_size=b)
    keys = cascade.window_keys(t0 + np.arange(b))
    lr = cascade._base_frames(keys.reshape(-1)).to(sr.device).reshape(1, b, keys.shape[1], *G_shape(G))
    with torch.no_grad():
        sr_s = _timed(lambda: sr.synthesis(cascade.ws, lr, channels_last=cascade.channels_last), args.repeats) / b

    state = {"t": 5000.0}

    def play():  # consecutive chunks, as playback and export ask for them
        cascade.frames(state["t"] + np.arange(b))
        state["t"] += b

    play_s = _timed(play, args.repeats) / b
    res = sr.config.resolution
    print(f"device {args.device}, threads {torch.get_num_threads()}, batch {b}; SR level: {what}")
    print(f"base {G.img_resolution}²              {base_s * 1e3:7.2f} ms/frame  {1 / base_s:7.1f} frames/s")
    print(f"SR pass {G.img_resolution}²→{res}²      {sr_s * 1e3:7.2f} ms/frame  {1 / sr_s:7.1f} frames/s")
    print(f"cascade playback {res}²    {play_s * 1e3:7.2f} ms/frame  {1 / play_s:7.1f} frames/s")
    print(f"ratio SR pass / base frame: {sr_s / base_s:.2f}; cascade / base: {play_s / base_s:.2f}")


def strip(G, sr, out: Path, rows: int = 4, times=(0.0, 100.0, 1e6)) -> None:
    """Rows = content seeds 0..rows-1 (motion seed = row); per t two cells: the base frame (nearest-upscaled)
    and the cascade's SR frame."""
    from engine.media import write_image
    from engine.video import tile, to_uint8

    cells = []
    for seed in range(rows):
        video = CascadeVideo(engine.Video(G, seed, seed), sr, seed=seed)
        lr = video.lowres_frames(list(times))
        lr = torch.nn.functional.interpolate(lr, size=video.resolution, mode="nearest")
        hi = video.frames(list(times))
        pair = torch.stack([lr.cpu(), hi.cpu()], dim=1).flatten(0, 1)  # [2·T, 3, H, W]: low-res, SR per t
        cells.append(to_uint8(pair))
    grid = np.stack(cells)[:, :, None]  # [rows, 2·T, 1, H, W, 3]
    write_image(out, tile(grid, pad=4)[0])


def held_out(sr, out: Path, videos: int = 8, frames: int = 64) -> None:
    """PSNR of the SR level and of bicubic against the real frames of `sgv dataset synth --seed 1` videos (the
    training data is seed 0), the low-res input read from the same frames as in training; a grid PNG of
    the first 4 videos at their middle frame: low-res (nearest) | bicubic | SR | real."""
    import tempfile

    from engine.cascade import windows_of
    from engine.cascade.train import bicubic, psnr, to_float
    from engine.data import open_dataset
    from engine.data.synth import write_synthetic_dataset
    from engine.media import write_image
    from engine.video import tile, to_uint8

    cfg = sr.config
    k, res = cfg.window, cfg.resolution
    with tempfile.TemporaryDirectory() as tmp:
        root = write_synthetic_dataset(Path(tmp) / "held", videos, frames, res, seed=1, progress=False, workers=1)
        hr_ds, lr_ds = open_dataset(root, res), open_dataset(root, cfg.base_resolution)
        sr_db, bic_db, rows = [], [], []
        for i in range(videos):
            hr = to_float(torch.from_numpy(hr_ds.read_frames(i, list(range(k, frames - k)))).permute(0, 3, 1, 2))
            lr = to_float(torch.from_numpy(lr_ds.read_frames(i, list(range(frames)))).permute(0, 3, 1, 2))
            z = torch.randn(1, sr.z_dim, generator=torch.Generator().manual_seed(i)).to(sr.device)
            with torch.no_grad():
                up = sr(z, windows_of(lr[None].to(sr.device), k))[0].cpu()
            bic = bicubic(lr[k : frames - k], res)
            sr_db.append(psnr(up, hr))
            bic_db.append(psnr(bic, hr))
            if i < 4:
                m = len(hr) // 2
                near = torch.nn.functional.interpolate(lr[k + m : k + m + 1], size=res, mode="nearest")[0]
                rows.append(to_uint8(torch.stack([near, bic[m], up[m], hr[m]])))
    write_image(out, tile(np.stack(rows)[:, :, None], pad=4)[0])
    print(
        f"held-out PSNR over {videos} videos x {frames - 2 * k} frames: SR {np.mean(sr_db):.2f} dB, "
        f"bicubic {np.mean(bic_db):.2f} dB (+{np.mean(sr_db) - np.mean(bic_db):.2f}); grid: {out}"
    )


def G_shape(G) -> tuple[int, int, int]:
    return (G.img_channels, G.img_resolution, G.img_resolution)


if __name__ == "__main__":
    main()
