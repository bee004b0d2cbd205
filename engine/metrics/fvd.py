"""FVD statistics (docs/model.md §14): I3D features of one clip per real video and of generated clips.

Real: the first `max_real` videos with at least F·s frames, one clip each at a seeded random offset,
frames offset + 0, s, …, (F−1)·s, no flipping, uint8 at the data's resolution. Fake: `num_fake` generated
videos at t = 0, s, …, (F−1)·s. Both go to the I3D file as uint8 [N, 3, T, H, W]. Each rank takes every
world-th video; the float64 sums of all ranks are added (FeatureStats.all_reduce).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from engine.metrics.detectors import Detector, MetricError
from engine.metrics.frechet import FeatureStats, collect
from engine.metrics.protocol import Protocol, clip_frames, clip_offset, eligible_videos, shard

Advance = Callable[[int], None]  # called with the number of items this rank just finished


class ClipReader(torch.utils.data.Dataset):
    """Item k: video `videos[k]` read at `frames[k]` → uint8 [T, H, W, 3] (a DataLoader may run it in workers)."""

    def __init__(self, ds, videos: list[int], frames: list[np.ndarray]):
        self.ds, self.videos, self.frames = ds, videos, frames

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, k: int) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(self.ds.read_frames(self.videos[k], self.frames[k])))


def real_clips(ds, protocol: Protocol, seed: int, max_real: int | None) -> tuple[list[int], list[np.ndarray]]:
    """The protocol's real clips: (video indices, frame indices of each), one clip per eligible video."""
    lengths = [ds.num_frames(i) for i in range(len(ds))]
    videos = eligible_videos(lengths, protocol.clip_span, max_real)
    if not videos:
        raise MetricError(
            f"{ds.path}: no video has the {protocol.clip_span} frames {protocol.name} needs "
            f"(longest: {max(lengths, default=0)})"
        )
    frames = [
        clip_frames(clip_offset(seed, i, lengths[i], protocol.num_frames, protocol.subsample), protocol.num_frames,
                    protocol.subsample)
        for i in videos
    ]  # fmt: skip
    return videos, frames


def real_stats(
    ds,
    protocol: Protocol,
    detector: Detector,
    seed: int,
    max_real: int | None,
    rank: int = 0,
    world: int = 1,
    batch_frames: int = 128,
    workers: int = 0,
    advance: Advance | None = None,
) -> FeatureStats:
    videos, frames = real_clips(ds, protocol, seed, max_real)
    reader = ClipReader(ds, shard(videos, rank, world), shard(frames, rank, world))
    loader = torch.utils.data.DataLoader(
        reader, batch_size=max(1, batch_frames // protocol.num_frames), num_workers=workers, shuffle=False
    )
    return collect(  # clips: [n, T, H, W, 3] uint8 → the detector takes [n, 3, T, H, W]
        loader, lambda c: (detector(c.permute(0, 4, 1, 2, 3)),), len, world, detector.device, advance
    )
