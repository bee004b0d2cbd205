"""Writing frame datasets: one video folder at a time (atomically), zips in upstream's layout, dataset.json.

A video folder appears under its final name only when all of its frames are written (written into a hidden
`.<name>.tmp-<pid>-<rand>` sibling, then renamed), so an interrupted write never leaves a partial video
that a reader or a resumed `prepare` would count. Readers ignore hidden names; `clean_temp_dirs` removes
the leftovers of a killed process.

Zips are written as upstream's `VideoFramesFolderDataset` expects them: one top folder named after the
zip, explicit directory entries, members stored (frames are already compressed), and a fixed timestamp so
the same frames give the same bytes.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import shutil
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image

from engine.data.base import META_FILE, DatasetError, natural_key
from engine.fileio import atomic_path, atomic_write_text

FORMAT_NAME = "sgv-frames"  # dataset.json "format" of what we write
FORMAT_VERSION = 1
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say: fixed, for reproducible bytes
JPG_QUALITY = 95


def encode_frame(frame: np.ndarray, ext: str, jpg_quality: int = JPG_QUALITY) -> bytes:
    """uint8 [H, W, 3] → PNG (lossless) or JPEG bytes (quality 95, no chroma subsampling)."""
    buf = io.BytesIO()
    im = Image.fromarray(np.ascontiguousarray(frame))
    if ext == "png":
        im.save(buf, format="PNG", compress_level=6)
    elif ext in ("jpg", "jpeg"):
        im.save(buf, format="JPEG", quality=int(jpg_quality), subsampling=0)
    else:
        raise ValueError(f"unknown frame format {ext!r} (png or jpg)")
    return buf.getvalue()


def frame_name(index: int, ext: str) -> str:
    return f"{index:06d}.{ext}"


def temp_dir_for(final: Path) -> Path:
    """A hidden, unique sibling of `final` to build it in."""
    return final.with_name(f".{final.name}.tmp-{os.getpid()}-{secrets.token_hex(3)}")


def commit_dir(tmp: Path, final: Path) -> None:
    """Move a finished folder onto its final name; a folder already there (a changed source being redone)
    is swapped out first and deleted after, so the name always holds one complete video."""
    final.parent.mkdir(parents=True, exist_ok=True)
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}-{secrets.token_hex(3)}")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # exists (another user's), or we cannot tell: keep its files
    return True


def clean_temp_dirs(root: Path) -> None:
    """Remove `.name.tmp-<pid>-*` / `.name.old-<pid>-*` folders under `root` left by processes that are no
    longer running (killed, or terminated workers); a concurrent run's folders in progress stay."""
    if not root.is_dir():
        return
    for dirpath, dirnames, _files in os.walk(root):
        for d in list(dirnames):
            if d.startswith("."):
                dirnames.remove(d)
                parts = d.rsplit("-", 2)
                if len(parts) == 3 and parts[0].endswith((".tmp", ".old")) and parts[1].isdigit():
                    if not _alive(int(parts[1])):
                        shutil.rmtree(Path(dirpath) / d, ignore_errors=True)


@contextlib.contextmanager
def video_dir(final: Path) -> Iterator[Path]:
    """Yield a temp folder to write one video's frames into; it becomes `final` if the block succeeds and
    is deleted otherwise (exception, Ctrl-C)."""
    tmp = temp_dir_for(final)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    tmp.mkdir()
    try:
        yield tmp
        commit_dir(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_meta(path: Path, meta: dict) -> None:
    atomic_write_text(path, json.dumps(meta, indent=1, sort_keys=True) + "\n")


def meta_bytes(meta: dict) -> bytes:
    return (json.dumps(meta, indent=1, sort_keys=True) + "\n").encode()


class ZipDatasetWriter:
    """Builds `out.zip` (atomically: a temp file renamed on `close`) in upstream's layout:
    `<stem>/`, `<stem>/dataset.json`, `<stem>/<video>/`, `<stem>/<video>/000000.png`."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.top = self.out.stem
        self._atomic = atomic_path(self.out)
        try:
            self._tmp = self._atomic.__enter__()
        except OSError as e:
            raise DatasetError(f"{self.out}: cannot write here ({e.strerror or e})") from None
        self._zip = zipfile.ZipFile(self._tmp, "w", compression=zipfile.ZIP_STORED, allowZip64=True)
        self._dir(self.top)

    def _dir(self, name: str) -> None:
        info = zipfile.ZipInfo(name.rstrip("/") + "/", date_time=ZIP_TIME)
        info.external_attr = (0o40755 << 16) | 0x10
        self._zip.writestr(info, b"")

    def _file(self, name: str, data: bytes) -> None:
        info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
        info.external_attr = 0o644 << 16
        info.compress_type = zipfile.ZIP_STORED
        self._zip.writestr(info, data)

    def add_video(self, name: str, frames: Iterable[tuple[str, bytes]]) -> int:
        """Add `name/` and its (file name, encoded bytes) frames; returns the frame count."""
        self._dir(f"{self.top}/{name}")
        n = 0
        for fname, data in frames:
            self._file(f"{self.top}/{name}/{fname}", data)
            n += 1
        return n

    def add_folder(self, name: str, folder: Path) -> int:
        files = sorted((f for f in os.listdir(folder) if not f.startswith(".")), key=natural_key)
        return self.add_video(name, ((f, (folder / f).read_bytes()) for f in files))

    def close(self, meta: dict) -> None:
        self._file(f"{self.top}/{META_FILE}", meta_bytes(meta))
        self._zip.close()
        self._atomic.__exit__(None, None, None)

    def abort(self) -> None:
        with contextlib.suppress(Exception):
            self._zip.close()
        err = DatasetError(f"{self.out}: aborted")
        with contextlib.suppress(BaseException):
            self._atomic.__exit__(type(err), err, None)

    def __enter__(self) -> ZipDatasetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
