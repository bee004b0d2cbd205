"""Dataset read speed: frames/s for training-like random reads (k frames of a random video per clip).

    python bench/data.py                       # 64², PNG and JPEG zips + a frame folder, one process
    python bench/data.py --res 256 --videos 16 --frames 64
    python bench/data.py --loader-workers 2    # + torch DataLoader throughput with that many workers

Baseline, measured in the same run on the same zip: upstream's way of reading a member (a `zipfile.ZipFile`
per process, `zf.open(name)` + PIL decode). Ours is `open_dataset(...).read_frames` (central directory
turned into offset arrays, two preads per frame, CRC checked). The last line is a one-line summary.
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.data import open_dataset, synth_video  # noqa: E402
from engine.data.layout import ZipDatasetWriter, encode_frame, frame_name  # noqa: E402


def make_zip(path: Path, videos: int, frames: int, res: int, ext: str) -> Path:
    with ZipDatasetWriter(path) as w:
        for i in range(videos):
            clip = synth_video((0, i), frames, res)
            w.add_video(f"video_{i:05d}", ((frame_name(k, ext), encode_frame(f, ext)) for k, f in enumerate(clip)))
        w.close({"fps": 25.0, "labels": None})
    return path


def draws(ds, clips: int, k: int, seed: int = 0) -> list[tuple[int, list[int]]]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(clips):
        i = int(rng.integers(0, len(ds)))
        n = ds.num_frames(i)
        out.append((i, sorted(rng.integers(0, n, size=k).tolist())))
    return out


def time_ours(ds, plan) -> float:
    t = time.perf_counter()
    for i, idx in plan:
        ds.read_frames(i, idx)
    return time.perf_counter() - t


def time_zipfile_baseline(path: Path, ds, plan) -> float:
    """Upstream's VideoFramesFolderDataset: ZipFile.open(member) + PIL decode."""
    zf = zipfile.ZipFile(path)
    top = path.stem
    names = {
        i: [f"{top}/{ds.video_name(i)}/{ds._frames_name(i, j)}" for j in range(ds.num_frames(i))]
        for i in {i for i, _ in plan}
    }
    t = time.perf_counter()
    for i, idx in plan:
        for j in idx:
            with zf.open(names[i][j], "r") as f:
                np.asarray(Image.open(io.BytesIO(f.read())).convert("RGB"))
    elapsed = time.perf_counter() - t
    zf.close()
    return elapsed


def time_loader(ds, plan, workers: int) -> float:
    import torch

    class Clips(torch.utils.data.Dataset):
        def __len__(self):
            return len(plan)

        def __getitem__(self, g):
            i, idx = plan[g]
            return torch.from_numpy(ds.read_frames(i, idx))

    loader = torch.utils.data.DataLoader(Clips(), batch_size=16, num_workers=workers)
    t = time.perf_counter()
    for _ in loader:
        pass
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--res", type=int, default=64)
    ap.add_argument("--videos", type=int, default=32)
    ap.add_argument("--frames", type=int, default=64)
    ap.add_argument("--clips", type=int, default=600, help="clips read per measurement")
    ap.add_argument("--k", type=int, default=3, help="frames per clip")
    ap.add_argument("--loader-workers", type=int, default=0)
    args = ap.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        summary = []
        for ext in ("png", "jpg"):
            path = make_zip(tmp / f"d-{ext}.zip", args.videos, args.frames, args.res, ext)
            ds = open_dataset(path)
            ds._frames_name = lambda i, j, ext=ext: frame_name(j, ext)
            plan = draws(ds, args.clips, args.k)
            time_ours(ds, plan[:20])  # warm the page cache and the handle
            n = args.clips * args.k
            ours = min(time_ours(ds, plan) for _ in range(2))
            base = min(time_zipfile_baseline(path, ds, plan) for _ in range(2))
            line = (
                f"{args.res}² {ext} zip: ours {n / ours:8.0f} frames/s, zipfile baseline {n / base:8.0f} frames/s,"
                f" ratio {base / ours:.2f}x"
            )
            if args.loader_workers:
                t = time_loader(ds, plan, args.loader_workers)
                line += f"; DataLoader({args.loader_workers} workers) {n / t:8.0f} frames/s"
            print(line)
            summary.append(f"{ext} {n / ours:.0f} f/s ({base / ours:.2f}x zipfile)")
        folder = tmp / "frames"
        with zipfile.ZipFile(tmp / "d-png.zip") as zf:
            zf.extractall(folder)
        ds = open_dataset(folder / "d-png")
        plan = draws(ds, args.clips, args.k)
        time_ours(ds, plan[:20])
        t = min(time_ours(ds, plan) for _ in range(2))
        print(f"{args.res}² png frame folder: {args.clips * args.k / t:8.0f} frames/s")
        summary.append(f"folder {args.clips * args.k / t:.0f} f/s")
        print(f"summary: {args.res}² reads, one process: " + ", ".join(summary))


if __name__ == "__main__":
    main()
