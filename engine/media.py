"""Video and image files for the engine: streaming writers, readers, atomic replacement, one-line errors.

Video goes through the ffmpeg binary that imageio-ffmpeg ships (`imageio_ffmpeg.get_ffmpeg_exe()`); images
through Pillow. The ffmpeg processes are driven directly with subprocess rather than through
`imageio_ffmpeg.write_frames` / `read_frames` generators because those never look at ffmpeg's exit status: a
failed encode or a truncated input would pass silently. imageio-ffmpeg still parses the stream header
(`read_frames` meta) and counts frames (`count_frames_and_secs`).

Guarantees:
* Writers stream frames to ffmpeg as they come (memory is constant in the duration) and write into a temp file
  next to the target that replaces it only on a successful close. An exception, Ctrl-C or cancel inside the
  `with` block kills ffmpeg, deletes the temp file and leaves any previous file at the path untouched.
* Every failure a user can cause (bad path, unreadable/truncated file, wrong frame shape, ffmpeg failing) is a
  `MediaError` whose message is one line naming the file and the problem; no ffmpeg dump, no traceback text.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import struct
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import IO, Any

import imageio_ffmpeg
import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from engine.errors import SgvError
from engine.fileio import atomic_path  # temp file keeps the real suffix: ffmpeg and Pillow see the format
from engine.suffixes import PICTURE_EXTS, VIDEO_EXTS

MIN_IMAGE_SIDE, MAX_IMAGE_SIDE = 2, 16384

# A file name like these is almost certainly a typo for a video file, not a folder of frames.
_NOT_A_FOLDER_EXTS = (*PICTURE_EXTS, ".wmv", ".flv", ".m4v", ".mpg")


class MediaError(SgvError, ValueError):
    """An unreadable, unwritable or malformed media file; the message is one line naming the file."""


# ----------------------------------------------------------------------------------------------------
# ffmpeg plumbing


_PROGRESS_LINE = re.compile(r"^(frame|size)=")
_TELLING = (
    "error|invalid|not found|could not|cannot|unknown|unsupported|partial|corrupt|prematurely|truncat|no such|denied"
)
# ffmpeg's cascade after the real cause (thread shutdown, generic summaries) and imageio-ffmpeg's own wrapper line.
_NOISE = (
    "task finished|terminating thread|conversion failed|nothing was written|before eof|error number|"
    "cannot determine format of input|could not load meta"
)
# What ffmpeg's demuxers print when a file simply stops (mp4/mov, matroska/webm), often still exiting 0.
_TRUNCATION_MARKERS = "partial file|ended prematurely|truncat|moov atom not found"


def _ffmpeg_reason(text: str | bytes) -> str:
    """The most telling line of ffmpeg's stderr, without the '[demuxer @ 0x…]' prefixes, for a one-line error:
    a truncation notice if any, else the first line naming a problem (later ones are its consequences)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    lines = [re.sub(r"^(\[[^\]]*\]\s*)+", "", ln).strip() for ln in text.splitlines()]
    lines = [ln for ln in lines if ln and not _PROGRESS_LINE.match(ln) and not ln.startswith("===")]
    low = [ln.lower() for ln in lines]
    for wanted in (_TRUNCATION_MARKERS, _TELLING):
        for ln, lo in zip(lines, low):
            if re.search(wanted, lo) and not re.search(_NOISE, lo):
                return ln[:200]
    return lines[-1][:200] if lines else "no message"


def _ffmpeg_cmd(*args: str) -> list[str]:
    """ffmpeg (imageio-ffmpeg's binary) with `args`, quiet but for errors and never reading the terminal."""
    return [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", *args]


def _popen_isolated() -> dict[str, Any]:
    """Keep ffmpeg out of the terminal's process group, so Ctrl-C reaches only Python, which then kills ffmpeg
    and cleans up itself (instead of ffmpeg finalising a half-written file behind our back)."""
    if sys.platform.startswith("win"):
        return {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP}
    return {"start_new_session": True}


def _stop(proc: subprocess.Popen, *pipes: IO | None) -> None:
    """Kill ffmpeg (if still running) and close our ends of its pipes; never raises."""
    for pipe in pipes:
        if pipe is not None:
            with contextlib.suppress(Exception):
                pipe.close()
    with contextlib.suppress(Exception):
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _read_tail(f: IO[bytes], limit: int = 8192) -> bytes:
    f.flush()
    size = f.seek(0, os.SEEK_END)
    f.seek(max(0, size - limit))
    return f.read()


def _quality_args(codec: str, quality: float, crf: int | None, path: Path) -> list[str]:
    """ffmpeg rate-control flags for imageio-ffmpeg's quality scale (0 worst .. 10 best) or an explicit CRF.

    Same mapping as imageio-ffmpeg (libx264 crf = 51·(1 - q/10)), computed here so that 0 is accepted too.
    """
    if not 0 <= quality <= 10:
        raise MediaError(f"{path}: quality must be in 0..10, got {quality}")
    loss = 1.0 - quality / 10.0
    if codec in ("libx264", "libx264rgb", "libx265"):
        return ["-crf", str(crf if crf is not None else int(loss * 51))]
    if codec in ("libvpx", "libvpx-vp9", "libaom-av1", "libsvtav1"):
        # libvpx/aom only honour -crf as constant quality when the target bitrate is 0.
        return ["-crf", str(crf if crf is not None else int(loss * 63)), "-b:v", "0"]
    return ["-qscale:v", str(int(loss * 30) + 1)]


# ----------------------------------------------------------------------------------------------------
# Writing


def _check_frames(frames: Any, size: tuple[int, int], where: Path) -> np.ndarray:
    """uint8 [N, H, W, 3] from a frame or a batch; wrong dtype or shape is a one-line MediaError."""
    frames = np.asarray(frames)
    if frames.ndim == 3:
        frames = frames[None]
    w, h = size
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[1:] != (h, w, 3):
        raise MediaError(
            f"{where}: frames must be uint8 [{h}, {w}, 3] or [N, {h}, {w}, 3], got {frames.dtype} {list(frames.shape)}"
        )
    return frames


class FrameWriter:
    """What `open_video_writer` returns: `write(frames)`, `close()`, `abort()`, `frames_written`, and use as a
    context manager (entering opens the output; leaving without an exception closes it)."""

    _frames_written: int

    @property
    def frames_written(self) -> int:
        return self._frames_written

    def __enter__(self):
        self._open()
        return self

    def _open(self) -> None:
        raise NotImplementedError  # abstract: VideoWriter and FrameFolderWriter open their own outputs


class VideoWriter(FrameWriter):
    """Stream uint8 RGB frames ([H, W, 3] or a batch [N, H, W, 3]) into a video file; use as a context manager.

        with VideoWriter("out.mp4", fps=24, size=(W, H)) as w:
            for batch in batches:
                w.write(batch)

    `size` is (width, height) of the frames passed to `write`. yuv420p (the default, what every player
    supports) needs even sides: an odd width or height is padded by one pixel on the right/bottom, repeating
    the edge pixels, so the file is at most one pixel wider/taller than `size` and nothing is resized.
    `quality` is imageio-ffmpeg's 0..10 scale (10 best; 8 ≈ visually lossless); `crf` overrides it with an
    explicit constant-rate factor. `codec=None` means libx264, or libvpx-vp9 for .webm.
    The file appears at `path` only when `close()` (the end of the `with`) succeeds.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        fps: float,
        size: tuple[int, int],
        quality: float = 8,
        codec: str | None = None,
        pix_fmt_out: str = "yuv420p",
        crf: int | None = None,
    ) -> None:
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in VIDEO_EXTS:
            raise MediaError(f"{self.path}: not a video file name (use one of {', '.join(VIDEO_EXTS)})")
        try:
            self.fps = float(fps)
            self.size = (int(size[0]), int(size[1]))
        except (TypeError, ValueError, IndexError):
            raise MediaError(f"{self.path}: fps must be a number and size a (width, height) pair") from None
        if not (self.fps > 0 and math.isfinite(self.fps)):
            raise MediaError(f"{self.path}: fps must be a positive number, got {fps}")
        if min(self.size) < 1:
            raise MediaError(f"{self.path}: frame size must be positive, got {self.size[0]}x{self.size[1]}")
        self.codec = codec or ("libvpx-vp9" if suffix == ".webm" else "libx264")
        self.pix_fmt_out = pix_fmt_out
        w, h = self.size
        # Chroma subsampling halves the chroma plane: 4:2:0 in both directions, 4:2:2/4:1:1 horizontally only.
        sub_w = any(s in pix_fmt_out for s in ("420", "422", "411", "nv12", "nv21"))
        sub_h = any(s in pix_fmt_out for s in ("420", "nv12", "nv21"))
        self.encoded_size = (w + (w % 2 if sub_w else 0), h + (h % 2 if sub_h else 0))
        self._quality_args = _quality_args(self.codec, quality, crf, self.path)
        self._frames_written = 0
        self._proc: subprocess.Popen | None = None
        self._stderr: IO[bytes] | None = None
        self._atomic: contextlib.ExitStack | None = None
        self._tmp: Path | None = None
        self._closed = False

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort(exc_type, exc, tb)

    def _open(self) -> None:
        if self._closed:
            raise MediaError(f"{self.path}: writer is already closed")
        if self._proc is not None:
            return
        self._atomic = contextlib.ExitStack()
        try:
            self._tmp = self._atomic.enter_context(atomic_path(self.path))
        except OSError as e:
            self._atomic = None
            raise MediaError(f"{self.path}: cannot write here ({e.strerror or e})") from None
        ew, eh = self.encoded_size
        rate = Fraction(self.fps).limit_denominator(1_000_000)  # exact rationals such as 30000/1001
        cmd = _ffmpeg_cmd(
            "-y",  # the temp file already exists (it reserves the unique name)
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-s",
            f"{ew}x{eh}",
            "-framerate",
            str(rate),
            "-i",
            "-",
            "-an",
            "-c:v",
            self.codec,
            "-pix_fmt",
            self.pix_fmt_out,
            *self._quality_args,
        )
        if self.path.suffix.lower() in (".mp4", ".mov"):
            cmd += ["-movflags", "+faststart"]  # index at the front: previews start before the download ends
        cmd.append(str(self._tmp))
        try:
            # stderr goes to a temp file, not a pipe: an unread pipe could fill up and stall ffmpeg.
            self._stderr = tempfile.TemporaryFile()
            self._proc = subprocess.Popen(
                cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=self._stderr, **_popen_isolated()
            )
        except (OSError, RuntimeError) as e:
            self.abort()
            raise MediaError(f"{self.path}: cannot start ffmpeg ({e})") from None

    def write(self, frames: np.ndarray) -> None:
        """Append a frame [H, W, 3] or a batch [N, H, W, 3] of uint8 RGB; blocks while ffmpeg catches up."""
        frames = _check_frames(frames, self.size, self.path)
        self._open()
        (w, h), (ew, eh) = self.size, self.encoded_size
        if (ew, eh) != (w, h):
            frames = np.pad(frames, ((0, 0), (0, eh - h), (0, ew - w), (0, 0)), mode="edge")
        try:
            self._proc.stdin.write(memoryview(np.ascontiguousarray(frames)).cast("B"))
        except (BrokenPipeError, OSError, ValueError):
            # ffmpeg died (bad codec option, disk full, ...): its stderr says why.
            reason = self._finish_failed()
            raise MediaError(
                f"{self.path}: ffmpeg stopped while writing frame {self._frames_written} ({reason})"
            ) from None
        self._frames_written += len(frames)

    def close(self) -> None:
        """Finish the file and move it onto `path`; on failure the temp file is removed and MediaError raised."""
        if self._closed:
            return
        if self._frames_written == 0:
            self.abort()
            raise MediaError(f"{self.path}: no frames were written, so no video was made")
        try:
            with contextlib.suppress(BrokenPipeError, OSError):
                self._proc.stdin.close()  # EOF: ffmpeg flushes the encoder and writes the index
            rc = self._proc.wait()
            if rc != 0:
                reason = _ffmpeg_reason(_read_tail(self._stderr))
                self.abort()
                raise MediaError(f"{self.path}: ffmpeg failed with exit code {rc} ({reason})")
            self._stderr.close()
            self._closed = True
            try:
                self._atomic.close()  # fsync + os.replace onto the target
            except OSError as e:
                raise MediaError(f"{self.path}: cannot replace the file ({e.strerror or e})") from None
        except BaseException as e:
            # Ctrl-C while ffmpeg finishes, or the failures above: never leave ffmpeg or the temp file behind.
            self.abort(type(e), e, e.__traceback__)
            raise

    def abort(self, exc_type=None, exc=None, tb=None) -> None:
        """Stop ffmpeg and delete the temp file; the file at `path` (if any) is left as it was. Idempotent."""
        if self._proc is not None:
            _stop(self._proc, self._proc.stdin)
        if self._stderr is not None:
            with contextlib.suppress(Exception):
                self._stderr.close()
        if self._atomic is not None:
            atomic, self._atomic = self._atomic, None
            err = exc if isinstance(exc, BaseException) else MediaError(f"{self.path}: aborted")
            # Handing the exception to atomic_path makes it delete the temp file instead of committing it.
            with contextlib.suppress(BaseException):
                atomic.__exit__(type(err), err, err.__traceback__)
        self._closed = True

    def _finish_failed(self) -> str:
        with contextlib.suppress(Exception):
            self._proc.wait(timeout=5)
        reason = _ffmpeg_reason(_read_tail(self._stderr)) if self._stderr is not None else "unknown error"
        self.abort()
        return reason

    def __del__(self) -> None:
        # A writer dropped without close() (not used as a context manager) must not leave ffmpeg running.
        with contextlib.suppress(Exception):
            if not self._closed:
                self.abort()


class FrameFolderWriter(FrameWriter):
    """Same interface as VideoWriter, writing numbered images `{index:06d}.png` (or .jpg) into a folder.

    Each file is written atomically (temp file + replace). After an exception the frames already written stay,
    each one complete. `fps` is accepted for interface parity and ignored; `size`, when given, is checked.
    JPEG files use `jpg_quality` (Pillow's `quality=`, 95 by default).
    """

    def __init__(
        self,
        folder: str | os.PathLike,
        fps: float | None = None,
        size: tuple[int, int] | None = None,
        ext: str = "png",
        jpg_quality: int = 95,
        start_index: int = 0,
    ) -> None:
        self.folder = Path(folder)
        self.ext = ext.lower().lstrip(".")
        if self.ext == "jpeg":
            self.ext = "jpg"
        if self.ext not in ("png", "jpg"):
            raise MediaError(f"{self.folder}: frame format must be 'png' or 'jpg', got {ext!r}")
        self.fps, self.size = fps, (int(size[0]), int(size[1])) if size is not None else None
        self.jpg_quality, self.next_index = int(jpg_quality), int(start_index)
        self._frames_written = 0

    def __exit__(self, exc_type, exc, tb) -> None:
        return None  # nothing buffered: every frame is already a complete file

    def _open(self) -> None:
        if self.folder.exists() and not self.folder.is_dir():
            raise MediaError(f"{self.folder}: exists and is not a folder")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise MediaError(f"{self.folder}: cannot create folder ({e.strerror or e})") from None

    def write(self, frames: np.ndarray) -> None:
        """Write a frame [H, W, 3] or a batch [N, H, W, 3] of uint8 RGB as the next numbered files."""
        arr = np.asarray(frames)
        size = self.size
        if size is None:  # no size promised: take it from the frames, still checking dtype and channels
            size = (arr.shape[-2], arr.shape[-3]) if arr.ndim in (3, 4) else (0, 0)
        batch = _check_frames(arr, size, self.folder)
        self._open()
        for frame in batch:
            write_image(self.folder / f"{self.next_index:06d}.{self.ext}", frame, jpg_quality=self.jpg_quality)
            self.next_index += 1
            self._frames_written += 1

    def close(self) -> None:
        return None

    def abort(self, *exc_info: Any) -> None:
        return None


_VIDEO_ONLY_OPTIONS = ("quality", "codec", "pix_fmt_out", "crf")
_FOLDER_ONLY_OPTIONS = ("ext", "jpg_quality", "start_index")


def open_video_writer(
    path: str | os.PathLike, fps: float, size: tuple[int, int], **kw: Any
) -> VideoWriter | FrameFolderWriter:
    """A VideoWriter for a video file name (.mp4 .mov .mkv .webm .avi), else a FrameFolderWriter for a folder.

    Options meant for the other kind of writer are dropped (so callers can always pass `quality=`, on the
    video 0..10 scale, which means nothing for PNG frames). An image or other media file name (out.png,
    out.gif) is refused rather than silently made into a folder.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix in VIDEO_EXTS:
        return VideoWriter(path, fps, size, **{k: v for k, v in kw.items() if k not in _FOLDER_ONLY_OPTIONS})
    if suffix in _NOT_A_FOLDER_EXTS:
        raise MediaError(
            f"{path}: cannot write video as {suffix}; use {', '.join(VIDEO_EXTS)} or a folder name for PNG frames"
        )
    return FrameFolderWriter(path, fps, size, **{k: v for k, v in kw.items() if k not in _VIDEO_ONLY_OPTIONS})


# ----------------------------------------------------------------------------------------------------
# Reading videos


def _check_file(path: Path) -> None:
    if not path.exists():
        raise MediaError(f"{path}: no such file")
    if path.is_dir():
        raise MediaError(f"{path}: is a folder, expected a file")
    if not os.access(path, os.R_OK):
        raise MediaError(f"{path}: permission denied")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: file is empty")


def _video_meta(path: Path) -> dict:
    """imageio-ffmpeg's parse of the stream header: size (after rotation), fps, duration, codec."""
    _check_file(path)
    gen = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
    try:
        meta = next(gen)
        w, h = meta["size"]
    except Exception as e:  # IOError with ffmpeg's stderr, or a header without a video stream
        raise MediaError(f"{path}: not a readable video (ffmpeg: {_ffmpeg_reason(str(e))})") from None
    finally:
        gen.close()  # only the header was needed; stop the decode it started
    if w < 1 or h < 1:
        raise MediaError(f"{path}: video has no picture (size {w}x{h})")
    return meta


def _decode(path: Path, width: int, height: int) -> Iterator[np.ndarray]:
    cmd = _ffmpeg_cmd("-i", str(path), "-f", "rawvideo", "-pix_fmt", "rgb24", "-")
    frame_bytes = width * height * 3
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, **_popen_isolated())
        n = 0
        try:
            while True:
                buf = bytearray(frame_bytes)  # a fresh, writable buffer per frame: callers may keep frames
                view, got = memoryview(buf), 0
                while got < frame_bytes:
                    k = proc.stdout.readinto(view[got:])
                    if not k:
                        break
                    got += k
                if got < frame_bytes:
                    break
                yield np.frombuffer(buf, dtype=np.uint8).reshape(height, width, 3)
                n += 1
            rc = proc.wait()
            # A corrupt file makes ffmpeg exit non-zero; a truncated one often exits 0 after decoding what is
            # there, leaving only a warning. Either way it must not pass for a shorter, valid video. (Isolated
            # concealed decode errors, common in cut camera clips, are tolerated, as players do.)
            log = _read_tail(err).decode("utf-8", errors="replace")
            if rc != 0 or got or re.search(_TRUNCATION_MARKERS, log.lower()):
                reason = _ffmpeg_reason(log)
                raise MediaError(f"{path}: video is damaged or truncated after {n} frames (ffmpeg: {reason})")
        finally:
            _stop(proc, proc.stdout)


def iter_video_frames(path: str | os.PathLike) -> Iterator[np.ndarray]:
    """uint8 [H, W, 3] RGB frames one at a time (constant memory). An unreadable file fails here, at the call;
    damage found mid-stream fails when reached. Rotation metadata is applied, as players do."""
    path = Path(path)
    w, h = _video_meta(path)["size"]
    return _decode(path, w, h)


def read_video(path: str | os.PathLike, max_frames: int | None = None) -> tuple[np.ndarray, float]:
    """All frames (or the first `max_frames`) as uint8 [T, H, W, 3], and the frame rate (0.0 if unknown)."""
    path = Path(path)
    meta = _video_meta(path)
    w, h = meta["size"]
    frames = []
    gen = _decode(path, w, h)
    try:
        for frame in gen:
            if max_frames is not None and len(frames) >= max_frames:
                break
            frames.append(frame)
    finally:
        gen.close()  # stops ffmpeg when we leave early
    if not frames:
        raise MediaError(f"{path}: video has no frames")
    return np.stack(frames), float(meta.get("fps") or 0.0)


def probe_video(path: str | os.PathLike, count_frames: bool = True) -> dict:
    """{'frames', 'fps', 'width', 'height', 'duration_s'} of a video.

    frames is exact (counted by ffmpeg, which reads the whole file: seconds for long videos) or None with
    count_frames=False; duration_s is then the container's figure (0.0 if it has none).
    """
    path = Path(path)
    meta = _video_meta(path)
    w, h = meta["size"]
    frames, secs = None, float(meta.get("duration") or 0.0)
    if count_frames:
        try:
            counted, counted_secs = imageio_ffmpeg.count_frames_and_secs(str(path))
        except Exception as e:  # RuntimeError carrying ffmpeg's whole output
            raise MediaError(f"{path}: cannot count frames (ffmpeg: {_ffmpeg_reason(str(e))})") from None
        frames, secs = int(counted), float(counted_secs or secs)
    return {
        "frames": frames,
        "fps": float(meta.get("fps") or 0.0),
        "width": int(w),
        "height": int(h),
        "duration_s": secs,
    }


# ----------------------------------------------------------------------------------------------------
# Images


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Any image Pillow can read, as uint8 RGB [H, W, 3].

    EXIF orientation is applied. Alpha (RGBA, LA, transparent palettes) is composited on black, which is what
    a premultiplied renderer would show; grey (L, 1) is replicated to three channels; 16-bit grey (I;16) is
    scaled to 8 bit (v·255/65535, rounded); CMYK, YCbCr and palettes are converted by Pillow. Multi-frame files
    give their first frame. Sides must be 2..16384 px.
    """
    path = Path(path)
    _check_file(path)
    try:
        with Image.open(path) as im:
            w, h = im.size  # known from the header: refuse absurd sizes before decoding anything
            if min(w, h) < MIN_IMAGE_SIDE or max(w, h) > MAX_IMAGE_SIDE:
                raise MediaError(
                    f"{path}: image is {w}x{h} px; each side must be {MIN_IMAGE_SIDE}..{MAX_IMAGE_SIDE} px"
                )
            im.load()
            try:
                im = ImageOps.exif_transpose(im)
            except Exception:
                pass  # a malformed EXIF block should not make an otherwise fine image unreadable
            return _to_rgb8(im, path)
    except MediaError:
        raise
    except Image.DecompressionBombError as e:
        raise MediaError(f"{path}: image is too large to decode safely ({e})") from None
    except UnidentifiedImageError:
        raise MediaError(f"{path}: not an image file Pillow can read") from None
    except (OSError, ValueError, SyntaxError, EOFError, struct.error) as e:
        # Pillow's decoders report damage through all of these.
        first = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
        raise MediaError(f"{path}: image is damaged or truncated ({first})") from None


def _to_rgb8(im: Image.Image, path: Path) -> np.ndarray:
    mode = im.mode
    if mode.startswith("I;16") or mode == "I":
        a = np.asarray(im).astype(np.float64)
        # "I" (32-bit) holds 16-bit data for some formats and plain 8-bit values for others.
        peak = 65535.0 if mode.startswith("I;16") or a.max(initial=0) > 255 else 255.0
        grey = np.clip(np.rint(a * (255.0 / peak)), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if mode == "F":
        a = np.asarray(im, dtype=np.float64)
        scale = 255.0 if a.max(initial=0) <= 1.0 else 1.0  # float images are 0..1 or 0..255 by convention
        grey = np.clip(np.rint(a * scale), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if "A" in mode or "a" in mode or "transparency" in im.info:
        rgba = np.asarray(im.convert("RGBA"), dtype=np.uint16)
        rgb = (rgba[..., :3] * rgba[..., 3:] + 127) // 255  # composite on black
        return rgb.astype(np.uint8)
    try:
        return np.asarray(im.convert("RGB"))
    except ValueError:
        raise MediaError(f"{path}: unsupported colour mode {mode}") from None


def write_image(path: str | os.PathLike, array: np.ndarray, jpg_quality: int = 95) -> None:
    """Write uint8 [H, W, 3] (or grey [H, W]) atomically; PNG or JPEG chosen by the extension."""
    path = Path(path)
    fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}.get(path.suffix.lower())
    if fmt is None:
        raise MediaError(f"{path}: unknown image extension (use .png or .jpg)")
    arr = np.asarray(array)
    if arr.dtype != np.uint8 or not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)):
        raise MediaError(f"{path}: image must be uint8 [H, W, 3] or [H, W], got {arr.dtype} {list(arr.shape)}")
    image = Image.fromarray(np.ascontiguousarray(arr))
    options = {"quality": int(jpg_quality)} if fmt == "JPEG" else {}
    try:
        with atomic_path(path) as tmp:
            image.save(tmp, format=fmt, **options)
    except OSError as e:
        raise MediaError(f"{path}: cannot write image ({e.strerror or e})") from None


# ----------------------------------------------------------------------------------------------------
# Tensors


def tensor_to_uint8(x: torch.Tensor) -> np.ndarray:
    """[..., 3, H, W] in [-1, 1] → uint8 numpy [..., H, W, 3], quantised exactly as StyleGAN(-V) does for saved
    videos and metrics: (x·127.5 + 128) clamped and truncated (the +128 rather than +127.5 makes truncation
    round to nearest). Half precision is widened first so the result matches the fp32 reference."""
    if x.ndim < 3 or x.shape[-3] != 3:
        raise ValueError(f"expected a tensor [..., 3, H, W], got {list(x.shape)}")
    x = x.detach()
    if x.dtype in (torch.float16, torch.bfloat16):
        x = x.float()
    q = (x * 127.5 + 128).clamp(0, 255).to(torch.uint8)  # on the tensor's device: 4x less to copy back
    return np.ascontiguousarray(q.movedim(-3, -1).cpu().numpy())
