"""engine.media: streaming atomic writers, readers with one-line errors, every image mode, constant memory."""

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import psutil
import pytest
import torch
from PIL import Image

from engine.media import (
    FrameFolderWriter,
    MediaError,
    VideoWriter,
    iter_video_frames,
    open_video_writer,
    probe_video,
    read_image,
    read_video,
    tensor_to_uint8,
    write_image,
)

REPO = Path(__file__).resolve().parents[1]


def _gradient(n: int, h: int, w: int) -> np.ndarray:
    """A smooth gradient sliding right by 3 px per frame: easy to encode, and every frame differs."""
    y, x = np.mgrid[0:h, 0:w]
    return np.stack(
        [np.stack([(x * 4 + 3 * i) % 256, (y * 5) % 256, np.full_like(x, 100 + i % 50)], -1) for i in range(n)]
    ).astype(np.uint8)


def _assert_one_line(err: pytest.ExceptionInfo, path: Path) -> None:
    msg = str(err.value)
    assert str(path) in msg and "\n" not in msg and "Traceback" not in msg, msg


def _no_ffmpeg_children() -> bool:
    return not [p for p in psutil.Process().children(recursive=True) if "ffmpeg" in p.name()]


# ----------------------------------------------------------------------------------------------------
# Video


def test_round_trip_exact_count_and_pixels(tmp_path):
    clip = _gradient(50, 48, 64)
    with VideoWriter(tmp_path / "a.mp4", fps=24, size=(64, 48), quality=8) as w:
        w.write(clip[:20])  # a batch ...
        for frame in clip[20:]:
            w.write(frame)  # ... and single frames
        assert w.frames_written == 50
    frames, fps = read_video(tmp_path / "a.mp4")
    assert frames.shape == clip.shape and frames.dtype == np.uint8 and fps == pytest.approx(24)
    assert np.abs(frames.astype(int) - clip.astype(int)).mean() < 8
    assert probe_video(tmp_path / "a.mp4") == {
        "frames": 50,
        "fps": pytest.approx(24),
        "width": 64,
        "height": 48,
        "duration_s": pytest.approx(50 / 24, abs=0.1),
    }
    assert sum(1 for _ in iter_video_frames(tmp_path / "a.mp4")) == 50
    assert len(read_video(tmp_path / "a.mp4", max_frames=7)[0]) == 7
    assert [p.name for p in tmp_path.iterdir()] == ["a.mp4"]  # no temp file left
    assert _no_ffmpeg_children()


def test_odd_size_is_padded_by_one_edge_pixel(tmp_path):
    clip = _gradient(6, 17, 33)
    with VideoWriter(tmp_path / "odd.mp4", fps=10, size=(33, 17)) as w:
        w.write(clip)
    frames, _ = read_video(tmp_path / "odd.mp4")
    assert frames.shape == (6, 18, 34, 3)  # never resized: the picture is intact in the top-left 33x17
    assert np.abs(frames[:, :17, :33].astype(int) - clip.astype(int)).mean() < 8


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_failure_inside_with_keeps_previous_file(tmp_path, exc):
    target = tmp_path / "keep.mp4"
    target.write_bytes(b"the user's previous video")
    with pytest.raises(exc), VideoWriter(target, fps=10, size=(32, 32)) as w:
        w.write(_gradient(5, 32, 32))
        raise exc("stop")
    assert target.read_bytes() == b"the user's previous video"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.mp4"]
    assert _no_ffmpeg_children()


def test_writer_rejects_bad_frames_and_empty_videos(tmp_path):
    with (
        pytest.raises(MediaError, match=r"uint8 \[32, 48, 3\]") as e,
        VideoWriter(tmp_path / "x.mp4", 10, (48, 32)) as w,
    ):
        w.write(np.zeros((32, 48, 3), np.float32))
    _assert_one_line(e, tmp_path / "x.mp4")
    with pytest.raises(MediaError, match="no frames"), VideoWriter(tmp_path / "y.mp4", 10, (48, 32)):
        pass
    with (
        pytest.raises(MediaError, match="Unknown encoder"),
        VideoWriter(tmp_path / "z.mp4", 10, (8, 8), codec="nope") as w,
    ):
        w.write(np.zeros((8, 8, 3), np.uint8))
    assert list(tmp_path.iterdir()) == []


def test_frame_folder_writer_and_dispatch(tmp_path):
    clip = _gradient(4, 8, 10)
    with open_video_writer(tmp_path / "frames", fps=24, size=(10, 8), quality=8) as w:
        assert isinstance(w, FrameFolderWriter)
        w.write(clip[:3])
        w.write(clip[3])
    assert sorted(p.name for p in (tmp_path / "frames").iterdir()) == [f"{i:06d}.png" for i in range(4)]
    assert np.array_equal(read_image(tmp_path / "frames" / "000002.png"), clip[2])  # PNG is lossless

    with FrameFolderWriter(tmp_path / "jpg", ext="jpg", start_index=10) as w:
        w.write(_gradient(2, 16, 16))
    assert sorted(p.name for p in (tmp_path / "jpg").iterdir()) == ["000010.jpg", "000011.jpg"]
    ref = io.BytesIO()
    Image.fromarray(_gradient(2, 16, 16)[0]).save(ref, format="JPEG", quality=95)
    assert (tmp_path / "jpg" / "000010.jpg").read_bytes() == ref.getvalue()  # quality 95 really applied

    assert isinstance(open_video_writer(tmp_path / "v.webm", 24, (8, 8)), VideoWriter)
    with pytest.raises(MediaError, match="out.png"):
        open_video_writer(tmp_path / "out.png", 24, (8, 8))


def test_bad_videos_give_one_line_errors(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 20)
    good = tmp_path / "good.mp4"
    with VideoWriter(good, fps=24, size=(64, 64), quality=10) as w:
        w.write(np.random.default_rng(0).integers(0, 256, (40, 64, 64, 3), dtype=np.uint8))
    data = good.read_bytes()
    head_cut, mid_cut = tmp_path / "head.mp4", tmp_path / "mid.mp4"
    head_cut.write_bytes(data[:300])
    mid_cut.write_bytes(data[: len(data) // 2])  # index at the front (faststart): frames decode, then stop
    for path in [text, head_cut, mid_cut, tmp_path / "missing.mp4", tmp_path]:
        with pytest.raises(MediaError) as e:
            read_video(path)
        _assert_one_line(e, path)
    with pytest.raises(MediaError, match="truncated") as e:
        read_video(mid_cut)
    with pytest.raises(MediaError) as e:
        probe_video(text)
    _assert_one_line(e, text)
    assert _no_ffmpeg_children()


_MEMORY = textwrap.dedent("""
    import resource, sys
    import numpy as np
    from engine.media import VideoWriter
    n = int(sys.argv[2])
    y, x = np.mgrid[0:128, 0:128]
    batch = np.stack([np.stack([(x + 3 * i) % 256, y * 2, np.full_like(x, i)], -1) for i in range(30)])
    batch = batch.astype(np.uint8)
    with VideoWriter(sys.argv[1], fps=30, size=(128, 128), quality=5) as w:
        for _ in range(n // 30):
            w.write(batch)
    print(w.frames_written, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
""")


def _peak_rss_kb(out: Path, n: int) -> int:
    res = subprocess.run(
        [sys.executable, "-c", _MEMORY, str(out), str(n)], cwd=REPO, check=True, capture_output=True, text=True
    )
    written, peak_kb = map(int, res.stdout.split())
    assert written == n
    return peak_kb


def test_writer_memory_is_constant_in_duration(tmp_path):
    short = _peak_rss_kb(tmp_path / "short.mp4", 300)
    long = _peak_rss_kb(tmp_path / "long.mp4", 3000)  # 147 MB of frames: would show if anything accumulated
    assert long < 1.2 * short, (short, long)
    assert probe_video(tmp_path / "long.mp4")["frames"] == 3000


# ----------------------------------------------------------------------------------------------------
# Images


def _picture() -> Image.Image:
    return Image.fromarray(_gradient(1, 20, 30)[0])


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "LA", "L", "1", "I;16", "CMYK", "P", "P+transparency"])
def test_read_image_every_mode(tmp_path, mode):
    rgb = _picture()
    grey = np.asarray(rgb.convert("L"), dtype=np.int64)
    path = tmp_path / ("x.jpg" if mode == "CMYK" else "x.png")
    if mode == "I;16":
        Image.fromarray((grey * 257).astype(np.uint16)).save(path)  # full 16-bit range
        assert Image.open(path).mode.startswith("I")
    elif mode == "P+transparency":
        im = rgb.convert("P")
        im.info["transparency"] = 0
        im.save(path, transparency=0)
    else:
        rgb.convert(mode).save(path)
    arr = read_image(path)
    assert arr.shape == (20, 30, 3) and arr.dtype == np.uint8
    if mode in ("RGB", "RGBA"):
        assert np.array_equal(arr, np.asarray(rgb))
    if mode in ("I;16", "L", "LA"):
        assert np.abs(arr[..., 0].astype(np.int64) - grey).max() <= 1 and (arr[..., 0] == arr[..., 2]).all()
    if mode == "CMYK":
        assert np.abs(arr.astype(int) - np.asarray(rgb, dtype=int)).mean() < 12


def test_alpha_is_composited_on_black_and_exif_rotation_applied(tmp_path):
    rgba = np.zeros((4, 6, 4), np.uint8)
    rgba[..., :3] = 200
    rgba[:, :3, 3] = 255  # left half opaque, right half fully transparent
    Image.fromarray(rgba).save(tmp_path / "a.png")
    arr = read_image(tmp_path / "a.png")
    assert (arr[:, :3] == 200).all() and (arr[:, 3:] == 0).all()

    exif = Image.Exif()
    exif[0x0112] = 6  # orientation: rotate 90° clockwise to display
    _picture().save(tmp_path / "r.jpg", exif=exif)
    assert read_image(tmp_path / "r.jpg").shape == (30, 20, 3)


def test_bad_images_give_one_line_errors(tmp_path):
    Image.new("RGB", (1, 1)).save(tmp_path / "dot.png")
    Image.new("L", (40, 1)).save(tmp_path / "line.png")
    (tmp_path / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"junk" * 10)
    (tmp_path / "notes.jpg").write_text("hello")
    _picture().save(tmp_path / "ok.jpg")
    (tmp_path / "cut.jpg").write_bytes((tmp_path / "ok.jpg").read_bytes()[:200])
    for name, needle in [
        ("dot.png", "1x1"),
        ("line.png", "40x1"),
        ("junk.png", "damaged"),
        ("notes.jpg", "not an image"),
        ("cut.jpg", "truncated"),
    ]:
        with pytest.raises(MediaError, match=needle) as e:
            read_image(tmp_path / name)
        _assert_one_line(e, tmp_path / name)


def test_write_image_is_atomic_and_round_trips(tmp_path):
    img = _gradient(1, 12, 9)[0]
    target = tmp_path / "f.png"
    target.write_bytes(b"old")
    with pytest.raises(MediaError):
        write_image(target, img.astype(np.float32))
    assert target.read_bytes() == b"old"
    write_image(target, img)
    assert np.array_equal(read_image(target), img) and [p.name for p in tmp_path.iterdir()] == ["f.png"]


def test_tensor_to_uint8_uses_stylegan_quantisation():
    x = torch.tensor([-1.5, -1.0, -0.004, 0.0, 0.5, 1.0, 2.0]).reshape(1, 1, 7).expand(2, 3, 1, 7)  # [N, 3, H, W]
    out = tensor_to_uint8(x)
    assert out.shape == (2, 1, 7, 3) and out.dtype == np.uint8
    assert out[0, 0, :, 0].tolist() == [0, 0, 127, 128, 191, 255, 255]
    ref = (x * 127.5 + 128).clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
    assert np.array_equal(out, ref)
    assert tensor_to_uint8(x.half()).tolist() == out.tolist()
    with pytest.raises(ValueError):
        tensor_to_uint8(torch.zeros(4, 5))
