"""The dataset contract every reader fulfils, and the frame decoding they share.

A dataset is a list of videos; a video is a list of square RGB uint8 frames at `resolution`. Readers only
say where the encoded bytes of frame j of video i are (`_frame_bytes`); decoding, the center crop and the
antialiased resize of frames stored at another size live here, once.

Readers are plain picklable objects: anything holding an OS handle (an open zip) is opened lazily and keyed
by process id, so a reader copied into DataLoader workers (fork or spawn) opens its own handle.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from engine.errors import SgvError
from engine.suffixes import IMAGE_EXTS

DEFAULT_FPS = 25.0  # what a dataset without frame-rate metadata is assumed to run at (upstream's usual rate)
META_FILE = "dataset.json"  # fps, resolution, labels, provenance (see README "Datasets")
SKIPPED_FILE = "skipped.txt"  # files `sgv dataset prepare` could not use, one "file: reason" per line


class DatasetError(SgvError):
    """A dataset path that is missing, empty, malformed or inconsistent; one line: "<path>: <problem>"."""


def natural_key(name: str) -> tuple:
    """Sort key that orders frame_2 before frame_10 (digit runs compare as numbers)."""
    parts = re.split(r"(\d+)", name)
    return tuple(int(p) if i % 2 else p.lower() for i, p in enumerate(parts))


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTS)


# ----------------------------------------------------------------------------------------------------
# Frames: center crop + antialiased resize


def fit_square(image: Image.Image | np.ndarray, resolution: int) -> np.ndarray:
    """uint8 [R, R, 3]: the largest centered square of `image` (an odd margin puts the extra pixel on the
    right/bottom, as upstream's scripts), resized with Lanczos (antialiased when shrinking). Cropped before
    resizing, so nothing outside the square bleeds into its edge pixels."""
    im = Image.fromarray(np.ascontiguousarray(image)) if isinstance(image, np.ndarray) else image
    if im.mode != "RGB":
        im = im.convert("RGB")
    w, h = im.size
    s = min(w, h)
    if (w, h) != (s, s):
        left, top = (w - s) // 2, (h - s) // 2
        im = im.crop((left, top, left + s, top + s))
    if s == resolution:
        return np.asarray(im)
    # reducing_gap=3: a box pre-reduction for big shrinks (1080p -> 64), indistinguishable from the full filter.
    return np.asarray(im.resize((resolution, resolution), Image.Resampling.LANCZOS, reducing_gap=3.0))


def decode_frame(data: bytes, resolution: int, where: str) -> np.ndarray:
    """Encoded image bytes → uint8 [R, R, 3]; a damaged image is a DatasetError naming `where`."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            w, h = im.size
            s = min(w, h)
            if im.format == "JPEG" and s >= 2 * resolution:
                # Let libjpeg decode at 1/2, 1/4 or 1/8 scale (still ≥ R on the short side): much faster.
                im.draft("RGB", (-(-resolution * w // s), -(-resolution * h // s)))
            im.load()
            return fit_square(im, resolution)
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as e:
        reason = str(e).strip().splitlines()[0][:160] if str(e).strip() else type(e).__name__
        raise DatasetError(f"{where}: damaged or unreadable image ({reason})") from None


def image_size(data: bytes, where: str) -> tuple[int, int]:
    """(width, height) from an encoded image's header, without decoding it."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise DatasetError(f"{where}: damaged or unreadable image ({e})") from None


# ----------------------------------------------------------------------------------------------------
# dataset.json: fps and labels


def read_meta(text: str | bytes | None, where: str) -> dict:
    """Parse a dataset.json (None → {}); anything but a JSON object is a DatasetError."""
    if text is None:
        return {}
    try:
        meta = json.loads(text)
    except (ValueError, UnicodeDecodeError) as e:
        raise DatasetError(f"{where}: not valid JSON ({e})") from None
    if not isinstance(meta, dict):
        raise DatasetError(f"{where}: expected a JSON object with keys such as 'fps' and 'labels'")
    return meta


def meta_skipped(meta: dict) -> list[tuple[str, str]]:
    """The (file, reason) pairs `sgv dataset prepare` recorded as skipped."""
    items = meta.get("skipped")
    if not isinstance(items, list):
        return []
    return [(str(x[0]), str(x[1])) for x in items if isinstance(x, list | tuple) and len(x) == 2]


def meta_fps(meta: dict, where: str) -> float | None:
    fps = meta.get("fps")
    if fps is None:
        return None
    if isinstance(fps, bool) or not isinstance(fps, int | float) or not 0 < fps < 10_000:
        raise DatasetError(f"{where}: 'fps' must be a positive number, got {fps!r}")
    return float(fps)


def parse_labels(raw: Any, names: Sequence[str], where: str) -> np.ndarray:
    """Labels of `names` as float32 [N, c_dim] from dataset.json's "labels" (None → c_dim 0).

    Accepted: {video_name: int | [floats]} (ours), or upstream's [[relative/path, label], ...] where the path
    is a video folder or a frame inside it. A video may be named by its full relative name ("sub/clip") or
    its last component ("clip"). Integer labels become one-hot vectors of size max + 1 (as upstream).
    """
    if raw is None:
        return np.zeros((len(names), 0), dtype=np.float32)
    table: dict[str, Any] = {}
    if isinstance(raw, dict):
        table = {str(k).strip("/"): v for k, v in raw.items()}
    elif isinstance(raw, list):
        for item in raw:
            if not (isinstance(item, list | tuple) and len(item) == 2 and isinstance(item[0], str)):
                raise DatasetError(f"{where}: 'labels' list items must be [path, label] pairs")
            key = item[0].replace("\\", "/").strip("/")
            table[key] = item[1]
            if is_image_name(key) and "/" in key:  # upstream lists frames; a video's label is its folder's
                table.setdefault(key.rsplit("/", 1)[0], item[1])
    else:
        raise DatasetError(f"{where}: 'labels' must be an object {{video: label}} or null")
    values = []
    for name in names:
        v = table.get(name, table.get(name.rsplit("/", 1)[-1]))
        if v is None:
            raise DatasetError(f"{where}: no label for video '{name}'")
        values.append(v)
    if not values:
        return np.zeros((0, 0), dtype=np.float32)
    if all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        if min(values) < 0:
            raise DatasetError(f"{where}: class labels must be >= 0")
        onehot = np.zeros((len(values), max(values) + 1), dtype=np.float32)
        onehot[np.arange(len(values)), values] = 1
        return onehot
    try:
        arr = np.asarray(values, dtype=np.float32)
    except (ValueError, TypeError):
        arr = None
    if arr is None or arr.ndim != 2 or not np.all(np.isfinite(arr)):
        raise DatasetError(f"{where}: labels must be all class indices or all equal-length lists of numbers")
    return arr


# ----------------------------------------------------------------------------------------------------
# The reader contract


class VideoDataset:
    """Base of every reader: `len(ds)` videos, frames read by index as uint8 [k, R, R, 3].

    Subclasses set the attributes below in `__init__` and implement `_frame_bytes(i, j)`.
    """

    format = "?"  # short name of the on-disk layout, for describe()

    path: Path  # what the user named (a folder, zip or the sharded root)
    resolution: int  # frames come out square R×R
    fps: float  # native frame rate (DEFAULT_FPS when the dataset does not say)
    c_dim: int  # label size; 0 = unlabelled

    def _init_videos(
        self, path: Path, resolution: int | None, fps: float | None, names: list[str], lengths, labels: np.ndarray
    ) -> None:
        """Set the common attributes; without a requested resolution the dataset keeps the short side of its
        first frame (frames of other sizes are then cropped/resized to that)."""
        self.path = Path(path)
        self.fps = float(fps) if fps else DEFAULT_FPS
        self._names = list(names)
        self._lengths = np.asarray(lengths, dtype=np.int64)
        self._labels = np.asarray(labels, dtype=np.float32).reshape(len(self._names), -1)
        self.c_dim = int(self._labels.shape[1])
        self.skipped: list[tuple[str, str]] = []  # (file, reason) that `prepare` could not use, if recorded
        if not resolution:
            w, h = image_size(self._frame_bytes(0, 0), self._where(0, 0))
            resolution = min(w, h)
        if int(resolution) < 1:
            raise DatasetError(f"{path}: resolution must be a positive number of pixels, got {resolution}")
        self.resolution = int(resolution)

    # -- the contract --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._names)

    def num_frames(self, i: int) -> int:
        return int(self._lengths[i])

    def video_name(self, i: int) -> str:
        return self._names[i]

    def label(self, i: int) -> np.ndarray:
        return self._labels[i].copy()  # float32 [c_dim]

    def read_frames(self, i: int, frame_idx: Sequence[int]) -> np.ndarray:
        """uint8 [k, R, R, 3] for frame indices in any order, repeats allowed (each decoded once)."""
        n = self.num_frames(i)
        idx = [int(j) for j in frame_idx]
        for j in idx:
            if not 0 <= j < n:
                raise IndexError(f"{self.path}: frame {j} of video '{self._names[i]}' is out of range (0..{n - 1})")
        decoded = {j: self._read_frame(i, j) for j in dict.fromkeys(idx)}
        r = self.resolution
        out = np.empty((len(idx), r, r, 3), dtype=np.uint8)
        for k, j in enumerate(idx):
            out[k] = decoded[j]
        return out

    def describe(self) -> dict:
        """Summary for `sgv dataset info` and training logs."""
        lengths = self._lengths
        info = {
            "path": str(self.path),
            "format": self.format,
            "videos": len(self),
            "frames": int(lengths.sum()),
            "min_frames": int(lengths.min()) if len(lengths) else 0,
            "median_frames": float(np.median(lengths)) if len(lengths) else 0.0,
            "max_frames": int(lengths.max()) if len(lengths) else 0,
            "fps": self.fps,
            "resolution": self.resolution,
            "c_dim": self.c_dim,
        }
        if self.skipped:
            info["skipped"] = len(self.skipped)
        if len(self):
            w, h = image_size(self._frame_bytes(0, 0), self._where(0, 0))
            info["stored_size"] = f"{w}x{h}"  # frames of another size are cropped/resized on read
        return info

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({str(self.path)!r}, videos={len(self)}, resolution={self.resolution}, "
            f"fps={self.fps:g}, c_dim={self.c_dim})"
        )

    # -- for subclasses -----------------------------------------------------------------------------

    def _frame_bytes(self, i: int, j: int) -> bytes:
        raise NotImplementedError

    def _where(self, i: int, j: int) -> str:
        return f"{self.path}: video '{self._names[i]}' frame {j}"

    def _read_frame(self, i: int, j: int) -> np.ndarray:
        return decode_frame(self._frame_bytes(i, j), self.resolution, self._where(i, j))
