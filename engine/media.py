"""Video and image files: reading, streaming writing, atomic replacement.

All video goes through imageio-ffmpeg (it ships an ffmpeg binary); images through Pillow. Writers
stream frames to ffmpeg as they come, so memory is constant in the duration, and write to a temp
file that replaces the target only when complete: a crash, Ctrl-C or cancel leaves any previous file
untouched. Every failure a user can cause is a MediaError with one line naming the file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from engine.errors import SgvError
from engine.fileio import atomic_path

VIDEO_EXTS = {".mp4", ".mov", ".mkv", ".webm", ".avi"}
IMAGE_EXTS = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}
MAX_IMAGE_SIDE = 16384


class MediaError(SgvError):
    """An unreadable or unwritable media file; the message is one line naming it."""


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[-1][:200] if text else type(e).__name__


# ----------------------------------------------------------------------------------------------------
# Writing


class VideoWriter:
    """Stream uint8 RGB frames ([H, W, 3] or [N, H, W, 3]) to an H.264/yuv420p file; use as a context manager.

    yuv420p needs even sides: an odd width or height is padded by one edge pixel (never resized).
    quality is imageio-ffmpeg's 0..10 scale (10 = best).
    """

    def __init__(
        self, path: str | os.PathLike, fps: float, size: tuple[int, int], quality: int = 8, codec: str = "libx264"
    ):
        self.path = Path(path)
        if self.path.suffix.lower() not in VIDEO_EXTS:
            raise MediaError(f"{self.path}: not a video file name (use one of {', '.join(sorted(VIDEO_EXTS))})")
        if fps <= 0:
            raise MediaError(f"{self.path}: fps must be positive, got {fps}")
        self.fps, self.size, self.quality, self.codec = float(fps), (int(size[0]), int(size[1])), quality, codec
        self.frames_written = 0
        self._gen = None
        self._atomic = None

    def __enter__(self) -> VideoWriter:
        import imageio_ffmpeg

        self._atomic = atomic_path(self.path)
        tmp = self._atomic.__enter__()
        w, h = self.size
        self._padded = (w + w % 2, h + h % 2)
        try:
            self._gen = imageio_ffmpeg.write_frames(
                str(tmp),
                self._padded,
                fps=self.fps,
                quality=self.quality,
                codec=self.codec,
                macro_block_size=1,
                ffmpeg_log_level="error",
                output_params=["-movflags", "+faststart"],
            )
            self._gen.send(None)
        except BaseException as e:
            self._atomic.__exit__(type(e), e, e.__traceback__)
            raise MediaError(f"{self.path}: cannot start ffmpeg ({_first_line(e)})") from None
        return self

    def write(self, frames: np.ndarray) -> None:
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        h, w = self.size[1], self.size[0]
        if frames.ndim != 4 or frames.shape[1:] != (h, w, 3) or frames.dtype != np.uint8:
            raise ValueError(f"frames must be uint8 [N, {h}, {w}, 3], got {frames.dtype} {list(frames.shape)}")
        pw, ph = self._padded
        if (pw, ph) != (w, h):
            frames = np.pad(frames, ((0, 0), (0, ph - h), (0, pw - w), (0, 0)), mode="edge")
        for frame in frames:
            self._gen.send(np.ascontiguousarray(frame))
        self.frames_written += len(frames)

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self._gen is not None:
                if exc_type is None:
                    self._gen.close()  # waits for ffmpeg to finish the file
                else:
                    with contextlib.suppress(Exception):
                        self._gen.close()
        except Exception as e:  # ffmpeg failed while finishing: discard the temp file
            self._atomic.__exit__(type(e), e, e.__traceback__)
            raise MediaError(f"{self.path}: ffmpeg failed ({_first_line(e)})") from None
        self._atomic.__exit__(exc_type, exc, tb)


class FrameFolderWriter:
    """Same interface as VideoWriter, writing {index:06d}.png (or .jpg, quality 95) files into a folder."""

    def __init__(self, folder: str | os.PathLike, ext: str = "png", start_index: int = 0, quality: int = 95):
        self.folder, self.ext, self.index, self.jpeg_quality = Path(folder), ext.lstrip("."), start_index, quality
        self.frames_written = 0

    def __enter__(self) -> FrameFolderWriter:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise MediaError(f"{self.folder}: cannot create folder ({e.strerror})") from None
        return self

    def write(self, frames: np.ndarray) -> None:
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        for frame in frames:
            write_image(self.folder / f"{self.index:06d}.{self.ext}", frame, jpeg_quality=self.jpeg_quality)
            self.index += 1
            self.frames_written += 1

    def __exit__(self, exc_type, exc, tb) -> None:
        return None


def open_video_writer(path: str | os.PathLike, fps: float, size: tuple[int, int], quality: int = 8):
    """A VideoWriter for a video file name, else a FrameFolderWriter (PNG frames) for a folder."""
    path = Path(path)
    if path.suffix.lower() in VIDEO_EXTS:
        return VideoWriter(path, fps, size, quality=quality)
    return FrameFolderWriter(path)


# ----------------------------------------------------------------------------------------------------
# Reading videos


def _check_file(path: Path) -> None:
    if not path.exists():
        raise MediaError(f"{path}: no such file")
    if path.is_dir():
        raise MediaError(f"{path}: is a folder, expected a file")
    if path.stat().st_size == 0:
        raise MediaError(f"{path}: file is empty")


def iter_video_frames(path: str | os.PathLike) -> Iterator[np.ndarray]:
    """Yield uint8 [H, W, 3] frames one by one (constant memory)."""
    import imageio_ffmpeg

    path = Path(path)
    _check_file(path)
    try:
        gen = imageio_ffmpeg.read_frames(str(path), pix_fmt="rgb24")
        meta = next(gen)
        w, h = meta["size"]
    except (RuntimeError, OSError, StopIteration, KeyError) as e:
        raise MediaError(f"{path}: not a readable video ({_first_line(e)})") from None
    try:
        for raw in gen:
            yield np.frombuffer(raw, dtype=np.uint8).reshape(h, w, 3)
    except RuntimeError as e:
        raise MediaError(f"{path}: video is damaged ({_first_line(e)})") from None
    finally:
        gen.close()


def read_video(path: str | os.PathLike, max_frames: int | None = None) -> tuple[np.ndarray, float]:
    """All frames (or the first max_frames) as uint8 [T, H, W, 3], and the frame rate."""
    fps = probe_video(path)["fps"]
    frames = []
    for frame in iter_video_frames(path):
        frames.append(frame)
        if max_frames is not None and len(frames) >= max_frames:
            break
    if not frames:
        raise MediaError(f"{path}: video has no frames")
    return np.stack(frames), fps


def probe_video(path: str | os.PathLike) -> dict:
    """frames (decoded count), fps, width, height, duration_s."""
    import imageio_ffmpeg

    path = Path(path)
    _check_file(path)
    try:
        gen = imageio_ffmpeg.read_frames(str(path))
        meta = next(gen)
        gen.close()
        frames, secs = imageio_ffmpeg.count_frames_and_secs(str(path))
    except (RuntimeError, OSError, StopIteration, KeyError) as e:
        raise MediaError(f"{path}: not a readable video ({_first_line(e)})") from None
    w, h = meta["size"]
    return {
        "frames": int(frames),
        "fps": float(meta.get("fps") or 0.0),
        "width": int(w),
        "height": int(h),
        "duration_s": float(secs),
    }


# ----------------------------------------------------------------------------------------------------
# Images


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Any Pillow-readable image as uint8 RGB [H, W, 3].

    Grey is replicated, alpha is composited on black, 16-bit is scaled to 8 bit, CMYK and palettes are
    converted, and EXIF orientation is applied.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    _check_file(path)
    try:
        with Image.open(path) as im:
            im.load()
            im = ImageOps.exif_transpose(im)
            w, h = im.size
            if min(w, h) < 2 or max(w, h) > MAX_IMAGE_SIDE:
                raise MediaError(f"{path}: image is {w}x{h}; sides must be 2..{MAX_IMAGE_SIDE} px")
            return _to_rgb8(im)
    except MediaError:
        raise
    except Image.DecompressionBombError:
        raise MediaError(f"{path}: image is too large to open safely") from None
    except UnidentifiedImageError:
        raise MediaError(f"{path}: not an image Pillow can read") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise MediaError(f"{path}: image is damaged or truncated ({_first_line(e)})") from None


def _to_rgb8(im) -> np.ndarray:
    from PIL import Image

    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im, dtype=np.float64)
        peak = 65535.0 if im.mode.startswith("I;16") or a.max() > 255 else 255.0
        grey = np.clip(np.round(a / peak * 255.0), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if im.mode == "F":
        a = np.asarray(im, dtype=np.float64)
        grey = np.clip(np.round(a * 255.0 if a.max() <= 1.0 else a), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (0, 0, 0, 255))
        return np.asarray(Image.alpha_composite(background, rgba).convert("RGB"))
    return np.asarray(im.convert("RGB"))


def write_image(path: str | os.PathLike, array: np.ndarray, jpeg_quality: int = 95) -> None:
    """Write uint8 [H, W, 3] atomically; format from the extension (PNG, JPEG, WebP, ...)."""
    from PIL import Image

    path = Path(path)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".bmp": "BMP"}.get(path.suffix.lower())
    if fmt is None:
        raise MediaError(f"{path}: unknown image extension (use .png, .jpg or .webp)")
    image = Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8))
    options = {"quality": jpeg_quality} if fmt in ("JPEG", "WEBP") else {}
    with atomic_path(path) as tmp:
        image.save(tmp, format=fmt, **options)
