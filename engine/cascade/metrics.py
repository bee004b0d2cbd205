"""The whole cascade as a generator for the metrics (FVD16 of base + SR at the SR resolution).

`engine.metrics.calc` draws generated video j from (seed, j): a latent z and a motion seed. `CascadeMetricsG`
maps z through the base's mapping network like a base model, then renders each video as a `CascadeVideo`
(the base video of those content codes and that motion, through the SR level) at the SR resolution, so the
metric sees exactly what `sgv generate --sr` would export. The SR latent of video j comes from its motion
seed, so it too is a pure function of (seed, j). `render_fake_videos` uses `render_clips` when a generator has
one (engine/metrics/fakes.py).
"""

from __future__ import annotations

import numpy as np
import torch

from engine.cascade.nets import SRGenerator


class CascadeMetricsG:
    """What the metrics need of a generator (device, z_dim, c_dim, img_resolution, mapping), plus render_clips."""

    def __init__(self, base, sr: SRGenerator, batch_size: int = 16):
        from engine.cascade.checkpoint import check_fits

        check_fits(sr.config, base.img_resolution, base.config.native_fps, getattr(sr, "source_path", "SR model"))
        self.base, self.sr, self.batch_size = base, sr, batch_size

    @property
    def device(self) -> torch.device:
        return self.sr.device

    @property
    def z_dim(self) -> int:
        return self.base.z_dim

    @property
    def c_dim(self) -> int:
        return self.base.c_dim

    @property
    def img_resolution(self) -> int:
        return self.sr.config.resolution

    def mapping(self, z, c=None, psi: float = 1.0) -> torch.Tensor:
        return self.base.mapping(z.to(self.base.device), c, psi=psi)

    @torch.no_grad()
    def render_clips(self, ws: torch.Tensor, motions, times: np.ndarray, c=None) -> torch.Tensor:
        """float [n, T, 3, H, H] in [-1, 1]: video i is content ws[i] with motions[i], through the SR level."""
        from engine.cascade.video import CascadeVideo
        from engine.video import Video

        out = []
        for i, motion in enumerate(motions):
            label = None if c is None else c[i]
            base = Video(self.base, content=ws[i : i + 1], motion=motion, c=label, batch_size=self.batch_size)
            seed = int(motion.seed) % 2**31 if motion.seed is not None else i
            video = CascadeVideo(base, self.sr, seed=seed, batch_size=self.batch_size)
            out.append(video.frames(times))
        return torch.stack(out)
