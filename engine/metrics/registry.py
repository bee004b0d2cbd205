"""The metric registry and `calc`: one call computes a metric, returns a dict and appends a JSON line.

As StyleGAN3's / StyleGAN-V's `metric_main.py`: each metric has a name, its value is reported under that
name in `results`, and each evaluation appends one line to `<run_dir>/metric-<name>.jsonl`. Under
torch.distributed every rank calls `calc` with its rank and the world size; each computes a share of the
videos, the feature sums are added across ranks, rank 0 computes the distance and writes, and every rank
gets the same dict back.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from engine.distributed import broadcast_values
from engine.fileio import append_jsonl
from engine.metrics import cache as stats_cache
from engine.metrics import fid, fvd
from engine.metrics.detectors import Detector, MetricError
from engine.metrics.fakes import fake_features
from engine.metrics.frechet import frechet_distance
from engine.metrics.protocol import Protocol, eligible_videos

PROTOCOL_VERSION = 1  # bump when anything that changes real statistics changes (invalidates caches)

METRICS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol("fvd2048_16f", "fvd", "i3d", num_frames=16, subsample=1, max_real=2048, num_fake=2048),
        Protocol("fvd2048_128f", "fvd", "i3d", num_frames=128, subsample=1, max_real=2048, num_fake=2048),
        Protocol("fvd2048_128f_subsample8f", "fvd", "i3d", num_frames=16, subsample=8, max_real=2048, num_fake=2048),
        # 50 000 generated frames = 3125 videos of 16 frames (upstream: num_gen=50000, num_video_frames=16).
        Protocol("fid50k_full", "fid", "inception", num_frames=16, subsample=1, max_real=None, num_fake=3125),
        # Offline, for `sgv dataset synth` data only: the committed synthetic-data feature network
        # (engine/metrics/synth_features.py) in place of Inception; every real frame, 2048 generated frames.
        Protocol("fsd2048", "fsd", "synth", num_frames=16, subsample=1, max_real=None, num_fake=128),
    )
}


def calc(
    name: str,
    G,
    data,
    *,
    detector: str | os.PathLike | Detector | None = None,
    run_dir: str | os.PathLike | None = None,
    snapshot: str | os.PathLike | None = None,
    num_runs: int = 1,
    num_videos: int | None = None,
    seed: int = 0,
    rank: int = 0,
    world: int = 1,
    device: torch.device | str | None = None,
    cache: bool = True,
    cache_dir: str | os.PathLike | None = None,
    batch_frames: int | None = None,
    workers: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Compute metric `name` of generator G against dataset `data` (a path or an opened VideoDataset).

    detector: the I3D/Inception TorchScript file (None: the engine.weights cache) or a loaded Detector.
    num_videos: overrides the protocol's 2048 real/fake videos (fid: generated videos of 16 frames;
      its real side stays "every frame"). Reported numbers are only comparable at the defaults.
    seed: real clip offsets come from `seed`, run r's generated videos from `seed + r`.
    batch_frames: frames per generator/detector batch (default as upstream: 128 up to 256², 64 at 512², 32 above).
    rank/world: this process's place under torch.distributed (the process group must be initialised).
    Returns {"metric", "results": {name: value} (or per-run values, mean and std), "num_real", "num_fake",
    "detector", "protocol", "real_stats", "total_time", ...}; rank 0 appends it to run_dir/metric-<name>.jsonl.
    """
    start = time.time()
    protocol = _protocol(name)
    if num_runs < 1:
        raise MetricError(f"--num-runs must be at least 1, got {num_runs}")
    if num_videos is not None and num_videos < 1:
        raise MetricError(f"--num-videos must be at least 1, got {num_videos}")
    ds = _dataset(data, G)
    device = torch.device(device) if device is not None else G.device
    det = detector if isinstance(detector, Detector) else load_detector(protocol.detector, detector, device)
    if det.kind != protocol.detector:
        raise MetricError(f"{det.path}: {name} needs the {protocol.detector} detector, got {det.kind}")
    batch_frames = batch_frames or default_batch_frames(G.img_resolution)
    max_real = protocol.max_real if num_videos is None or protocol.max_real is None else num_videos
    num_fake = protocol.num_fake if num_videos is None else num_videos
    bar = _Progress(progress, rank, world)

    # -- real statistics: cached per dataset + detector + protocol -------------------------------------
    key = _cache_key(ds, det, protocol, seed, max_real)
    cache_path = stats_cache.cache_file(Path(cache_dir) if cache_dir else stats_cache.default_cache_dir(), key)
    cached = stats_cache.load(cache_path, key) if (cache and rank == 0) else None
    hit = broadcast_values([float(cached is not None)], world, det.device)[0] > 0  # rank 0 read the cache
    lengths = [ds.num_frames(i) for i in range(len(ds))]
    label_videos = (
        eligible_videos(lengths, protocol.clip_span, None) if protocol.kind == "fvd" else list(range(len(ds)))
    )
    real_items = 0 if hit else _real_items(protocol, lengths, max_real)
    fake_items = num_fake * (protocol.num_frames if protocol.kind != "fvd" else 1)
    bar.total = real_items + num_runs * fake_items
    if hit:
        mu_real, sigma_real, num_real = cached if cached is not None else (None, None, 0)
    else:
        if protocol.kind == "fvd":
            stats = fvd.real_stats(ds, protocol, det, seed, max_real, rank, world, batch_frames, workers, bar.add)
        else:
            stats = fid.real_stats(ds, det, rank, world, batch_frames, workers, bar.add)
        mu_real, sigma_real = stats.mean_cov()
        num_real = stats.count
        if cache and rank == 0:
            stats_cache.save(cache_path, key, mu_real, sigma_real, num_real)
    num_real = int(broadcast_values([float(num_real)], world, det.device)[0])

    # -- generated statistics and the distance, per run ------------------------------------------------
    values = []
    for r in range(num_runs):
        fs = fake_features(G, ds, protocol, det, seed + r, num_fake, label_videos, rank, world, batch_frames, bar.add)
        value = float("nan")
        if rank == 0:
            mu_fake, sigma_fake = fs.mean_cov()
            if not (np.all(np.isfinite(mu_fake)) and np.all(np.isfinite(sigma_fake))):
                raise MetricError(f"{det.path}: the detector produced NaN/inf features for generated videos")
            value = frechet_distance(mu_fake, sigma_fake, mu_real, sigma_real)
        values.append(value)
    values = broadcast_values(values, world, det.device)

    result = {
        "metric": name,
        "results": _results(name, values),
        "num_real": num_real,
        "num_fake": num_fake,
        "num_runs": num_runs,
        "seed": seed,
        "num_gpus": world,
        "detector": det.describe(),
        "dataset": str(ds.path),
        "protocol": {**protocol.as_dict(), "max_real": max_real, "num_fake": num_fake, "version": PROTOCOL_VERSION},
        "real_stats": {"cache": "hit" if hit else ("miss" if cache else "off"), "file": str(cache_path)},
        "snapshot": str(snapshot) if snapshot is not None else None,
        "total_time": time.time() - start,
        "timestamp": time.time(),
    }
    if rank == 0 and run_dir is not None:
        append_jsonl(Path(run_dir) / f"metric-{name}.jsonl", result)
    return result


def default_batch_frames(resolution: int) -> int:
    """Upstream's frames per batch (NUM_FRAMES_IN_BATCH): fewer at high resolution, where I3D's input is big."""
    return 128 if resolution <= 256 else 64 if resolution <= 512 else 32


def check(names, detector: str | os.PathLike | None = None) -> list[Protocol]:
    """Validate metric names and that their detector files are present, before hours of training:
    MetricError for an unknown name, WeightsMissing (naming the file and `sgv weights fetch`) otherwise."""
    from engine.weights import resolve

    protocols = [_protocol(n) for n in names]
    for kind in dict.fromkeys(p.detector for p in protocols):
        if kind == "synth":  # committed with the project, not in the weights cache
            from engine.metrics.synth_features import load_features

            load_features(detector)
        else:
            resolve(kind, detector)
    return protocols


def load_detector(kind: str, path: str | os.PathLike | None = None, device: torch.device | str = "cpu") -> Detector:
    """The detector `kind` from `path` or the weights cache; a missing file raises WeightsMissing, whose
    message names the file and `sgv weights fetch NAME`."""
    if kind == "synth":  # fsd's feature network: a committed safetensors file, not TorchScript
        from engine.metrics.synth_features import load_features

        return load_features(path, device)
    from engine.weights import load_torchscript, resolve, sha256_file

    file = Path(resolve(kind, path))
    device = torch.device(device)
    with warnings.catch_warnings():  # torch ≥ 2.9 calls TorchScript deprecated; these files only exist as such
        warnings.filterwarnings("ignore", category=FutureWarning, message=r".*torch\.jit")
        module = load_torchscript(kind, file, device=device)
    return Detector(kind, module, file, sha256_file(file), device)


# ----------------------------------------------------------------------------------------------------


def _protocol(name: str) -> Protocol:
    try:
        return METRICS[name]
    except KeyError:
        raise MetricError(f"unknown metric {name!r}; known: {', '.join(METRICS)}") from None


def _dataset(data, G):
    if hasattr(data, "read_frames"):
        ds = data
    else:
        from engine.data import open_dataset

        ds = open_dataset(data, resolution=G.img_resolution)
    if int(ds.resolution) != int(G.img_resolution):
        raise MetricError(f"{ds.path}: frames are {ds.resolution}² but the model makes {G.img_resolution}²")
    if len(ds) == 0:
        raise MetricError(f"{ds.path}: the dataset has no videos")
    return ds


def _cache_key(ds, det: Detector, protocol: Protocol, seed: int, max_real: int | None) -> dict:
    """Everything the real statistics depend on (and nothing they do not, e.g. the generated count)."""
    proto = {k: v for k, v in protocol.as_dict().items() if k not in ("num_fake", "detector")}
    proto.update(name=protocol.name, max_real=max_real, version=PROTOCOL_VERSION)
    if protocol.kind == "fvd":
        proto["seed"] = seed  # offsets; fid reads every frame
    else:
        proto["weighting"] = "per-video"
    return {
        "dataset": stats_cache.dataset_fingerprint(ds),
        "detector": {"kind": det.kind, "sha256": det.sha256},
        "protocol": proto,
    }


def _real_items(protocol: Protocol, lengths: list[int], max_real: int | None) -> int:
    if protocol.kind == "fvd":
        return len(eligible_videos(lengths, protocol.clip_span, max_real))
    return int(sum(lengths))


def _results(name: str, values: list[float]) -> dict:
    if len(values) == 1:
        return {name: values[0]}
    out = {f"{name}_run{i + 1:02d}": v for i, v in enumerate(values)}
    out[f"{name}_mean"] = float(np.mean(values))
    out[f"{name}_std"] = float(np.std(values))
    return out


class _Progress:
    """Turns per-rank item counts into (done, total) calls on rank 0 (others' progress is assumed equal)."""

    def __init__(self, fn: Callable[[int, int], None] | None, rank: int, world: int):
        self.fn = fn if rank == 0 else None
        self.world, self.done, self.total = world, 0, 0

    def add(self, n: int) -> None:
        self.done = min(self.total, self.done + n * self.world)
        if self.fn is not None:
            self.fn(self.done, self.total)
