"""Generated videos for the metrics: video j of a run is a pure function of (seed, j).

Rendered with the public generator interface only (G.mapping, G.motion, G.synthesis), several videos per
batch, and quantised to uint8 exactly as a saved video; a cascade brings its own `render_clips`
(engine/cascade/metrics.py). Motion is random access, so a clip longer than a batch is rendered in time chunks
with the same result as one pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch

from engine.metrics.detectors import Detector, MetricError
from engine.metrics.frechet import FeatureStats, collect
from engine.metrics.protocol import Protocol, fake_draw, fake_times, quantize, shard
from engine.motion_codes import MotionCodes


def render_fake_videos(
    G,
    videos: Sequence[int],
    seed: int,
    times: np.ndarray,
    label_of: Callable[[int], np.ndarray] | None,
    num_labels: int,
    batch_frames: int = 128,
) -> Iterator[tuple[list[int], torch.Tensor]]:
    """Yield (video indices, uint8 [n, T, 3, H, W] on G's device) for `videos`, n·T ≈ batch_frames.

    `label_of(k)` is the label of the k-th of `num_labels` real videos a conditional model draws from.
    """
    if G.c_dim and label_of is None:
        raise MetricError(f"the model is conditional ({G.c_dim} classes) but the dataset has no labels")
    device = G.device
    num_t = len(times)
    per_batch = max(1, batch_frames // num_t)
    t_chunk = max(1, batch_frames // per_batch)
    t_all = torch.as_tensor(times, dtype=torch.float64)
    channels_last = device.type == "cpu"  # same fp32 math, faster on CPU (tests/test_fastpaths.py)
    for start in range(0, len(videos), per_batch):
        idx = list(videos[start : start + per_batch])
        draws = [fake_draw(seed, j, G.z_dim, num_labels if G.c_dim else None) for j in idx]
        z = torch.from_numpy(np.stack([d.z for d in draws])).to(device)  # [n, Z]
        c = None
        if G.c_dim:
            c = torch.from_numpy(np.stack([_label(label_of(d.label_index), G.c_dim) for d in draws])).to(device)
        motions = [MotionCodes(seed=d.motion_seed) for d in draws]
        render_clips = getattr(G, "render_clips", None)  # a cascade renders its own windows (engine/cascade/metrics.py)
        with torch.no_grad():
            ws = G.mapping(z, c, psi=1.0)  # [n, L, D]
            chunks = [quantize(render_clips(ws, motions, times, c))] if render_clips is not None else []
            for t0 in range(0, num_t if render_clips is None else 0, t_chunk):
                v = G.motion(motions, t_all[t0 : t0 + t_chunk], c)  # [n, t, V]
                x = G.synthesis(ws, v, channels_last=channels_last)  # [n, t, 3, H, W]
                chunks.append(quantize(x))
        yield idx, torch.cat(chunks, dim=1)  # [n, T, 3, H, W] uint8


def fake_features(
    G,
    ds,
    protocol: Protocol,
    detector: Detector,
    seed: int,
    num_fake: int,
    label_videos: Sequence[int],
    rank: int = 0,
    world: int = 1,
    batch_frames: int = 128,
    advance: Callable[[int], None] | None = None,
) -> FeatureStats:
    """Detector features of `num_fake` generated videos of `protocol.num_frames` frames each (this rank's share:
    every world-th video). FVD: one item per clip (the detector takes [n, 3, T, H, W]); FID and FSD: every frame
    an item of the same weight. `label_videos`: the real videos whose labels a conditional model draws from
    (upstream: the metric's dataset, i.e. FVD's eligible videos, every video for the frame metrics)."""
    times = fake_times(protocol.num_frames, protocol.subsample)
    label_of = (lambda k: ds.label(label_videos[k])) if getattr(ds, "c_dim", 0) else None
    mine = shard(range(num_fake), rank, world)
    videos = (x for _, x in render_fake_videos(G, mine, seed, times, label_of, len(label_videos), batch_frames))
    if protocol.kind == "fvd":  # x: [n, T, 3, H, W] → [n, 3, T, H, W]
        return collect(videos, lambda x: (detector(x.permute(0, 2, 1, 3, 4)),), len, world, detector.device, advance)
    return collect(  # x: [n, T, 3, H, W]; every frame an item
        videos,
        lambda x: (detector(x.flatten(0, 1)),),
        lambda x: x.shape[0] * x.shape[1],
        world,
        detector.device,
        advance,
    )


def _label(label, c_dim: int) -> np.ndarray:
    vec = np.asarray(label, dtype=np.float32).reshape(-1)
    if vec.shape[0] != c_dim:
        raise MetricError(f"dataset labels have {vec.shape[0]} entries, the model needs {c_dim}")
    return vec
