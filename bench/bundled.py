"""Frames per second of a model at its native resolution on this machine, and its sample strip.

    python bench/bundled.py                                  # the bundled model
    python bench/bundled.py --ckpt run/model-latest.safetensors --strip strip.png

Prints frames/s for single frames (scrubbing) and batched playback at t = 0 and t = 10^6; the ratio
t = 10^6 / t = 0 is the baseline comparison measured in the same run (random access: should be ~1).
`--strip` writes a PNG: rows = content seeds 0..3 (motion seed = row), columns t = 0, 100, 10^4, 10^6.
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
from engine.media import write_image  # noqa: E402
from engine.video import tile  # noqa: E402

STRIP_TIMES = (0.0, 100.0, 1e4, 1e6)


def fps(video: engine.Video, t0: float, batch: int, frames: int) -> float:
    ts = t0 + np.arange(frames, dtype=np.float64)
    video.frames(ts[:batch])  # warm-up
    start = time.perf_counter()
    for i in range(0, frames, batch):
        video.frames(ts[i : i + batch])
    return frames / (time.perf_counter() - start)


def strip(G, out: Path, rows: int = 4) -> None:
    cells = np.stack(
        [
            np.stack([engine.Video(G, content=r, motion=r).frames_uint8([t])[0] for t in STRIP_TIMES])
            for r in range(rows)
        ]
    )  # [rows, cols, H, W, 3]
    write_image(out, tile(cells[:, :, None], pad=2)[0])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", type=Path, default=None, help="model (default: the bundled model)")
    ap.add_argument("--frames", type=int, default=96)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--strip", type=Path, default=None, help="write the sample strip PNG here")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    G = engine.load_generator(args.ckpt)
    video = engine.Video(G, content=0, motion=0)
    res = G.img_resolution
    rows = []
    for batch in (1, 8):
        a = fps(video, 0.0, batch, args.frames)
        b = fps(video, 1e6, batch, args.frames)
        rows.append((batch, a, b))
        print(f"{res}x{res} batch {batch}: {a:7.1f} frames/s at t=0, {b:7.1f} at t=1e6 (ratio {a / b:.2f})")
    if args.strip:
        strip(G, args.strip)
        print(f"strip: {args.strip}")
    print(
        f"summary: {res}x{res} on {torch.get_num_threads()} CPU thread(s): "
        + ", ".join(f"batch {b} {a:.0f} frames/s" for b, a, _ in rows)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
