"""A cascade video: a base Video (low resolution, any real t) followed by an SR level.

Output frame t is SR(w, [base(t + j) for j = −k…k]), offsets j in data frames, whatever the playback fps.
Each output depends only on its own window, rendered by the base's random-access motion, so a frame is the
same alone, in a batch or in any chunk, t = 10^6 costs what t = 0 costs, and export streams chunk by chunk in
constant memory. Window times are snapped to a 2^-16-frame grid and the base frames are kept in an LRU cache
keyed by that grid, so neighbouring outputs (at native fps they share 2k of their 2k+1 window frames) render
about one new base frame each.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from engine.cascade.checkpoint import check_fits
from engine.cascade.nets import SRGenerator
from engine.video import _LRU, Video, content_z, frame_times, to_uint8

TIME_GRID = 2**16  # window times are multiples of 1/TIME_GRID frame: exact cache keys at any t


class CascadeVideo:
    """High-resolution frames of `base` through the SR level `sr`; `seed` picks the SR latent (its detail)."""

    def __init__(
        self,
        base: Video,
        sr: SRGenerator,
        seed: int = 0,
        psi: float = 1.0,
        batch_size: int = 8,
        cache_frames: int = 256,
        channels_last: bool | None = None,
    ):
        check_fits(sr.config, base.G.img_resolution, base.native_fps, getattr(sr, "source_path", "SR model"))
        self.base, self.sr, self.seed = base, sr, int(seed)
        self.k = sr.config.window
        self.batch_size = max(1, int(batch_size))
        with torch.no_grad():
            self.ws = sr.mapping(content_z(self.seed, sr.z_dim).to(sr.device), psi=psi)
        self._cache = _LRU(max(int(cache_frames), 2 * (self.batch_size + 2 * self.k)))
        self.channels_last = sr.device.type == "cpu" if channels_last is None else channels_last
        self.base_frames_rendered = 0  # for benchmarks and tests of the sharing

    # -- what export and the app need of a video -------------------------------------------------------
    @property
    def native_fps(self) -> float:
        return self.base.native_fps

    @property
    def resolution(self) -> int:
        return self.sr.config.resolution

    @property
    def base_resolution(self) -> int:
        return self.base.resolution

    def times(
        self, num_frames: int, fps: float | None = None, t_start: float = 0.0, time_scale: float = 1.0
    ) -> np.ndarray:
        return frame_times(num_frames, fps or self.native_fps, self.native_fps, t_start, time_scale)

    def clear_cache(self) -> None:
        """Call after changing the base's content or motion in place (a new CascadeVideo does this itself)."""
        self._cache.clear()

    # -- rendering ------------------------------------------------------------------------------------
    def window_keys(self, ts) -> np.ndarray:
        """int64 [T, 2k+1]: grid keys of the base frames each output frame sees."""
        ts = np.asarray(ts, dtype=np.float64).reshape(-1)
        keys = np.rint(ts * TIME_GRID).astype(np.int64)[:, None]
        keys = keys + np.arange(-self.k, self.k + 1, dtype=np.int64)[None] * TIME_GRID
        if self.base.motion.noise is not None:  # explicit (imported) noise has no positions before t = 0
            keys = np.maximum(keys, 0)
        return keys

    def _base_frames(self, keys: np.ndarray) -> torch.Tensor:
        """[len(keys), C, h, h] base frames at key / TIME_GRID, rendering only those not cached."""
        missing = [int(k) for k in dict.fromkeys(keys.tolist()) if int(k) not in self._cache]
        if missing:
            x = self.base.frames(np.asarray(missing, dtype=np.float64) / TIME_GRID)
            self.base_frames_rendered += len(missing)
            for key, frame in zip(missing, x):
                self._cache[key] = frame
        return torch.stack([self._cache[int(k)] for k in keys.tolist()])

    @torch.no_grad()
    def frames(self, ts: Sequence[float] | np.ndarray | torch.Tensor) -> torch.Tensor:
        """High-resolution frames at times ts (any real values): [T, 3, H, H] float32 on the SR's device."""
        ts = np.asarray(ts.cpu() if torch.is_tensor(ts) else ts, dtype=np.float64).reshape(-1)
        out = []
        for i in range(0, len(ts), self.batch_size):
            keys = self.window_keys(ts[i : i + self.batch_size])  # [F, W]
            lr = self._base_frames(keys.reshape(-1)).to(self.sr.device)
            windows = lr.reshape(1, keys.shape[0], keys.shape[1], *lr.shape[1:])
            out.append(self.sr.synthesis(self.ws, windows, channels_last=self.channels_last)[0])
        if not out:
            c, r = self.sr.config.img_channels, self.resolution
            return torch.empty(0, c, r, r)
        return torch.cat(out)

    def frame(self, t: float) -> torch.Tensor:
        return self.frames([t])[0]

    def frames_uint8(self, ts) -> np.ndarray:
        return to_uint8(self.frames(ts))

    @torch.no_grad()
    def lowres_frames(self, ts) -> torch.Tensor:
        """The base frames the cascade starts from at ts (the window centres): [T, 3, h, h]."""
        keys = self.window_keys(ts)[:, self.k]
        return self._base_frames(keys)
