"""Quality of a model trained on `sgv dataset synth` data, with no downloaded weights: fsd2048 and frame statistics.

    python bench/quality.py                                   # the bundled model
    python bench/quality.py --bundled --ckpt run/model-latest.safetensors --json q.json   # old and new
    python bench/quality.py --ckpt new.safetensors --check    # exit 1 unless contrast and edges reach the goals

Measures, against the data the bundled model was trained on (`sgv dataset synth --seed 0`, 64 videos × 256
frames at the model's resolution; written once to /tmp/sgv-quality/shapes<R> unless --data names a dataset):
- fsd2048 (engine/metrics/registry.py, as `sgv metrics --metric fsd2048`): Fréchet distance in the synthetic-data
  feature space, every real frame vs 2048 generated frames (128 videos × t = 0…15). Its floor, in the same run:
  128 held-out real videos (`--seed 1` scenes, never in the data) × t = 0…15 against the same real statistics.
- per-channel contrast and edge strength (99th percentile of the gradient magnitude) of the same generated frames
  against frames 0…47 of all 64 data videos (engine/metrics/frame_stats.py; goals: contrast 0.8–1.25×, edges
  ≥ 0.7×), and of the held-out real frames, which shows how close two samples of the data itself are (palettes
  vary per scene: at 16 scenes the held-out ratio of one channel is already 1.24×, so fewer are too noisy).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import engine  # noqa: E402
from engine.data import open_dataset, synth_video  # noqa: E402
from engine.data.synth import write_synthetic_dataset  # noqa: E402
from engine.errors import SgvError  # noqa: E402
from engine.metrics import fid  # noqa: E402
from engine.metrics.fakes import render_fake_videos  # noqa: E402
from engine.metrics.frame_stats import CONTRAST_GOAL, EDGE_GOAL, compare  # noqa: E402
from engine.metrics.frechet import FeatureStats, frechet_distance  # noqa: E402
from engine.metrics.protocol import fake_times  # noqa: E402
from engine.metrics.registry import METRICS  # noqa: E402
from engine.metrics.synth_features import load_features  # noqa: E402

DATA_SEED, HELDOUT_SEED = 0, 1
DATA_VIDEOS, DATA_FRAMES = 64, 256  # the bundled model's data (assets/models/README.md)
STAT_FRAMES = 48  # data frames 0…47 of every data video for the frame statistics


def ensure_data(path: Path, res: int, videos: int, frames: int) -> Path:
    meta = path / "dataset.json"
    if meta.is_file():
        syn = json.loads(meta.read_text()).get("synthetic") or {}
        want = {"seed": DATA_SEED, "videos": videos, "frames": frames}
        if any(syn.get(k) != v for k, v in want.items()) or json.loads(meta.read_text()).get("resolution") != res:
            raise SgvError(f"{path}: not `sgv dataset synth --seed 0 --videos {videos} --frames {frames} --res {res}`")
        return path
    print(f"writing {path} (sgv dataset synth --seed 0 --videos {videos} --frames {frames} --res {res})", flush=True)
    return write_synthetic_dataset(path, videos, frames, res, seed=DATA_SEED, progress=False, workers=1)


def generated_frames(G, protocol, num_fake: int, num_labels: int) -> np.ndarray:
    """uint8 [V, T, R, R, 3]: exactly the videos fsd2048 draws (engine/metrics/fakes.py, seed 0)."""
    times = fake_times(protocol.num_frames, protocol.subsample)
    chunks = [x.permute(0, 1, 3, 4, 2).cpu().numpy() for _, x in render_fake_videos(G, range(num_fake), 0, times,
              None, num_labels, 128)]  # fmt: skip
    return np.concatenate(chunks)


def feature_stats(det, frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    stats = FeatureStats()
    flat = torch.from_numpy(frames.reshape(-1, *frames.shape[-3:])).permute(0, 3, 1, 2)
    for i in range(0, len(flat), 256):
        stats.append(det(flat[i : i + 256]))
    return stats.mean_cov()


def describe(label: str, s) -> str:
    fmt = lambda v: "/".join(f"{x:.1f}" for x in v)  # noqa: E731
    return (
        f"  {label:14s} contrast RGB {fmt(s.contrast_model)} vs data {fmt(s.contrast_data)} = "
        + "/".join(f"{r:.2f}" for r in s.contrast_ratio)
        + f"x (goal {CONTRAST_GOAL[0]}-{CONTRAST_GOAL[1]}x) {'ok' if s.contrast_ok else 'MISSED'}; edge p99 "
        f"{s.edge_model:.1f} vs {s.edge_data:.1f} = {s.edge_ratio:.2f}x (goal >= {EDGE_GOAL}x) "
        f"{'ok' if s.edge_ok else 'MISSED'}"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", type=Path, action="append", default=[], help="model file (repeatable)")
    ap.add_argument("--bundled", action="store_true", help="also the bundled model (the default without --ckpt)")
    ap.add_argument("--data", type=Path, default=None, help="the data (default: /tmp/sgv-quality/shapes<R>)")
    ap.add_argument("--features", type=Path, default=None, help="feature network (default: the committed one)")
    ap.add_argument("--num-videos", type=int, default=None, help="generated videos of 16 frames (default 128)")
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--json", type=Path, default=None, help="also write the figures here")
    ap.add_argument("--check", action="store_true", help="exit 1 unless contrast and edge strength meet the goals")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    paths = ([None] if args.bundled or not args.ckpt else []) + list(args.ckpt)
    try:
        models = [(str(p) if p else "bundled model", engine.load_generator(p, device=args.device)) for p in paths]
        res = models[0][1].img_resolution
        if any(G.img_resolution != res for _, G in models):
            raise SgvError("the models make frames of different sizes; measure them apart")
        data = args.data or ensure_data(Path(f"/tmp/sgv-quality/shapes{res}"), res, DATA_VIDEOS, DATA_FRAMES)
        ds = open_dataset(data, resolution=res)
        det = load_features(args.features, device=models[0][1].device)
    except SgvError as e:
        print(f"quality: {e}", file=sys.stderr)
        return 2
    protocol = METRICS["fsd2048"]
    num_fake = args.num_videos or protocol.num_fake
    start = time.time()
    mu_r, sig_r = fid.real_stats(ds, det, batch_frames=256).mean_cov()
    data_frames = np.stack([ds.read_frames(i, list(range(min(STAT_FRAMES, ds.num_frames(i))))) for i in range(len(ds))])
    print(f"data: {data} ({len(ds)} videos at {res}x{res}; real statistics {time.time() - start:.0f} s)")
    held_frames = np.stack([synth_video((HELDOUT_SEED, j), protocol.num_frames, res) for j in range(num_fake)])
    fsd_floor = frechet_distance(*feature_stats(det, held_frames), mu_r, sig_r)
    held = compare(data_frames, held_frames)
    print(f"held-out real ({num_fake} x 16 frames of `--seed 1` scenes): fsd2048 {fsd_floor:.3f} (the floor)")
    print(describe("held-out real", held))
    result = {
        "data": str(data),
        "resolution": res,
        "features": det.describe(),
        "num_fake_videos": num_fake,
        "heldout_real": {"fsd2048": fsd_floor, "stats": held.as_dict()},
        "models": [],
    }
    ok = True
    for name, G in models:
        start = time.time()
        fake = generated_frames(G, protocol, num_fake, len(ds))
        seconds = time.time() - start
        fsd = frechet_distance(*feature_stats(det, fake), mu_r, sig_r)
        stats = compare(data_frames, fake)
        ok = ok and stats.contrast_ok and stats.edge_ok
        print(f"{name}: fsd2048 {fsd:.3f} = {fsd / fsd_floor:.1f}x the floor ({num_fake} x 16 frames, {seconds:.0f} s)")
        print(describe("model", stats))
        result["models"].append({"model": name, "fsd2048": fsd, "stats": stats.as_dict()})
    if args.json:
        from engine.fileio import atomic_write_text

        atomic_write_text(args.json, json.dumps(result, indent=2) + "\n")
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
