"""Readers of frame datasets: a folder of frame folders, a zip of frame folders (upstream's layout), and
LongVideoGAN's sharded zips.

Layouts (R = any frame size; frames of another size than the dataset's resolution are cropped/resized on read):
  folder   root/<video>/<frame>.{png,jpg,jpeg,webp}            frames in natural order (2 < 10)
  zip      data.zip: [<top>/]<video>/<frame>.png                upstream: one top folder, explicit dir entries
  sharded  root/HHHHxWWWW/partition_NNNN.zip, each holding frame_paths.json {clip: [frame names]} and
           <clip>/<frame>.jpg (NVlabs/long-video-gan `dataset.py`)
An optional dataset.json (root of the folder, the zip's top folder, or the sharded root) gives fps and labels.

Zip members are read without `zipfile` on the hot path: at open, the central directory is turned into
numpy arrays (archive, data offset, sizes, method, crc), which pickle cheaply into DataLoader workers; a
frame read is then two `pread`s on a per-process file descriptor (plus inflate for deflated members) and a
CRC check, instead of a zipfile object per worker holding one Python object per member.
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
import struct
import threading
import zipfile
import zlib
from pathlib import Path

import numpy as np

from engine.data.base import (
    IMAGE_EXTS,
    META_FILE,
    DatasetError,
    VideoDataset,
    is_image_name,
    meta_fps,
    meta_skipped,
    natural_key,
    parse_labels,
    read_meta,
)

_NUMBERED = re.compile(r"^(\d{6})(\.[A-Za-z]+)$")


class _FrameNames:
    """The frame file names of one video, compact when they are our own `000000.jpg, 000001.jpg, ...`."""

    __slots__ = ("ext", "count", "names")

    def __init__(self, names: list[str]):
        self.ext, self.count, self.names = "", len(names), None
        m = _NUMBERED.match(names[0]) if names else None
        if m and m.group(1) == "000000" and all(n == f"{k:06d}{m.group(2)}" for k, n in enumerate(names)):
            self.ext = m.group(2)
        else:
            self.names = names

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, j: int) -> str:
        return self.names[j] if self.names is not None else f"{j:06d}{self.ext}"

    def __getstate__(self):
        return (self.ext, self.count, self.names)

    def __setstate__(self, state):
        self.ext, self.count, self.names = state


# ----------------------------------------------------------------------------------------------------
# Folder of frame folders


def scan_frame_folders(root: Path) -> dict[str, list[str]]:
    """{video name (relative posix path of a folder holding images): frame names, naturally sorted}.
    Hidden entries (.name) are ignored: they are temp files of an interrupted write."""
    videos: dict[str, list[str]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not d.startswith(".") and d != "__MACOSX"]
        rel = Path(dirpath).relative_to(root).as_posix()
        if rel == ".":
            continue
        frames = [f for f in filenames if is_image_name(f) and not f.startswith(".")]
        if frames:
            videos[rel] = sorted(frames, key=natural_key)
    return videos


class FrameFolderDataset(VideoDataset):
    """`root/<video>/<frame>.png`: every folder that directly holds images is a video."""

    format = "frames"

    def __init__(self, root: str | os.PathLike, resolution: int | None = None, scan: dict | None = None):
        root = Path(root)
        if not root.is_dir():
            raise DatasetError(f"{root}: no such folder")
        videos = scan if scan is not None else scan_frame_folders(root)
        if not videos:
            raise DatasetError(f"{root}: no frame folders found (expected {root}/<video>/<frame>.png)")
        meta_path = root / META_FILE
        meta = read_meta(meta_path.read_bytes() if meta_path.is_file() else None, str(meta_path))
        names = sorted(videos, key=natural_key)
        self.root = root
        self._frames = [_FrameNames(videos[n]) for n in names]
        labels = parse_labels(meta.get("labels"), names, str(meta_path))
        lengths = [len(f) for f in self._frames]
        self._init_videos(root, resolution, meta_fps(meta, str(meta_path)), names, lengths, labels)
        self.skipped = meta_skipped(meta)

    def _frame_file(self, i: int, j: int) -> Path:
        return self.root / self._names[i] / self._frames[i][j]

    def _frame_bytes(self, i: int, j: int) -> bytes:
        path = self._frame_file(i, j)
        try:
            return path.read_bytes()
        except OSError as e:
            raise DatasetError(f"{path}: cannot read frame ({e.strerror or e})") from None

    def _where(self, i: int, j: int) -> str:
        return str(self._frame_file(i, j))


# ----------------------------------------------------------------------------------------------------
# Zip members by offset


class _ZipMembers:
    """Data locations of selected zip members across one or more archives, as numpy arrays."""

    def __init__(self, archives: list[Path]):
        self.archives = archives
        self._rows: list[tuple[int, int, int, int, int, int]] = []
        self._other: dict[int, str] = {}  # member k → name, for compression methods we do not inflate ourselves
        self._handles: dict[tuple[int, int], object] = {}
        self._lock = threading.Lock()

    def add(self, archive: int, info: zipfile.ZipInfo) -> int:
        if info.flag_bits & 0x1:
            raise DatasetError(f"{self.archives[archive]}: '{info.filename}' is encrypted")
        k = len(self._rows)
        self._rows.append(
            (archive, info.header_offset, info.compress_size, info.file_size, info.compress_type, info.CRC)
        )
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            self._other[k] = info.filename
        return k

    def freeze(self) -> None:
        rows = np.asarray(self._rows, dtype=np.int64).reshape(-1, 6)
        self.archive, self.offset, self.csize, self.usize, self.method, self.crc = (rows[:, c] for c in range(6))
        del self._rows

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_handles"], state["_lock"] = {}, None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _handle(self, a: int):
        key = (os.getpid(), a)  # a forked worker must not share the parent's file offset
        h = self._handles.get(key)
        if h is None:
            try:
                h = open(self.archives[a], "rb")  # noqa: SIM115 - kept open for the reader's lifetime
            except OSError as e:
                raise DatasetError(f"{self.archives[a]}: cannot open ({e.strerror or e})") from None
            self._handles[key] = h
        return h

    def _read_at(self, a: int, offset: int, size: int) -> bytes:
        h = self._handle(a)
        if hasattr(os, "pread"):
            return os.pread(h.fileno(), size, offset)
        with self._lock:
            h.seek(offset)
            return h.read(size)

    def read(self, k: int, what: str) -> bytes:
        a = int(self.archive[k])
        where = f"{self.archives[a]}: {what}"
        if k in self._other:
            with zipfile.ZipFile(self.archives[a]) as zf:
                try:
                    return zf.read(self._other[k])
                except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError) as e:
                    raise DatasetError(f"{where}: cannot read member ({e})") from None
        offset, csize = int(self.offset[k]), int(self.csize[k])
        header = self._read_at(a, offset, 30)
        if len(header) < 30 or header[:4] != b"PK\x03\x04":
            raise DatasetError(f"{where}: damaged zip (no local header at byte {offset})")
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        data = self._read_at(a, offset + 30 + name_len + extra_len, csize)
        if len(data) != csize:
            raise DatasetError(f"{where}: zip is truncated")
        if int(self.method[k]) == zipfile.ZIP_DEFLATED:
            try:
                data = zlib.decompressobj(-15).decompress(data)
            except zlib.error as e:
                raise DatasetError(f"{where}: damaged zip member ({e})") from None
        if len(data) != int(self.usize[k]) or zlib.crc32(data) != int(self.crc[k]):
            raise DatasetError(f"{where}: damaged zip member (checksum mismatch)")
        return data

    def close(self) -> None:
        for h in self._handles.values():
            with contextlib.suppress(Exception):
                h.close()
        self._handles.clear()


def _open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as e:
        raise DatasetError(f"{path}: not a valid zip archive ({e})") from None
    except OSError as e:
        raise DatasetError(f"{path}: cannot open ({e.strerror or e})") from None


class _ZipBacked(VideoDataset):
    """Shared by the zip readers: frame j of video i is zip member `_first[i] + j`."""

    def _read_member(self, i: int, j: int) -> bytes:
        return self._members.read(int(self._first[i]) + j, f"video '{self._names[i]}' frame {j}")

    def _frame_bytes(self, i: int, j: int) -> bytes:
        return self._read_member(i, j)

    def close(self) -> None:
        """Close this process's archive handles (they reopen on the next read)."""
        self._members.close()

    def __del__(self):
        with contextlib.suppress(Exception):
            self.close()


# ----------------------------------------------------------------------------------------------------
# Zip of frame folders (upstream)


class ZipFramesDataset(_ZipBacked):
    """`data.zip` holding `[<top>/]<video>/<frame>.png`; the single top folder upstream requires is optional."""

    format = "zip"

    def __init__(self, path: str | os.PathLike, resolution: int | None = None):
        path = Path(path)
        members = _ZipMembers([path])
        with _open_zip(path) as zf:
            infos = [i for i in zf.infolist() if not i.is_dir()]
            images = [i for i in infos if is_image_name(i.filename) and not _hidden(i.filename)]
            groups: dict[str, list[zipfile.ZipInfo]] = {}
            for info in images:
                parent = posixpath.dirname(info.filename.strip("/"))
                if parent:
                    groups.setdefault(parent, []).append(info)
            if not groups:
                raise DatasetError(f"{path}: no frame folders inside (expected <video>/<frame>.png entries)")
            top = _common_top(list(groups))
            meta_name = f"{top}/{META_FILE}" if top else META_FILE
            names_in_zip = {i.filename for i in infos}
            meta_text = zf.read(meta_name) if meta_name in names_in_zip else None
        strip = len(top) + 1 if top else 0
        videos = {parent[strip:]: group for parent, group in groups.items()}
        names = sorted(videos, key=natural_key)
        first, lengths = [], []
        for name in names:
            frames = sorted(videos[name], key=lambda inf: natural_key(posixpath.basename(inf.filename)))
            first.append(members.add(0, frames[0]))
            for info in frames[1:]:
                members.add(0, info)
            lengths.append(len(frames))
        members.freeze()
        self._members, self._first = members, np.asarray(first, dtype=np.int64)
        where = f"{path}: {meta_name}"
        meta = read_meta(meta_text, where)
        labels = parse_labels(meta.get("labels"), names, where)
        self._init_videos(path, resolution, meta_fps(meta, where), names, lengths, labels)
        self.skipped = meta_skipped(meta)


def _hidden(name: str) -> bool:
    return any(part.startswith(".") or part == "__MACOSX" for part in name.split("/"))


def _common_top(parents: list[str]) -> str:
    """The single top folder every video folder sits in ('' if none): upstream zips wrap everything in one."""
    tops = {p.split("/", 1)[0] for p in parents}
    if len(tops) == 1 and all("/" in p for p in parents):
        return tops.pop()
    return ""


# ----------------------------------------------------------------------------------------------------
# LongVideoGAN sharded zips


_RES_DIR = re.compile(r"^(\d+)x(\d+)$")  # HHHHxWWWW


def sharded_res_dirs(root: Path) -> dict[str, tuple[int, int]]:
    """{dir name: (height, width)} of LongVideoGAN resolution folders under `root` that hold partition zips."""
    out = {}
    if root.is_dir():
        for d in root.iterdir():
            m = _RES_DIR.match(d.name)
            if m and d.is_dir() and any(d.glob("*.zip")):
                out[d.name] = (int(m.group(1)), int(m.group(2)))
    return out


def is_sharded_root(path: Path) -> bool:
    return path.is_dir() and (bool(sharded_res_dirs(path)) or any(path.glob("partition_*.zip")))


def _choose_res_dir(root: Path, resolution: int | None) -> Path:
    """The smallest resolution folder whose short side covers `resolution` (else the largest)."""
    dirs = sharded_res_dirs(root)
    if not dirs:
        return root
    by_side = sorted(dirs.items(), key=lambda kv: (min(kv[1]), max(kv[1])))
    if resolution is not None:
        for name, hw in by_side:
            if min(hw) >= resolution:
                return root / name
    return root / by_side[-1][0]


class ShardedZipDataset(_ZipBacked):
    """LongVideoGAN's layout: `root/HHHHxWWWW/partition_*.zip`, each with a `frame_paths.json` index.

    `path` may be the dataset root (the resolution folder is chosen: the smallest whose short side is at
    least `resolution`), a resolution folder, or a single partition zip. Frames keep the order the index
    lists; LongVideoGAN's 16:9 frames are center-cropped to squares on read.
    """

    format = "sharded"

    def __init__(self, path: str | os.PathLike, resolution: int | None = None):
        path = Path(path)
        if path.is_file():
            archives, meta_dir = [path], path.parent
        else:
            res_dir = _choose_res_dir(path, resolution)
            archives = sorted(res_dir.glob("*.zip"), key=lambda p: natural_key(p.name))
            meta_dir = path
            if not archives:
                raise DatasetError(f"{path}: no partition zips found (expected {path}/HHHHxWWWW/partition_*.zip)")
        self.archives = archives
        members = _ZipMembers(archives)
        entries: list[tuple[str, list[int]]] = []
        for a, archive in enumerate(archives):
            with _open_zip(archive) as zf:
                try:
                    index = read_meta(zf.read("frame_paths.json"), f"{archive}: frame_paths.json")
                except KeyError:
                    raise DatasetError(f"{archive}: no frame_paths.json inside (not a LongVideoGAN shard)") from None
                for clip in sorted(index, key=natural_key):
                    frames = index[clip]
                    if not isinstance(frames, list) or not all(isinstance(f, str) for f in frames):
                        raise DatasetError(f"{archive}: frame_paths.json: '{clip}' must list frame file names")
                    if not frames:
                        continue
                    ks = []
                    for f in frames:
                        member = posixpath.join(clip, f)
                        try:
                            ks.append(members.add(a, zf.getinfo(member)))
                        except KeyError:
                            raise DatasetError(
                                f"{archive}: frame_paths.json lists '{member}', which is missing"
                            ) from None
                    entries.append((clip, ks))
        if not entries:
            raise DatasetError(f"{path}: the partition zips list no frames")
        members.freeze()
        names = [n for n, _ in entries]
        if len(set(names)) < len(names):  # the same clip in two shards: tell them apart by shard
            names = [f"{archives[int(members.archive[ks[0]])].stem}/{n}" for n, ks in entries]
        self._members = members
        self._first = np.asarray([ks[0] for _, ks in entries], dtype=np.int64)
        meta_path = meta_dir / META_FILE
        meta = read_meta(meta_path.read_bytes() if meta_path.is_file() else None, str(meta_path))
        labels = parse_labels(meta.get("labels"), names, str(meta_path))
        lengths = [len(ks) for _, ks in entries]
        self._init_videos(path, resolution, meta_fps(meta, str(meta_path)), names, lengths, labels)

    def describe(self) -> dict:
        info = super().describe()
        info["archives"] = [str(a) for a in self.archives]
        return info


__all__ = [
    "IMAGE_EXTS",
    "FrameFolderDataset",
    "ShardedZipDataset",
    "ZipFramesDataset",
    "is_sharded_root",
    "scan_frame_folders",
]
