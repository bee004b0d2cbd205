"""The Fréchet distance between two Gaussians, and the feature statistics it is computed from.

    FD = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2·(Σ₁Σ₂)^½)

Upstream (StyleGAN-V / StyleGAN3 `frechet_*_distance.py`) takes `scipy.linalg.sqrtm(Σ₁Σ₂)` and its real
part. Only the trace of the square root is needed, and Σ₁Σ₂ is similar to the symmetric PSD matrix
A·Σ₂·A with A = Σ₁^½, so Tr((Σ₁Σ₂)^½) = Σᵢ √λᵢ(A·Σ₂·A): two symmetric eigendecompositions in float64, tiny
negative eigenvalues (round-off on singular covariances, e.g. fewer videos than feature dims) clipped to
0. No scipy, no complex parts to drop.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import torch
import torch.distributed as dist

from engine.distributed import comm_device


def _sqrt_psd(sigma: np.ndarray) -> np.ndarray:
    """Σ^½ of a symmetric positive semi-definite matrix (eigenvalues below 0 from round-off → 0)."""
    lam, q = np.linalg.eigh(sigma)
    return (q * np.sqrt(np.clip(lam, 0, None))) @ q.T


def trace_sqrt_product(sigma1: np.ndarray, sigma2: np.ndarray) -> float:
    """Tr((Σ₁Σ₂)^½) for symmetric PSD Σ₁, Σ₂."""
    a = _sqrt_psd(sigma1)
    m = a @ sigma2 @ a
    lam = np.linalg.eigvalsh((m + m.T) / 2)  # symmetrise away round-off
    return float(np.sqrt(np.clip(lam, 0, None)).sum())


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """The Fréchet distance between N(μ₁, Σ₁) and N(μ₂, Σ₂); arrays or tensors, computed in float64."""
    mu1, mu2 = (np.asarray(_numpy(m), dtype=np.float64).reshape(-1) for m in (mu1, mu2))
    sigma1, sigma2 = (np.asarray(_numpy(s), dtype=np.float64) for s in (sigma1, sigma2))
    d = mu1.shape[0]
    for name, s in (("sigma1", sigma1), ("sigma2", sigma2)):
        if s.shape != (d, d):
            raise ValueError(f"{name} has shape {list(s.shape)}, expected [{d}, {d}]")
    if mu2.shape != (d,):
        raise ValueError(f"mu2 has shape {list(mu2.shape)}, expected [{d}]")
    sigma1, sigma2 = (sigma1 + sigma1.T) / 2, (sigma2 + sigma2.T) / 2
    diff = mu1 - mu2
    fd = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * trace_sqrt_product(sigma1, sigma2)
    return float(fd)


def _numpy(x):
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x


class FeatureStats:
    """Weighted running sums of features (float64): Σw, Σw·x, Σw·xxᵀ, and the number of items.

    Mean and the *biased* covariance (divide by Σw) as upstream's `FeatureStats.get_mean_cov`; with all
    weights 1 it is exactly upstream's statistic. Per-item weights let fid50k_full count every real video
    equally (each of a video's n frames has weight 1/n). Sums from several ranks add up exactly.
    """

    def __init__(self, dim: int | None = None):
        self.count = 0
        self.sum_w = 0.0
        self.sum_x: torch.Tensor | None = None  # [D] float64
        self.sum_xx: torch.Tensor | None = None  # [D, D] float64
        if dim is not None:
            self._init(dim)

    def _init(self, dim: int) -> None:
        self.sum_x = torch.zeros(dim, dtype=torch.float64)
        self.sum_xx = torch.zeros(dim, dim, dtype=torch.float64)

    @property
    def dim(self) -> int | None:
        return None if self.sum_x is None else self.sum_x.shape[0]

    def append(self, features: torch.Tensor, weights: torch.Tensor | None = None) -> None:
        """features [N, D] (any float dtype/device), weights [N] (default 1)."""
        if features.ndim != 2:
            raise ValueError(f"detector features must be [N, D], got {list(features.shape)}")
        x = features.detach().to("cpu", torch.float64)
        if self.sum_x is None:
            self._init(x.shape[1])
        elif x.shape[1] != self.dim:
            raise ValueError(f"detector features changed size: {x.shape[1]} vs {self.dim}")
        w = torch.ones(x.shape[0], dtype=torch.float64) if weights is None else weights.to("cpu", torch.float64)
        wx = x * w[:, None]
        self.count += x.shape[0]
        self.sum_w += float(w.sum())
        self.sum_x += wx.sum(0)
        self.sum_xx += wx.T @ x

    def all_reduce(self, world: int, device: torch.device | str = "cpu") -> None:
        """Sum the statistics of all ranks into every rank (a collective: every rank must call it)."""
        if world <= 1:
            return
        dim = torch.tensor([self.dim or 0], dtype=torch.int64, device=device)
        dist.all_reduce(dim, op=dist.ReduceOp.MAX)  # a rank with an empty shard still takes part
        if self.sum_x is None:
            self._init(int(dim.item()))
        scalars = torch.tensor([float(self.count), self.sum_w], dtype=torch.float64, device=device)
        sums = torch.cat([self.sum_x, self.sum_xx.flatten()]).to(device)
        dist.all_reduce(scalars)
        dist.all_reduce(sums)
        self.count, self.sum_w = int(round(float(scalars[0]))), float(scalars[1])
        sums = sums.cpu()
        d = self.dim
        self.sum_x, self.sum_xx = sums[:d].clone(), sums[d:].reshape(d, d).clone()

    def mean_cov(self) -> tuple[np.ndarray, np.ndarray]:
        """(μ [D], Σ [D, D]) in float64, Σ biased (divided by the total weight)."""
        if self.sum_x is None or self.sum_w <= 0:
            raise ValueError("no features were collected")
        mean = self.sum_x / self.sum_w
        cov = self.sum_xx / self.sum_w - torch.outer(mean, mean)
        return mean.numpy(), cov.numpy()


def collect(batches: Iterable, features: Callable, size: Callable, world: int, device, advance=None) -> FeatureStats:
    """FeatureStats of every batch this rank holds, summed over ranks: `features(batch)` gives append()'s
    arguments, `size(batch)` the items it finished (for `advance`); `device` is the detector's."""
    stats = FeatureStats()
    for batch in batches:
        stats.append(*features(batch))
        if advance:
            advance(size(batch))
    stats.all_reduce(world, comm_device(device))
    return stats
