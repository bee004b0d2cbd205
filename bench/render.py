"""Rendering speed: ms per frame at t ∈ {0, 1e3, 1e6}, batch 1 and 16, per preset and fast path.

    python bench/render.py                              # tiny, small, paper256 on CPU (and CUDA if present)
    python bench/render.py --presets paper256 --paths fp32,channels_last
    python bench/render.py --presets paper256 --upstream /path/to/stylegan-v   # + upstream, same run
    python bench/render.py --presets paper256 --devices cuda --compile reduce-overhead  # + CUDA graphs

Every figure is relative to a baseline measured in the same run: ratios are t=1e6 vs t=0 (should be
~1: random-access motion) and each fast path vs the fp32 reference. With --upstream (a checkout of
universome/stylegan-v, run from its own folder; nothing of it is imported into the project) the
same machine times upstream's generator on the same weights and noise-free config, giving the ratio
ours / upstream. The last line is a one-line summary.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import engine  # noqa: E402

TIMES = [0.0, 1e3, 1e6]
PATHS = {  # name -> (precision, channels_last)
    "fp32": ("fp32", False),
    "channels_last": ("fp32", True),
    "bf16": ("bf16", False),
    "bf16+channels_last": ("bf16", True),
    "fp16": ("fp16", False),
    "fp16+channels_last": ("fp16", True),
}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_video(video: engine.Video, t0: float, batch: int, reps: int, device: torch.device) -> float:
    """Median seconds per frame rendering `batch` consecutive native frames starting near t0.

    Each repetition moves to new times (t0 + 0.37·rep), as playback does, so motion codes are computed
    and not only looked up.
    """
    video.batch_size = batch
    for w in range(2):
        video.frames(t0 - 100.0 + w + np.arange(batch))  # warm-up (allocations, kernels)
    _sync(device)
    samples = []
    for rep in range(reps):
        ts = t0 + 0.37 * rep + np.arange(batch, dtype=np.float64)
        start = time.perf_counter()
        video.frames(ts)
        _sync(device)
        samples.append((time.perf_counter() - start) / batch)
    return statistics.median(samples)


def upstream_seconds_per_frame(upstream: Path, deps: Path | None, preset: str, t0: float, reps: int) -> float | None:
    """Time upstream's own generator in a subprocess run from its checkout (see bench/upstream_runner.py)."""
    import json
    import subprocess

    runner = Path(__file__).with_name("upstream_runner.py")
    cmd = [
        sys.executable,
        str(runner),
        "--upstream",
        str(upstream),
        "--preset",
        preset,
        "--t",
        str(t0),
        *(["--deps", str(deps)] if deps else []),
        "--threads",
        str(torch.get_num_threads()),
        "--reps",
        str(reps),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        print(f"  upstream failed: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}")
        return None
    return json.loads(out.stdout.strip().splitlines()[-1])["seconds_per_frame"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--presets", default="tiny,small,paper256")
    ap.add_argument("--paths", default=None, help="comma list of " + ", ".join(PATHS) + " (default: all that run)")
    ap.add_argument("--devices", default=None, help="cpu,cuda (default: cpu, plus cuda if present)")
    ap.add_argument("--batches", default="1,16")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    ap.add_argument(
        "--compile", default=None, help="also time torch.compile(MODE) of the fp32 path (e.g. reduce-overhead on CUDA)"
    )
    ap.add_argument("--upstream", type=Path, default=None, help="checkout of universome/stylegan-v to compare with")
    ap.add_argument("--upstream-deps", type=Path, default=None, help="folder with omegaconf (+ requests) for upstream")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    devices = args.devices.split(",") if args.devices else ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    batches = [int(b) for b in args.batches.split(",")]
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads"
        + (f", {torch.cuda.get_device_name()}" if torch.cuda.is_available() else "")
    )
    summary = {}
    for preset in args.presets.split(","):
        for dev_name in devices:
            device = torch.device(dev_name)
            G = engine.build_generator(preset, seed=0, device=device)
            res = G.img_resolution
            paths = (
                args.paths.split(",")
                if args.paths
                else [p for p in PATHS if not (p.startswith("fp16") and device.type == "cpu")]
            )
            base: dict[tuple[int, float], float] = {}
            print(f"\n{preset} ({res}x{res}) on {dev_name}: ms per frame")
            print(
                f"  {'path':<20}{'batch':>6}"
                + "".join(f"{'t=' + format(t, 'g'):>12}" for t in TIMES)
                + f"{'1e6/0':>8}{'vs fp32':>9}"
            )
            if args.compile:
                paths = [*paths, f"compile:{args.compile}"]
            for path in paths:
                if path.startswith("compile:"):  # the fp32 reference layout, compiled (parity checked below)
                    video = engine.Video(G, content=0, motion=0, compile=path.split(":", 1)[1])
                    ref = engine.Video(G, content=0, motion=0).frames(np.arange(4.0))
                    diff = float((video.frames(np.arange(4.0)) - ref).abs().max())
                    print(f"  {path}: max |compiled - fp32| = {diff:.2e} (goal <= 1e-3)")
                else:
                    precision, channels_last = PATHS[path]
                    video = engine.Video(G, content=0, motion=0, precision=precision, channels_last=channels_last)
                for batch in batches:
                    try:
                        secs = {t: time_video(video, t, batch, args.reps, device) for t in TIMES}
                    except RuntimeError as e:  # a path this device/build cannot run
                        print(f"  {path:<20}{batch:>6}  unavailable: {str(e).splitlines()[0][:60]}")
                        break
                    if path == "fp32":
                        base.update({(batch, t): s for t, s in secs.items()})
                    vs = base[(batch, 0.0)] / secs[0.0] if (batch, 0.0) in base else float("nan")
                    print(
                        f"  {path:<20}{batch:>6}"
                        + "".join(f"{secs[t] * 1e3:>12.2f}" for t in TIMES)
                        + f"{secs[1e6] / secs[0.0]:>8.3f}{vs:>8.2f}x"
                    )
                    summary[(preset, dev_name, path, batch)] = secs
            if args.upstream is not None and dev_name == "cpu":
                for t in (0.0, 1e6):
                    up = upstream_seconds_per_frame(
                        args.upstream, args.upstream_deps, preset, t, max(3, args.reps // 2)
                    )
                    if up is not None:
                        ours = summary[(preset, "cpu", "fp32", 1)][t]
                        best = min(
                            s[t]
                            for (p, d, path, b), s in summary.items()
                            if p == preset and d == "cpu" and b == 1 and path != "upstream"
                        )
                        print(
                            f"  upstream batch 1 t={t:g}: {up * 1e3:.1f} ms/frame; ours fp32 / upstream = "
                            f"{ours / up:.3f}, best path / upstream = {best / up:.3f}"
                        )
                        summary[(preset, "cpu", "upstream", 1)] = {
                            **summary.get((preset, "cpu", "upstream", 1), {}),
                            t: up,
                        }
    parts = []
    for (preset, dev, path, batch), secs in summary.items():
        if path == "fp32" and batch == 1 and 0.0 in secs:
            parts.append(f"{preset}/{dev} b1 {secs[0.0] * 1e3:.1f} ms (1e6/0 = {secs[1e6] / secs[0.0]:.2f})")
    best_fps = {}
    for (preset, dev, path, _batch), secs in summary.items():
        if path != "upstream" and 0.0 in secs:
            best_fps[(preset, dev)] = max(best_fps.get((preset, dev), 0.0), 1.0 / secs[0.0])
    parts += [f"{p}/{d} best {fps:.0f} frames/s" for (p, d), fps in best_fps.items()]
    print("\nsummary: " + "; ".join(parts))
    return 0


if __name__ == "__main__":
    sys.exit(main())
