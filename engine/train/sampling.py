"""Which frames D sees (docs/model.md §9), drawn so that every random choice is a pure function of
(seed, step, slot): a resumed run, a run split over ranks and a run with any number of loader workers
all see exactly the same clips.

Per clip, the span d between the first and last of the k frames is chosen uniformly from the powers of
two with k−1 ≤ d ≤ min(len−1, max_dist); the first frame sits at an offset (an integer for real videos,
a uniform float for generated ones), the k−2 middle frames are distinct integers strictly inside.
Videos too short for k distinct frames (1 or 2 frames; upstream raises IndexError there) repeat frames.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from engine.motion_codes import MotionCodes

TOTAL_DISTS = tuple(2**i for i in range(12))  # 1, 2, 4, …, 2048 (upstream's `total_dists`)


def rng(seed: int, *keys: int) -> np.random.Generator:
    """An independent generator for each tuple of non-negative integer keys."""
    return np.random.default_rng(np.random.SeedSequence([int(seed), *[int(k) for k in keys]]))


def torch_generator(seed: int, *keys: int) -> torch.Generator:
    state = np.random.SeedSequence([int(seed), *[int(k) for k in keys]]).generate_state(1, np.uint64)[0]
    return torch.Generator().manual_seed(int(state) >> 1)


def sample_frame_times(
    length: int, k: int, max_dist: int, generator: np.random.Generator, fractional: bool = False
) -> np.ndarray:
    """k sorted frame times in [0, length − 1] (float64 [k]). `length` is capped by the caller's window."""
    if length < 1:
        raise ValueError("a video needs at least one frame")
    top = min(length - 1, max_dist)
    dists = [d for d in TOTAL_DISTS if k - 1 <= d <= top]
    if not dists:  # shorter than k frames: the whole video, frames repeated
        d = length - 1
        inner = np.sort(generator.integers(0, d + 1, size=k - 2)) if k > 2 else np.zeros(0, dtype=np.int64)
        rel = np.concatenate([[0], inner, [d]]).astype(np.float64)
        return rel
    d = int(generator.choice(dists))
    if fractional:
        offset = generator.uniform(0.0, length - 1 - d) if length - 1 > d else 0.0
    else:
        offset = float(generator.integers(0, length - d))
    inner = np.sort(generator.choice(np.arange(1, d), size=k - 2, replace=False)) if k > 2 else np.zeros(0)
    return offset + np.concatenate([[0], inner, [d]]).astype(np.float64)


class TrainClips(torch.utils.data.Dataset):
    """Real clips: item g (a global sample index) → (uint8 frames [k, R, R, 3], t [k], label [c_dim]).

    The video of sample g comes from a per-epoch permutation of the (mirrored) video list; its window and
    frame times from rng(seed, 1, g). Videos longer than `max_num_frames` are windowed first and times are
    relative to the window, as upstream.
    """

    def __init__(self, dataset, k: int, max_dist: int, max_num_frames: int, mirror: bool, seed: int):
        self.dataset, self.k, self.max_dist, self.max_num_frames = dataset, k, max_dist, max_num_frames
        self.mirror, self.seed = mirror, seed
        self.num_items = len(dataset) * (2 if mirror else 1)
        self._perm: tuple[int, np.ndarray] | None = None  # (epoch, permutation), per loader process

    def __len__(self) -> int:
        return self.num_items

    def video_of(self, g: int) -> tuple[int, bool]:
        epoch, pos = divmod(int(g), self.num_items)
        if self._perm is None or self._perm[0] != epoch:
            self._perm = (epoch, rng(self.seed, 0, epoch).permutation(self.num_items))
        item = int(self._perm[1][pos])
        return item % len(self.dataset), item >= len(self.dataset)

    def plan(self, g: int) -> tuple[int, bool, list[int], np.ndarray]:
        """Sample g without reading it: (video, x-flip, its k frame indices in the video, t [k] float64)."""
        i, flip = self.video_of(g)
        gen = rng(self.seed, 1, g)
        n = self.dataset.num_frames(i)
        window = min(n, self.max_num_frames)
        start = int(gen.integers(0, n - window + 1))
        t = sample_frame_times(window, self.k, self.max_dist, gen)
        return i, flip, [start + int(x) for x in t], t

    def __getitem__(self, g: int):
        i, flip, frame_idx, t = self.plan(g)
        frames = self.dataset.read_frames(i, frame_idx)  # uint8 [k, R, R, 3]
        if flip:
            frames = frames[:, :, ::-1]
        frames = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)  # [k, 3, R, R]
        label = torch.from_numpy(np.asarray(self.dataset.label(i), dtype=np.float32).reshape(-1))
        return frames, torch.from_numpy(t), label


class StepBatches(torch.utils.data.Sampler):
    """Global sample indices for one rank, one list per forward pass, from step `start_step` on forever.

    Step s covers global samples s·batch … s·batch + batch − 1; rank r takes its contiguous share, in
    rounds of `batch_gpu` (gradient accumulation).
    """

    def __init__(self, batch: int, rank: int, world: int, batch_gpu: int, start_step: int = 0):
        self.batch, self.rank, self.world, self.batch_gpu, self.start_step = batch, rank, world, batch_gpu, start_step

    def __iter__(self) -> Iterator[list[int]]:
        per_rank = self.batch // self.world
        step = self.start_step
        while True:
            first = step * self.batch + self.rank * per_rank
            for r in range(0, per_rank, self.batch_gpu):
                yield list(range(first + r, first + r + self.batch_gpu))
            step += 1

    def __len__(self) -> int:  # DataLoader asks; the stream is endless
        return 2**62


def fake_draws(
    seed: int,
    step: int,
    phase: int,
    slots: Sequence[int],
    lengths: np.ndarray,
    k: int,
    max_dist: int,
    max_num_frames: int,
    z_dim: int,
) -> tuple[torch.Tensor, np.ndarray, torch.Tensor, np.ndarray]:
    """Generated samples for global slots: z [n, z_dim], motion seeds [n], t [n, k] (float64), video ids [n].

    Each fake clip borrows the length of a random real video (capped at max_num_frames) so generated
    times follow the real length distribution; its offset is fractional (upstream `use_fractional_t`).
    """
    zs, seeds, ts, vids = [], [], [], []
    for slot in slots:
        gen = rng(seed, 2, step, phase, slot)
        vid = int(gen.integers(0, len(lengths)))
        window = int(min(lengths[vid], max_num_frames))
        ts.append(sample_frame_times(window, k, max_dist, gen, fractional=True))
        seeds.append(int(gen.integers(0, 2**31 - 1)))
        zs.append(gen.standard_normal(z_dim))
        vids.append(vid)
    z = torch.from_numpy(np.stack(zs).astype(np.float32))
    return z, np.asarray(seeds), torch.from_numpy(np.stack(ts)), np.asarray(vids)


def fake_motions(seeds: np.ndarray, max_num_frames: int, delta_z: float, context: int, z_dim: int) -> list:
    """Motion codes of generated clips: each its own explicit noise [L, z_dim], one torch.randn from its seed,
    covering every anchor a time in [0, max_num_frames) can use (L = ⌊(max_num_frames − 1)/δz⌋ + 1 + context).

    The same distribution as seeded MotionCodes (i.i.d. N(0, 1) per position), but one draw per clip instead of
    one generator per position: 256 clips took 130 ms of host time per phase that way, now ~15 ms.
    """
    length = int(np.floor((max_num_frames - 1) / delta_z)) + 1 + context
    out = []
    for seed in seeds:
        gen = torch.Generator().manual_seed(int(seed))
        out.append(MotionCodes(seed=None, noise=torch.randn(length, z_dim, generator=gen)))
    return out
