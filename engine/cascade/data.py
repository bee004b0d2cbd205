"""Training clips of the SR level: consecutive high-resolution frames and their low-resolution windows.

Both views come from the same stored frames through engine.data's reader (center crop + Lanczos resize on
read), so the low-resolution frames are made by the same anti-aliased downsampling as the base's training
data. Every random choice is a pure function of (seed, global sample index), as in engine/train/sampling.py,
so a resumed run sees exactly the clips it would have seen.
"""

from __future__ import annotations

import numpy as np
import torch

from engine.train.sampling import TrainClips, rng, torch_generator


class SRClips(TrainClips):
    """Item g → (hr uint8 [F, 3, H, H], lr uint8 [F + 2k, 3, h, h]): frames s … s+F−1 and s−k … s+F−1+k.

    Indices before the first / after the last frame repeat the edge frame (the base itself is defined for
    every t; real videos are not).
    """

    def __init__(self, hr_dataset, lr_dataset, num_frames: int, window: int, mirror: bool, seed: int):
        super().__init__(hr_dataset, num_frames, 1, 1 << 30, mirror, seed)
        self.lr_dataset, self.window = lr_dataset, window

    def __getitem__(self, g: int):
        i, flip = self.video_of(g)
        n = self.dataset.num_frames(i)
        f, k = self.k, self.window
        start = int(rng(self.seed, 1, g).integers(0, max(n - f, 0) + 1))
        hr_idx = np.clip(np.arange(start, start + f), 0, n - 1)
        lr_idx = np.clip(np.arange(start - k, start + f + k), 0, n - 1)
        hr = self.dataset.read_frames(i, hr_idx.tolist())
        lr = self.lr_dataset.read_frames(i, lr_idx.tolist())
        if flip:
            hr, lr = hr[:, :, ::-1], lr[:, :, ::-1]
        to = lambda x: torch.from_numpy(np.ascontiguousarray(x)).permute(0, 3, 1, 2)  # noqa: E731
        return to(hr), to(lr)


def degrade(lr: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """Degrade each clip's low-resolution frames [N, L, C, h, h] (in [-1, 1]) with probability p, the same way
    for all frames of a clip: Gaussian blur (σ 0.2–0.8 px), a down-up resampling (0.6–1×), additive noise
    (σ ≤ 0.02). Generated base frames are softer and noisier than downsampled real ones; training on both
    keeps the SR level from relying on the exact downsampling kernel. The draws depend only on N."""
    n, length, c, h, w = lr.shape
    u = torch.rand(n, 5, generator=generator)
    noise = torch.randn(lr.shape, generator=generator)
    on = u[:, 0] < p
    if not bool(on.any()):
        return lr
    out = lr.clone()
    for i in torch.nonzero(on).flatten().tolist():
        x = lr[i].float()  # [L, C, h, w]
        if u[i, 1] < 0.5:
            sigma = 0.2 + 0.6 * float(u[i, 2])
            r = torch.arange(-2, 3, dtype=torch.float32)
            g = torch.exp(-(r**2) / (2 * sigma**2))
            g = g / g.sum()
            kern = (g[:, None] * g[None, :]).to(x.device).expand(c, 1, 5, 5)
            x = torch.nn.functional.conv2d(torch.nn.functional.pad(x, (2, 2, 2, 2), mode="replicate"), kern, groups=c)
        else:
            size = max(4, int(round(h * (0.6 + 0.4 * float(u[i, 2])))))
            x = torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", antialias=True)
            x = torch.nn.functional.interpolate(x, size=(h, w), mode="bilinear", align_corners=False)
        x = x + noise[i].to(x.device) * (0.02 * float(u[i, 3]))
        out[i] = x.to(lr.dtype)
    return out


def degrade_generator(seed: int, step: int, phase: int, first_slot: int) -> torch.Generator:
    return torch_generator(seed, 4, step, phase, first_slot)
