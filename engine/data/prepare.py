"""`sgv dataset prepare`: a folder of videos → a frame dataset at one resolution (and optionally one fps).

Each video is decoded with engine.media (ffmpeg), resampled to `fps` if asked (nearest source frame for
each output time), center-cropped to a square, resized with Lanczos (antialiased) and written as numbered
frames into its own folder, atomically (see layout.py). Videos run in parallel worker processes.

Resumable: a journal (`.sgv-prepare.jsonl` in the output, folded into dataset.json at the end) records each
finished or skipped video with its source's size and mtime; a re-run redoes only videos whose source is
new or changed. Ctrl-C or a kill leaves only hidden temp folders, which the next run removes.

Unreadable, corrupt, truncated, empty and too-short files are skipped and listed in `skipped.txt` (next to
a zip output: `<name>.skipped.txt`) and in dataset.json. `--format zip` builds the frames in
`<out>.partial/` and packs them into the zip at the end (upstream's layout).
"""

from __future__ import annotations

import contextlib
import math
import multiprocessing
import os
import shutil
import signal
import statistics
import sys
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from engine.data.base import (
    DEFAULT_FPS,
    IMAGE_EXTS,
    META_FILE,
    SKIPPED_FILE,
    DatasetError,
    fit_square,
    natural_key,
    read_meta,
)
from engine.data.layout import (
    FORMAT_NAME,
    FORMAT_VERSION,
    ZipDatasetWriter,
    clean_temp_dirs,
    encode_frame,
    frame_name,
    video_dir,
    write_meta,
)
from engine.fileio import append_jsonl, atomic_write_text, read_jsonl

JOURNAL = ".sgv-prepare.jsonl"
MAX_RESOLUTION = 4096
ProgressFn = Callable[[int, int], None]


@dataclass(frozen=True)
class PrepareOptions:
    """What a prepared dataset was made with; a resumed run must use the same."""

    resolution: int  # output frames are R×R
    fps: float | None = None  # resample every video to this rate; None keeps each video's own frames
    min_frames: int = 1  # videos with fewer (output) frames are skipped
    image_format: str = "jpg"  # frame files: jpg (quality 95, no chroma subsampling) or png (lossless)

    def check(self) -> None:
        if not 1 <= self.resolution <= MAX_RESOLUTION:
            raise DatasetError(f"--res must be 1..{MAX_RESOLUTION} pixels, got {self.resolution}")
        if self.fps is not None and not (self.fps > 0 and math.isfinite(self.fps)):
            raise DatasetError(f"--fps must be a positive number, got {self.fps}")
        if self.min_frames < 1:
            raise DatasetError(f"--min-frames must be at least 1, got {self.min_frames}")
        if self.image_format not in ("jpg", "png"):
            raise DatasetError(f"--image-format must be jpg or png, got {self.image_format!r}")


@dataclass(frozen=True)
class VideoSource:
    """One input video file and the signature that tells whether it changed since it was prepared."""

    path: Path
    file: str  # path relative to the source folder (posix), as listed in skipped.txt
    name: str  # the output video folder
    size: int
    mtime_ns: int


@dataclass
class PrepareResult:
    out: Path
    videos: int  # videos in the output
    frames: int  # frames in the output
    converted: int  # videos decoded by this run
    reused: int  # videos kept from an earlier run
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    skipped_file: Path | None = None
    fps: float = DEFAULT_FPS
    note: str = ""
    seconds: float = 0.0

    def summary(self) -> str:
        line = (
            f"{self.out}: {self.videos} videos, {self.frames} frames at {self.fps:g} fps "
            f"({self.converted} converted, {self.reused} already done, {len(self.skipped)} skipped"
        )
        if self.skipped and self.skipped_file is not None:
            line += f": listed in {self.skipped_file}"
        line += f") in {self.seconds:.1f} s"
        return line + (f"; {self.note}" if self.note else "")


# ----------------------------------------------------------------------------------------------------
# Listing the inputs


def _is_candidate(name: str) -> bool:
    low = name.lower()
    return not (
        name.startswith(".")
        or low.endswith(IMAGE_EXTS)
        or low in (META_FILE, SKIPPED_FILE)
        or low.endswith(".skipped.txt")
    )


def list_video_sources(src: Path) -> list[VideoSource]:
    """Every file under `src` that might be a video (anything but images, hidden files and our metadata),
    in natural order, each with a unique output name (`sub/clip.mp4` → `sub__clip`)."""
    if not src.exists():
        raise DatasetError(f"{src}: no such file or folder")
    if src.is_file():
        files = [(src, src.name)]
    else:
        files = []
        for dirpath, dirnames, filenames in os.walk(src):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != "__MACOSX")
            for f in filenames:
                if _is_candidate(f):
                    path = Path(dirpath) / f
                    files.append((path, path.relative_to(src).as_posix()))
    files.sort(key=lambda pf: natural_key(pf[1]))
    sources, used = [], set()
    for path, rel in files:
        stem = rel.rsplit(".", 1)[0] if "." in rel.rsplit("/", 1)[-1] else rel
        name = stem.replace("/", "__")
        if name in used:  # clip.mp4 and clip.mov
            name = rel.replace("/", "__").replace(".", "_")
        while name in used:
            name += "_"
        used.add(name)
        try:
            st = path.stat()
        except OSError:
            continue
        sources.append(VideoSource(path, rel, name, st.st_size, st.st_mtime_ns))
    return sources


# ----------------------------------------------------------------------------------------------------
# One video (runs in a worker process)


class _TooShort(Exception):
    pass


def resample_indices(frames: Iterator[np.ndarray], src_fps: float, fps: float | None) -> Iterator[np.ndarray]:
    """Frames at `fps`: output frame k is the source frame on screen at time k / fps, i.e. source frame
    floor(k · src_fps / fps) (frames are dropped or repeated); the output spans the source's duration."""
    if not fps or not src_fps or abs(src_fps - fps) < 1e-6 * fps:
        yield from frames
        return
    ratio = src_fps / fps  # source frames per output frame
    k = 0
    for i, frame in enumerate(frames):
        while math.floor(k * ratio + 1e-9) <= i:
            yield frame
            k += 1


def _reason(err: Exception, path: Path) -> str:
    msg = str(err)
    prefix = f"{path}: "
    return msg[len(prefix) :] if msg.startswith(prefix) else msg


def convert_video(task: dict) -> dict:
    """Decode one video into `stage/<name>/000000.<ext>…`; returns its journal record (done or skipped)."""
    from engine.media import MediaError, iter_video_frames, probe_video

    path, final = Path(task["path"]), Path(task["stage"]) / task["name"]
    opts = PrepareOptions(**task["options"])
    record = {k: task[k] for k in ("name", "file", "size", "mtime_ns")}
    try:
        meta = probe_video(path, count_frames=False)
        frames = iter_video_frames(path)
        n = 0
        with video_dir(final) as tmp:
            for frame in resample_indices(frames, meta["fps"], opts.fps):
                data = encode_frame(fit_square(frame, opts.resolution), opts.image_format)
                try:
                    (tmp / frame_name(n, opts.image_format)).write_bytes(data)
                except OSError as e:
                    raise DatasetError(f"{final.parent}: cannot write frames ({e.strerror or e})") from None
                n += 1
            if n < opts.min_frames:
                raise _TooShort(n)
    except MediaError as e:
        return {**record, "status": "skipped", "reason": _reason(e, path)}
    except _TooShort as e:
        reason = f"only {e.args[0]} frames (--min-frames {opts.min_frames})" if e.args[0] else "video has no frames"
        return {**record, "status": "skipped", "reason": reason}
    return {
        **record,
        "status": "done",
        "frames": n,
        "src_fps": meta["fps"],
        "src_size": [meta["width"], meta["height"]],
    }


def _worker_init() -> None:
    # Ctrl-C goes to the whole process group; only the parent reacts (it terminates the pool), so workers
    # neither print tracebacks nor race to clean up.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _run_tasks(tasks: list[dict], workers: int) -> Iterator[dict]:
    if workers <= 1 or len(tasks) <= 1:
        for t in tasks:
            yield convert_video(t)
        return
    pool = _mp_context().Pool(min(workers, len(tasks)), initializer=_worker_init)
    ok = False
    try:
        yield from pool.imap_unordered(convert_video, tasks)
        ok = True
    finally:
        if ok:
            pool.close()
        else:
            pool.terminate()  # Ctrl-C or an error: stop now; unfinished videos stay hidden temp folders
        pool.join()
        if not ok and tasks:
            clean_temp_dirs(Path(tasks[0]["stage"]))


def _mp_context():
    """fork on Linux: a spawned worker would re-import torch (seconds each). Workers only run ffmpeg, numpy
    and Pillow, never torch ops, so the parent's OpenMP/torch threads cannot deadlock them. spawn elsewhere
    (macOS and Windows have no safe fork)."""
    if sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def default_workers(n_tasks: int) -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, 8, n_tasks))


# ----------------------------------------------------------------------------------------------------
# State of an output: what earlier runs did


def signature(record: dict) -> tuple:
    """What identifies the source file a record was made from."""
    return record.get("file"), record.get("size"), record.get("mtime_ns")


def labels_file_signature(src: Path) -> list[int] | None:
    """[size, mtime_ns] of the source folder's dataset.json (None if it has none): a cache made before the
    labels were edited is refreshed."""
    path = src / META_FILE
    if not src.is_dir() or not path.is_file():
        return None
    st = path.stat()
    return [st.st_size, st.st_mtime_ns]


def _journal_records(stage: Path) -> dict[str, dict]:
    return {rec["name"]: rec for rec in read_jsonl(stage / JOURNAL) if isinstance(rec, dict) and "name" in rec}


def _prepare_section(meta: dict, where: str, opts: PrepareOptions) -> dict[str, dict]:
    """The per-video records of an earlier run's dataset.json; refuse other options."""
    section = meta.get("prepare")
    if not isinstance(section, dict):
        raise DatasetError(f"{where}: was not made by `sgv dataset prepare`; choose another --out")
    old = section.get("options", {})
    if {k: old.get(k) for k in ("resolution", "fps", "image_format")} != {
        "resolution": opts.resolution,
        "fps": opts.fps,
        "image_format": opts.image_format,
    }:
        raise DatasetError(
            f"{where}: was prepared with --res {old.get('resolution')} --fps {old.get('fps')} --image-format "
            f"{old.get('image_format')}; use the same options or another --out"
        )
    return {k: v for k, v in section.get("videos", {}).items() if isinstance(v, dict)}


def _existing_zip(out: Path, opts: PrepareOptions) -> tuple[dict[str, dict], set[str], str]:
    """Records and video names inside an earlier zip output (and its top folder)."""
    if not out.exists():
        return {}, set(), ""
    try:
        with zipfile.ZipFile(out) as zf:
            names = zf.namelist()
            top = names[0].split("/", 1)[0] if names else ""
            meta_name = f"{top}/{META_FILE}"
            meta = read_meta(zf.read(meta_name) if meta_name in names else b"{}", f"{out}: {META_FILE}")
    except (zipfile.BadZipFile, OSError) as e:
        raise DatasetError(f"{out}: exists and is not a readable zip ({e}); choose another --out") from None
    records = _prepare_section(meta, str(out), opts)
    videos = {n[len(top) + 1 :].rsplit("/", 1)[0] for n in names if n.count("/") >= 2 and not n.endswith("/")}
    return records, videos, top


def _stage_records(stage: Path, opts: PrepareOptions) -> dict[str, dict]:
    records: dict[str, dict] = {}
    meta_path = stage / META_FILE
    if meta_path.is_file():
        records = _prepare_section(read_meta(meta_path.read_bytes(), str(meta_path)), str(stage), opts)
    elif (
        stage.is_dir() and not (stage / JOURNAL).is_file() and any(not p.name.startswith(".") for p in stage.iterdir())
    ):
        raise DatasetError(f"{stage}: exists, is not empty and was not made by `sgv dataset prepare`")
    records.update(_journal_records(stage))
    return records


# ----------------------------------------------------------------------------------------------------
# The command


def prepare_dataset(
    src: str | os.PathLike,
    out: str | os.PathLike,
    resolution: int,
    fps: float | None = None,
    workers: int | None = None,
    format: str | None = None,
    min_frames: int = 1,
    image_format: str = "jpg",
    progress: ProgressFn | bool | None = None,
    prune: bool = False,
) -> PrepareResult:
    """Convert the videos under `src` into a frame dataset at `out` (a folder, or a .zip with format="zip").

    progress: None → a tqdm bar on stderr; a callable(done, total) → called per video; False → silent.
    prune: drop output videos whose source file is gone (the training cache does; the CLI keeps them).
    Raises DatasetError when nothing usable is left (the skipped files are still listed).
    """
    started = time.perf_counter()
    src, out = Path(src).expanduser(), Path(out).expanduser()
    opts = PrepareOptions(int(resolution), float(fps) if fps else None, int(min_frames), image_format)
    opts.check()
    fmt = format or ("zip" if out.suffix.lower() == ".zip" else "frames")
    if fmt not in ("frames", "zip"):
        raise DatasetError(f"--format must be frames or zip, got {fmt!r}")
    if (fmt == "zip") != (out.suffix.lower() == ".zip"):
        raise DatasetError(f"{out}: --format {fmt} needs " + ("a name ending in .zip" if fmt == "zip" else "a folder"))
    if src.is_dir() and out.resolve().is_relative_to(src.resolve()):
        raise DatasetError(f"{out}: the output must not be inside the source folder {src}")
    sources = list_video_sources(src)
    if not sources:
        raise DatasetError(f"{src}: no video files found")

    stage = out if fmt == "frames" else out.with_name(out.name + ".partial")
    if stage.exists() and not stage.is_dir():
        raise DatasetError(f"{stage}: exists and is not a folder")
    clean_temp_dirs(stage)
    records = _stage_records(stage, opts)
    in_zip, zip_top = set(), ""
    if fmt == "zip":
        zip_records, in_zip, zip_top = _existing_zip(out, opts)
        records = {**zip_records, **records}

    def present(name: str) -> bool:
        return (stage / name).is_dir() or name in in_zip

    tasks, reused = [], 0
    for s in sources:
        rec = records.get(s.name)
        same = rec is not None and signature(rec) == (s.file, s.size, s.mtime_ns)
        if same and (rec.get("status") == "skipped" or (rec.get("status") == "done" and present(s.name))):
            reused += 1
            continue
        tasks.append(
            {**{k: v for k, v in asdict(s).items() if k != "path"}, "path": str(s.path), "stage": str(stage)}
            | {"options": asdict(opts)}
        )

    bar, report = _progress(progress, len(sources), reused, out)
    stage.mkdir(parents=True, exist_ok=True)
    try:
        for rec in _run_tasks(tasks, workers or default_workers(len(tasks))):
            append_jsonl(stage / JOURNAL, rec, sort_keys=True)
            records[rec["name"]] = rec
            if rec["status"] == "skipped" and (stage / rec["name"]).is_dir():
                shutil.rmtree(stage / rec["name"])  # an earlier version of a now unreadable file
            report(rec)
    finally:
        if bar is not None:
            bar.close()

    result = _finish(src, out, stage, fmt, opts, sources, records, in_zip, zip_top, prune, bool(tasks))
    result.converted, result.reused = len(tasks), reused
    result.seconds = time.perf_counter() - started
    return result


def _progress(progress, total: int, initial: int, out: Path):
    """(tqdm bar or None, per-record callback)."""
    if progress is False:
        return None, lambda rec: None
    if callable(progress):
        state = {"done": initial}
        progress(initial, total)

        def report(rec):
            state["done"] += 1
            progress(state["done"], total)

        return None, report
    from tqdm import tqdm

    bar = tqdm(total=total, initial=initial, desc=f"preparing {out.name}", unit="video", dynamic_ncols=True)
    frames = {"n": 0}

    def report(rec):
        frames["n"] += rec.get("frames", 0)
        bar.set_postfix(frames=frames["n"], skipped=rec["name"] if rec["status"] == "skipped" else None, refresh=False)
        bar.update(1)

    return bar, report


def _source_labels(src: Path, sources: list[VideoSource], names: list[str]) -> dict | None:
    """Labels from the source folder's dataset.json, re-keyed by output video name (None if it has none)."""
    meta_path = src / META_FILE
    if not src.is_dir() or not meta_path.is_file():
        return None
    raw = read_meta(meta_path.read_bytes(), str(meta_path)).get("labels")
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise DatasetError(f"{meta_path}: 'labels' must be an object {{video file or name: label}}")
    by_name = {s.name: s for s in sources}
    out = {}
    for name in names:
        s = by_name.get(name)
        keys = [name] if s is None else [s.file, s.file.rsplit(".", 1)[0], s.name, Path(s.file).stem, Path(s.file).name]
        for k in keys:
            if k in raw:
                out[name] = raw[k]
                break
        else:
            raise DatasetError(f"{meta_path}: no label for video '{s.file if s else name}'")
    return out


def _finish(src, out, stage, fmt, opts, sources, records, in_zip, zip_top, prune, ran) -> PrepareResult:
    """Write dataset.json + skipped list (and pack the zip); the output is complete after this."""
    current = {s.name for s in sources}
    if prune:
        for name in [n for n in records if n not in current]:
            records.pop(name)
            shutil.rmtree(stage / name, ignore_errors=True)
            in_zip.discard(name)
    done = {n: r for n, r in records.items() if r.get("status") == "done" and ((stage / n).is_dir() or n in in_zip)}
    skipped = sorted(
        ((r["file"], r.get("reason", "")) for n, r in records.items() if r.get("status") == "skipped" and n in current),
        key=lambda fr: natural_key(fr[0]),
    )
    skipped_path = stage / SKIPPED_FILE if fmt == "frames" else out.with_name(out.stem + ".skipped.txt")
    if skipped:
        atomic_write_text(skipped_path, "".join(f"{f}: {why}\n" for f, why in skipped))
    elif skipped_path.is_file():
        skipped_path.unlink()
    if not done:
        first = "; ".join(f"{f}: {why}" for f, why in skipped[:2])
        raise DatasetError(
            f"{src}: no usable videos ({len(skipped)} files skipped: {first}{' ...' if len(skipped) > 2 else ''})"
        )

    names = sorted(done, key=natural_key)
    rates = [r["src_fps"] for r in done.values() if r.get("src_fps")]
    note = ""
    if opts.fps:
        fps = opts.fps
    elif rates:
        fps = float(statistics.median(rates))
        if max(rates) - min(rates) > 0.01:
            note = f"videos run at {min(rates):g}..{max(rates):g} fps; --fps resamples them to one rate"
    else:
        fps = DEFAULT_FPS
    meta = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "fps": round(fps, 6),
        "resolution": opts.resolution,
        "labels": _source_labels(src, sources, names),
        "prepare": {
            "source": str(src.resolve()),
            "labels_file": labels_file_signature(src),
            "options": asdict(opts),
            "videos": {n: records[n] for n in sorted(records, key=natural_key)},
        },
        "skipped": [list(fs) for fs in skipped],
    }
    if fmt == "frames":
        write_meta(stage / META_FILE, meta)
    elif ran or set(names) != in_zip:
        _pack_zip(out, stage, names, in_zip, zip_top, meta)
    with contextlib.suppress(FileNotFoundError):
        (stage / JOURNAL).unlink()
    if fmt == "zip":
        shutil.rmtree(stage, ignore_errors=True)
    frames = sum(int(done[n].get("frames", 0)) for n in names)
    return PrepareResult(
        out=out,
        videos=len(names),
        frames=frames,
        converted=0,
        reused=0,
        skipped=skipped,
        skipped_file=skipped_path if skipped else None,
        fps=fps,
        note=note,
    )


def _pack_zip(out: Path, stage: Path, names: list[str], in_zip: set[str], zip_top: str, meta: dict) -> None:
    """Write the zip from staged folders plus videos kept from the previous zip (copied member by member);
    the new zip replaces the old one only when complete."""
    old = zipfile.ZipFile(out) if in_zip else None
    try:
        with ZipDatasetWriter(out) as writer:
            for name in names:
                if (stage / name).is_dir():
                    writer.add_folder(name, stage / name)
                else:
                    prefix = f"{zip_top}/{name}/"
                    members = sorted(
                        (m for m in old.namelist() if m.startswith(prefix) and "/" not in m[len(prefix) :]),
                        key=natural_key,
                    )
                    writer.add_video(name, ((m[len(prefix) :], old.read(m)) for m in members if m != prefix))
            if old is not None:
                old.close()  # before the rename over it (Windows refuses to replace an open file)
            writer.close(meta)
    finally:
        if old is not None:
            old.close()


def print_summary(result: PrepareResult) -> None:
    print(result.summary(), file=sys.stderr)
