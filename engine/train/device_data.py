"""`sgv train --data-on-device`: the whole dataset decoded once into one uint8 tensor on the training device,
each batch gathered there by index, with no loader processes and no host-to-device copy per step.

For small datasets on a GPU (the bundled model's synthetic data: 64 videos × 256 frames of 64² = 200 MB), where
Python loader workers decoding PNGs cannot keep up with a fast step. The clips are exactly those of the loader
path: the same `TrainClips.plan` per global sample and the same `StepBatches` order (tests/test_device_data.py).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from engine.train.options import TrainingError
from engine.train.sampling import StepBatches, TrainClips


class DeviceClips:
    def __init__(self, clips: TrainClips, device: torch.device, max_bytes: int, threads: int = 4):
        ds, r = clips.dataset, clips.dataset.resolution
        lengths = [ds.num_frames(i) for i in range(len(ds))]
        need = sum(lengths) * 3 * r * r
        if need > max_bytes:
            raise TrainingError(
                f"{ds.path}: --data-on-device needs {need / 2**30:.2f} GiB for {sum(lengths)} frames of {r}²; "
                f"{max_bytes / 2**30:.2f} GiB may be used on {device} (train without --data-on-device)"
            )
        self.clips, self.device = clips, device
        self.offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)  # first frame of each video
        self.frames = torch.empty(sum(lengths), 3, r, r, dtype=torch.uint8, device=device)  # [all frames, 3, R, R]

        def load(i: int) -> None:  # decoders release the GIL: a few threads decode in parallel
            video = torch.from_numpy(ds.read_frames(i, range(lengths[i]))).permute(0, 3, 1, 2)
            self.frames[self.offsets[i] : self.offsets[i] + lengths[i]].copy_(video)

        with ThreadPoolExecutor(max(1, threads)) as pool:
            list(pool.map(load, range(len(ds))))
        labels = np.stack([np.asarray(ds.label(i), dtype=np.float32).reshape(-1) for i in range(len(ds))])
        self.labels = torch.from_numpy(labels)

    def batches(self, sampler: StepBatches) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """What the DataLoader yields for the same sampler: uint8 frames [n, k, 3, R, R] (here already on the
        device), t [n, k] float64 and labels [n, c_dim] (on the CPU, as there)."""
        for slots in sampler:
            plans = [self.clips.plan(g) for g in slots]
            n, k = len(plans), len(plans[0][2])
            index = np.asarray([self.offsets[i] + j for i, _, idx, _ in plans for j in idx], dtype=np.int64)
            frames = self.frames[torch.from_numpy(index).to(self.device)].reshape(n, k, *self.frames.shape[1:])
            flip = torch.tensor([f for _, f, _, _ in plans], device=self.device).reshape(n, 1, 1, 1, 1)
            frames = torch.where(flip, frames.flip(-1), frames)  # whole videos mirrored along x
            t = torch.from_numpy(np.stack([t for _, _, _, t in plans]))
            yield frames, t, self.labels[[i for i, _, _, _ in plans]]


def device_budget(device: torch.device) -> int:
    """Bytes the dataset may take: half of the GPU's free memory, or a quarter of the machine's RAM."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return free // 2
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 4
