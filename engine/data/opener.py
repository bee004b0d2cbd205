"""`open_dataset(path, resolution)`: recognise the layout of a path and return its reader.

  a .zip with frame_paths.json, or a folder of HHHHxWWWW/partition_*.zip → ShardedZipDataset (LongVideoGAN)
  any other .zip                                                          → ZipFramesDataset
  a folder whose subfolders hold images                                   → FrameFolderDataset
  a folder of video files (or one video file)                             → VideoFolderDataset

Decoding an mp4 for every training sample would starve the GPU, so a folder of videos is converted once
into a frame cache (the code of `sgv dataset prepare`) and read from there. The cache folder is keyed by
the folder's absolute path, the resolution and the fps; inside it, each video's record holds its source's
size and mtime, so later calls reuse it as is, redo only new or changed videos, and drop removed ones.
Location: `cache_dir`, else `$XDG_CACHE_HOME/sgv-studio/datasets` (default `~/.cache/sgv-studio/datasets`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import statistics
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from engine.data.base import META_FILE, DatasetError, VideoDataset, is_image_name
from engine.data.layout import FORMAT_NAME
from engine.data.prepare import JOURNAL, labels_file_signature, list_video_sources, prepare_dataset, signature
from engine.data.readers import FrameFolderDataset, ShardedZipDataset, ZipFramesDataset, is_sharded_root
from engine.paths import cache_root
from engine.suffixes import READ_VIDEO_EXTS

CACHE_VERSION = 1


def default_cache_dir() -> Path:
    return cache_root() / "datasets"


def cache_path_for(src: Path, resolution: int, fps: float | None = None, cache_dir: Path | None = None) -> Path:
    """The frame cache of a video folder at a resolution (and fps): one folder per (absolute path, R, fps)."""
    src = Path(src).expanduser().resolve()
    key = json.dumps({"source": str(src), "resolution": int(resolution), "fps": fps, "v": CACHE_VERSION})
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", src.name or "root")[:40]
    return Path(cache_dir or default_cache_dir()).expanduser() / f"{stem}-{int(resolution)}px-{digest}"


class VideoFolderDataset(FrameFolderDataset):
    """A folder of video files, read through its frame cache (see the module docstring)."""

    format = "videos"

    def __init__(self, source: Path, cache: Path, resolution: int):
        super().__init__(cache, resolution)  # also reads the cache's list of skipped files
        self.path, self.cache = Path(source), Path(cache)

    def _where(self, i: int, j: int) -> str:
        return f"{self.cache / self._names[i] / self._frames[i][j]} (cache of {self.path})"

    def describe(self) -> dict:
        info = super().describe()
        info.update(cache=str(self.cache), skipped=len(self.skipped))
        return info


# ----------------------------------------------------------------------------------------------------
# Layout detection


def _scan(root: Path) -> tuple[dict[str, list[str]], list[str], list[str], int]:
    """One walk: (frame folders {rel: images}, video-extension files, other candidate files, loose images)."""
    from engine.data.base import natural_key
    from engine.data.prepare import _is_candidate

    frames: dict[str, list[str]] = {}
    videos, others, loose = [], [], 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "__MACOSX"]
        rel = Path(dirpath).relative_to(root).as_posix()
        images = [f for f in filenames if is_image_name(f) and not f.startswith(".")]
        if images:
            if rel == ".":
                loose += len(images)
            else:
                frames[rel] = sorted(images, key=natural_key)
        for f in filenames:
            if _is_candidate(f):
                (videos if f.lower().endswith(READ_VIDEO_EXTS) else others).append(f if rel == "." else f"{rel}/{f}")
    return frames, videos, others, loose


def detect_layout(path: Path) -> tuple[str, dict | None]:
    """('sharded' | 'zip' | 'frames' | 'videos', the frame-folder scan when 'frames')."""
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    if path.is_file():
        if zipfile.is_zipfile(path):
            try:
                with zipfile.ZipFile(path) as zf:
                    return ("sharded" if "frame_paths.json" in zf.namelist() else "zip"), None
            except (zipfile.BadZipFile, OSError) as e:
                raise DatasetError(f"{path}: not a valid zip archive ({e})") from None
        if path.suffix.lower() == ".zip":
            raise DatasetError(f"{path}: not a valid zip archive (damaged or truncated?)")
        return "videos", None
    if is_sharded_root(path):
        return "sharded", None
    frames, videos, others, loose = _scan(path)
    if frames and videos:
        raise DatasetError(
            f"{path}: holds both video files ({videos[0]}) and frame folders ({next(iter(frames))}/); "
            "point at a folder with only one kind"
        )
    if frames:
        return "frames", frames
    if videos or others:
        return "videos", None
    if loose:
        raise DatasetError(
            f"{path}: holds {loose} images but no video folders; put each video's frames in {path}/<video>/"
        )
    raise DatasetError(f"{path}: empty folder (no videos, frame folders or zips)")


# ----------------------------------------------------------------------------------------------------
# open_dataset


def open_dataset(
    path: str | os.PathLike,
    resolution: int | None = None,
    cache_dir: Path | None = None,
    progress=None,
) -> VideoDataset:
    """The reader for `path` (see the module docstring), yielding R×R frames.

    resolution: None keeps the frames' own size (the short side of the first frame); required for videos.
    progress (only used while a video cache is built): None → tqdm bar and a summary line on stderr;
    callable(done, total) → called per video; False → silent.
    """
    path = Path(path).expanduser()
    if resolution is not None and int(resolution) < 1:
        raise DatasetError(f"{path}: resolution must be a positive number of pixels, got {resolution}")
    layout, scan = detect_layout(path)
    if layout == "sharded":
        return ShardedZipDataset(path, resolution)
    if layout == "zip":
        return ZipFramesDataset(path, resolution)
    if layout == "frames":
        return FrameFolderDataset(path, resolution, scan=scan)
    if resolution is None:
        raise DatasetError(f"{path}: a folder of videos needs a resolution to be read at (--res R)")
    return _open_video_folder(path, int(resolution), cache_dir, progress)


def _cache_is_current(cache: Path, src: Path) -> bool:
    """True when the cache's records match every current source file (nothing to redo, add or drop)."""
    meta_path = cache / META_FILE
    if not meta_path.is_file() or (cache / JOURNAL).exists():
        return False
    try:
        meta = json.loads(meta_path.read_text())
        records = meta["prepare"]["videos"]
        labels_file = meta["prepare"].get("labels_file")
    except (ValueError, KeyError, TypeError, AttributeError, OSError):
        return False
    if meta.get("format") != FORMAT_NAME or labels_file != labels_file_signature(src):
        return False
    sources = list_video_sources(src)
    if {s.name for s in sources} != set(records):
        return False
    for s in sources:
        rec = records[s.name]
        if signature(rec) != (s.file, s.size, s.mtime_ns):
            return False
        if rec.get("status") == "done" and not (cache / s.name).is_dir():
            return False
    return True


def _open_video_folder(src: Path, resolution: int, cache_dir: Path | None, progress) -> VideoFolderDataset:
    cache = cache_path_for(src, resolution, None, cache_dir)
    if not _cache_is_current(cache, src):
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DatasetError(f"{cache.parent}: cannot create the dataset cache ({e.strerror or e})") from None
        result = prepare_dataset(src, cache, resolution, format="frames", progress=progress, prune=True)
        if progress is None:
            print(f"sgv: dataset cache {result.summary()}", file=sys.stderr)
    return VideoFolderDataset(src, cache, resolution)


# ----------------------------------------------------------------------------------------------------
# Probing a video folder (for `sgv dataset info` without --res)


def probe_video_folder(path: str | os.PathLike, workers: int = 4) -> dict:
    """describe()-like summary of a folder of videos, read from the files themselves (frames are counted by
    decoding, so this takes a while for long videos); unreadable and damaged files are listed under 'skipped'."""
    from engine.media import MediaError, iter_video_frames, probe_video

    src = Path(path).expanduser()
    sources = list_video_sources(src)
    if not sources:
        raise DatasetError(f"{src}: no video files found")

    def probe(s):
        try:
            info = probe_video(s.path, count_frames=False)
            # Counted by the decoder prepare uses, so a truncated file is reported here as prepare will see it.
            info["frames"] = sum(1 for _ in iter_video_frames(s.path))
            return s, info, None
        except MediaError as e:
            msg = str(e)
            return s, None, msg[len(f"{s.path}: ") :] if msg.startswith(f"{s.path}: ") else msg

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:  # each probe waits on an ffmpeg process
        results = list(pool.map(probe, sources))
    good = [(s, p) for s, p, _ in results if p is not None and p["frames"]]
    skipped = [(s.file, why or "video has no frames") for s, p, why in results if p is None or not p["frames"]]
    lengths = np.asarray([p["frames"] for _, p in good], dtype=np.int64)
    rates = [p["fps"] for _, p in good if p["fps"]]
    sizes = sorted({f"{p['width']}x{p['height']}" for _, p in good})
    return {
        "path": str(src),
        "format": "videos",
        "videos": len(good),
        "frames": int(lengths.sum()),
        "min_frames": int(lengths.min()) if len(lengths) else 0,
        "median_frames": float(np.median(lengths)) if len(lengths) else 0.0,
        "max_frames": int(lengths.max()) if len(lengths) else 0,
        "fps": float(statistics.median(rates)) if rates else None,
        "fps_range": [min(rates), max(rates)] if rates else None,
        "sizes": sizes,
        "skipped": [list(x) for x in skipped],
    }
