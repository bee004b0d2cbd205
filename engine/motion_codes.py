"""Motion as a value: random-access motion noise and per-anchor edits.

Upstream draws one long noise sequence from position 0 up to max(t) and runs the motion convs over all
of it, so rendering t = 10^6 costs ~10^5 noise codes. Here the noise code at position j comes from a
counter-based generator keyed by (motion seed, j): Philox-4x64 with the 128-bit key (j, seed). Any
position can be produced on its own, so a frame needs only the ~2(k-1)+2 = 22 positions around its anchor
and is identical whatever chunk, batch or order it is rendered in. Negative positions exist too, so
seeded motion is defined for negative t.

An explicit noise tensor (upstream's `motion_z`, e.g. for parity or imported latents) is also accepted;
then only positions 0..L-1 exist. Per-anchor overrides replace an anchor's "u" code (the motion convs'
output) with an edited one; an override at anchor i changes exactly the frames with t in
((i-1)·δz, (i+1)·δz).
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

_M64 = (1 << 64) - 1
_CACHE_POSITIONS = 8192


def noise_code(seed: int, position: int, z_dim: int) -> np.ndarray:
    """The motion noise code of one position: N(0, I) float32 [z_dim], a pure function of its arguments."""
    key = np.array([position & _M64, seed & _M64], dtype=np.uint64)
    return np.random.Generator(np.random.Philox(key=key)).standard_normal(z_dim, dtype=np.float32)


@dataclass(frozen=True, eq=False)
class MotionCodes:
    """The motion of one video: a seed (or explicit noise) plus edited anchors.

    Immutable: edits return a new object, so the app can keep them in its undo history.
    """

    seed: int | None = 0
    noise: torch.Tensor | None = None  # [L, Z] explicit noise, positions 0..L-1 (upstream's motion_z row)
    overrides: Mapping[int, torch.Tensor] = field(default_factory=dict)  # anchor index -> u code [V]
    _cache: OrderedDict = field(default_factory=OrderedDict, repr=False, compare=False)

    def __post_init__(self) -> None:
        if (self.seed is None) == (self.noise is None):
            raise ValueError("MotionCodes needs exactly one of seed= or noise=")
        if self.noise is not None and self.noise.ndim != 2:
            raise ValueError(f"explicit motion noise must be [L, Z], got {list(self.noise.shape)}")
        if self.seed is not None:
            object.__setattr__(self, "seed", int(self.seed))

    # -- construction ------------------------------------------------------------------------------------
    @classmethod
    def from_noise(cls, noise: torch.Tensor) -> MotionCodes:
        """From upstream-style motion_z: [L, Z] or [1, L, Z]."""
        noise = torch.as_tensor(noise)
        if noise.ndim == 3:
            if noise.shape[0] != 1:
                raise ValueError("from_noise takes one video's noise [L, Z]; use batch_from_noise for [N, L, Z]")
            noise = noise[0]
        return cls(seed=None, noise=noise.detach().to(torch.float32).cpu())

    @classmethod
    def batch_from_noise(cls, noise: torch.Tensor) -> list[MotionCodes]:
        return [cls.from_noise(n) for n in torch.as_tensor(noise)]

    def with_override(self, anchor: int, u: torch.Tensor) -> MotionCodes:
        edits = dict(self.overrides)
        edits[int(anchor)] = u.detach().to(torch.float32).cpu().reshape(-1)
        return dataclasses.replace(self, overrides=edits, _cache=self._cache)

    def without_override(self, anchor: int) -> MotionCodes:
        edits = {i: u for i, u in self.overrides.items() if i != int(anchor)}
        return dataclasses.replace(self, overrides=edits, _cache=self._cache)

    def without_overrides(self) -> MotionCodes:
        return dataclasses.replace(self, overrides={}, _cache=self._cache)

    # -- queries -----------------------------------------------------------------------------------------
    @property
    def num_positions(self) -> int | None:
        """Noise positions available (None = unbounded, seeded)."""
        return None if self.noise is None else int(self.noise.shape[0])

    def noise_window(self, start: int, length: int, z_dim: int) -> torch.Tensor:
        """Noise positions start .. start+length-1 as float32 [length, z_dim] on the CPU."""
        if self.noise is not None:
            stop = start + length
            if start < 0 or stop > self.noise.shape[0]:
                raise ValueError(
                    f"explicit motion noise has positions 0..{self.noise.shape[0] - 1}, but this time "
                    f"range needs {start}..{stop - 1}; pass longer noise or use a motion seed"
                )
            if self.noise.shape[1] < z_dim:
                raise ValueError(f"explicit motion noise has {self.noise.shape[1]} dims, the model needs {z_dim}")
            return self.noise[start:stop, :z_dim]
        rows = [self._seeded_code(j, z_dim) for j in range(start, start + length)]
        return torch.from_numpy(np.stack(rows))

    def _seeded_code(self, position: int, z_dim: int) -> np.ndarray:
        key = (position, z_dim)
        code = self._cache.get(key)
        if code is None:
            code = noise_code(self.seed, position, z_dim)
            self._cache[key] = code
            if len(self._cache) > _CACHE_POSITIONS:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return code

    def same_motion(self, other: MotionCodes) -> bool:
        """Value equality (seed/noise and overrides), for undo histories and tests."""
        if not isinstance(other, MotionCodes) or self.seed != other.seed:
            return False
        if (self.noise is None) != (other.noise is None):
            return False
        if self.noise is not None and not torch.equal(self.noise, other.noise):
            return False
        if set(self.overrides) != set(other.overrides):
            return False
        return all(torch.equal(u, other.overrides[i]) for i, u in self.overrides.items())

    def describe(self) -> str:
        base = f"seed {self.seed}" if self.seed is not None else f"explicit noise [{self.noise.shape[0]} positions]"
        return base + (f", {len(self.overrides)} edited anchor(s)" if self.overrides else "")
