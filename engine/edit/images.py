"""Target images for projection: any file engine.media reads, or an array, fitted to the model's square frame."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from engine.errors import SgvError
from engine.media import read_image

FITS = ("crop", "pad")


def fit_square(rgb: np.ndarray, resolution: int, fit: str = "crop") -> np.ndarray:
    """uint8 [H, W, 3] → uint8 [R, R, 3]: centre crop (or pad with black) to a square, then Lanczos resize."""
    if fit not in FITS:
        raise SgvError(f"unknown fit '{fit}' (choose {' or '.join(FITS)})")
    h, w = rgb.shape[:2]
    if fit == "crop":
        side = min(h, w)
        top, left = (h - side) // 2, (w - side) // 2
        square = rgb[top : top + side, left : left + side]
    else:
        side = max(h, w)
        square = np.zeros((side, side, 3), dtype=np.uint8)
        top, left = (side - h) // 2, (side - w) // 2
        square[top : top + h, left : left + w] = rgb
    if side == resolution:
        return np.ascontiguousarray(square)
    # Lanczos is antialiased when shrinking (a 4000² photo to 256²) and sharp when enlarging a small image.
    return np.array(
        Image.fromarray(np.ascontiguousarray(square)).resize((resolution, resolution), Image.LANCZOS, reducing_gap=3.0)
    )


def as_rgb8(image: np.ndarray | str | os.PathLike, where: str = "image") -> np.ndarray:
    """A file path (any format/mode engine.media.read_image accepts) or an array → uint8 RGB [H, W, 3].

    Arrays may be uint8 or uint16 (scaled to 8 bit), grey [H, W], RGB or RGBA (alpha composited on black, as
    read_image does for files)."""
    if isinstance(image, (str, os.PathLike)):
        return read_image(Path(image))
    a = np.asarray(image)
    if a.dtype == np.uint16:
        a = np.clip(np.rint(a.astype(np.float64) * (255.0 / 65535.0)), 0, 255).astype(np.uint8)
    if a.dtype != np.uint8:
        raise SgvError(f"{where}: image array must be uint8 or uint16, got {a.dtype}")
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise SgvError(f"{where}: image array must be [H, W], [H, W, 3] or [H, W, 4], got {list(a.shape)}")
    if a.shape[2] == 4:
        alpha = a[..., 3:].astype(np.uint16)
        a = ((a[..., :3].astype(np.uint16) * alpha + 127) // 255).astype(np.uint8)
    if min(a.shape[:2]) < 2:
        raise SgvError(f"{where}: image is {a.shape[1]}x{a.shape[0]} px; each side must be at least 2 px")
    return a


def to_tensor(rgb: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """uint8 [H, W, 3] → float32 [1, 3, H, W] in [-1, 1] (the generator's range)."""
    x = torch.from_numpy(np.array(rgb, copy=True)).to(device).permute(2, 0, 1).float()  # input may be read-only
    return (x / 127.5 - 1.0).unsqueeze(0)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two uint8 images of equal shape (inf when identical)."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10.0 * np.log10(255.0**2 / mse))


def keep_mask(path: str | os.PathLike, resolution: int) -> np.ndarray:
    """A mask image as the model's frame sees it: float32 [R, R] in [0, 1], white (1) = keep."""
    rgb = fit_square(read_image(path), resolution, "crop")
    return rgb.astype(np.float32).mean(axis=2) / 255.0


@torch.no_grad()
def frames_at(G, latents, t: float = 0.0) -> np.ndarray:
    """Each latents' frame at time t under its own motion, uint8 [n, R, R, 3] (e.g. before and after an edit)."""
    from engine.media import tensor_to_uint8

    frames = []
    for lat in latents:
        c = lat.c.to(G.device).reshape(1, -1) if lat.c is not None else None
        v = G.motion([lat.motion], [t], c)  # [1, 1, 2D]
        frames.append(G.synthesis(lat.ws_batch(G.device), v)[0, 0])  # [3, R, R]
    return tensor_to_uint8(torch.stack(frames))


def side_by_side(images: np.ndarray, gap: int = 2) -> np.ndarray:
    """uint8 [n, H, W, 3] → one image [H, n·W + (n − 1)·gap, 3], black gaps between."""
    n, h = images.shape[0], images.shape[1]
    spacer = np.zeros((h, gap, 3), dtype=np.uint8)
    parts = [p for i in range(n) for p in ((spacer, images[i]) if i else (images[i],))]
    return np.concatenate(parts, axis=1)
