"""FID statistics (`fid50k_full`): Inception features of every real frame and of generated frames.

Real: all frames of all videos (upstream reads the archive as an image folder), each frame weighted 1/n
for a video of n frames so that every video counts equally however long it is; upstream weights frames
equally, which is the same thing when all videos have the same length. Fake: 50 000 frames, from
videos of 16 frames at t = 0…15 (3125 videos). Frames go to the Inception file as uint8 [N, 3, H, W].
"""

from __future__ import annotations

import numpy as np
import torch

from engine.metrics.detectors import Detector, MetricError
from engine.metrics.frechet import FeatureStats, collect
from engine.metrics.fvd import Advance


class FrameReader(torch.utils.data.Dataset):
    """Item k: the k-th frame of this rank's share of all frames → (uint8 [H, W, 3], weight 1/n of its video)."""

    def __init__(self, ds, rank: int = 0, world: int = 1):
        self.ds = ds
        lengths = np.array([ds.num_frames(i) for i in range(len(ds))], dtype=np.int64)
        self.starts = np.concatenate([[0], np.cumsum(lengths)])  # flat index of each video's frame 0
        self.lengths = lengths
        self.flat = np.arange(rank, int(self.starts[-1]), world, dtype=np.int64)  # round-robin over frames

    def __len__(self) -> int:
        return len(self.flat)

    def __getitem__(self, k: int) -> tuple[torch.Tensor, float]:
        f = int(self.flat[k])
        i = int(np.searchsorted(self.starts, f, side="right") - 1)
        frame = self.ds.read_frames(i, [f - int(self.starts[i])])[0]
        return torch.from_numpy(np.ascontiguousarray(frame)), 1.0 / float(self.lengths[i])


def real_stats(
    ds,
    detector: Detector,
    rank: int = 0,
    world: int = 1,
    batch_frames: int = 128,
    workers: int = 0,
    advance: Advance | None = None,
) -> FeatureStats:
    if len(ds) == 0 or sum(ds.num_frames(i) for i in range(len(ds))) == 0:
        raise MetricError(f"{ds.path}: the dataset has no frames")
    reader = FrameReader(ds, rank, world)
    loader = torch.utils.data.DataLoader(reader, batch_size=batch_frames, num_workers=workers, shuffle=False)
    return collect(  # batches: frames [n, H, W, 3] uint8, weights [n] float64
        loader, lambda b: (detector(b[0].permute(0, 3, 1, 2)), b[1]), lambda b: b[0].shape[0], world,
        detector.device, advance,
    )  # fmt: skip
