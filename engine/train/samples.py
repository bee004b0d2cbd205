"""What a snapshot shows: a PNG grid (rows = fixed contents, columns = times) and a short mp4
(columns = contents, rows = two motion seeds), both from G_ema with fixed seeds so snapshots compare."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch

from engine.errors import SgvError
from engine.media import write_image
from engine.motion_codes import MotionCodes
from engine.video import content_z, export_grid_video, tile, to_uint8

SAMPLE_TIMES = (0, 2, 4, 8, 16, 32, 64, 128)  # frames: short and long gaps in one row


def _labels(G, n: int, labels: np.ndarray | None) -> torch.Tensor | None:
    if G.c_dim == 0:
        return None
    if labels is None or len(labels) == 0:
        return torch.zeros(n, G.c_dim, device=G.device)
    return torch.from_numpy(np.stack([labels[i % len(labels)] for i in range(n)])).float().to(G.device)


@torch.no_grad()
def write_samples(
    G, out_dir: Path, nimg: int, rows: int, seconds: float, labels: np.ndarray | None = None
) -> list[Path]:
    out_dir = Path(out_dir)
    c = _labels(G, rows, labels)
    z = torch.cat([content_z(s, G.z_dim) for s in range(rows)]).to(G.device)
    ws = G.mapping(z, c)  # [rows, L, D]
    v = G.motion([MotionCodes(seed=s) for s in range(rows)], torch.tensor(SAMPLE_TIMES, dtype=torch.float64), c)
    frames = to_uint8(G.synthesis(ws, v))  # [rows, T, H, W, 3]
    grid = _rows_by_time(frames)
    png = out_dir / f"grid-{nimg:010d}.png"
    write_image(png, grid)
    cols = min(rows, 4)
    mp4 = out_dir / f"video-{nimg:010d}.mp4"
    cc = c[:1] if c is not None else None
    try:
        export_grid_video(
            G, [ws[i : i + 1] for i in range(cols)], [MotionCodes(seed=0), MotionCodes(seed=1)], mp4,
            duration_s=seconds, c=cc, quality=7,
        )  # fmt: skip
    except (SgvError, OSError, RuntimeError) as e:  # a broken ffmpeg must not stop training; the grid is written
        warnings.warn(f"{mp4}: sample video not written ({e})", stacklevel=2)
        return [png]
    return [png, mp4]


def _rows_by_time(frames: np.ndarray, pad: int = 2) -> np.ndarray:
    """[rows, T, H, W, 3] → one image, rows down, times across (tile's cells with a single time)."""
    return tile(frames[:, :, None], pad)[0]
