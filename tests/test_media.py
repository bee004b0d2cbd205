"""Media files: streaming writes, atomic replacement, every image mode, one-line errors."""

import numpy as np
import pytest
from PIL import Image

from engine.media import FrameFolderWriter, MediaError, VideoWriter, probe_video, read_image, read_video


def _clip(n, h, w):
    y, x = np.mgrid[0:h, 0:w]
    return np.stack(
        [np.stack([(x * 4 + 5 * i) % 256, (y * 4) % 256, np.full_like(x, 128)], -1) for i in range(n)]
    ).astype(np.uint8)


def test_video_round_trip_and_odd_sizes(tmp_path):
    clip = _clip(50, 48, 64)
    with VideoWriter(tmp_path / "a.mp4", fps=24, size=(64, 48), quality=8) as w:
        w.write(clip[:10])
        for f in clip[10:]:
            w.write(f)
    frames, fps = read_video(tmp_path / "a.mp4")
    assert frames.shape == clip.shape and fps == pytest.approx(24)
    assert np.abs(frames.astype(int) - clip.astype(int)).mean() < 8
    odd = _clip(5, 17, 33)
    with VideoWriter(tmp_path / "odd.mp4", fps=10, size=(33, 17)) as w:
        w.write(odd)
    info = probe_video(tmp_path / "odd.mp4")
    assert info["frames"] == 5 and (info["width"], info["height"]) == (34, 18)


def test_failed_write_keeps_previous_file(tmp_path):
    target = tmp_path / "keep.mp4"
    target.write_bytes(b"the user's previous video")
    with pytest.raises(KeyboardInterrupt), VideoWriter(target, fps=10, size=(32, 32)) as w:
        w.write(_clip(3, 32, 32))
        raise KeyboardInterrupt
    assert target.read_bytes() == b"the user's previous video"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.mp4"]


def test_frame_folder_writer(tmp_path):
    with FrameFolderWriter(tmp_path / "f") as w:
        w.write(_clip(4, 8, 8))
    assert sorted(p.name for p in (tmp_path / "f").iterdir()) == [f"{i:06d}.png" for i in range(4)]
    assert np.array_equal(read_image(tmp_path / "f" / "000002.png"), _clip(4, 8, 8)[2])


def test_bad_videos_give_one_line(tmp_path):
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 20)
    good = tmp_path / "good.mp4"
    with VideoWriter(good, fps=10, size=(32, 32)) as w:
        w.write(_clip(20, 32, 32))
    trunc = tmp_path / "trunc.mp4"
    trunc.write_bytes(good.read_bytes()[:300])
    for path in [text, trunc, tmp_path / "missing.mp4", tmp_path]:
        with pytest.raises(MediaError) as e:
            read_video(path)
        assert str(path) in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "I;16", "CMYK", "P", "1"])
def test_read_image_modes(tmp_path, mode):
    rgb = Image.fromarray(_clip(1, 20, 30)[0])
    if mode == "I;16":
        im = Image.fromarray(np.asarray(rgb.convert("L"), dtype=np.uint16) * 257)
        ext = "png"
    else:
        im = rgb.convert(mode)
        ext = "jpg" if mode == "CMYK" else "png"
    path = tmp_path / f"x.{ext}"
    im.save(path)
    arr = read_image(path)
    assert arr.shape == (20, 30, 3) and arr.dtype == np.uint8
    if mode == "I;16":
        assert np.abs(arr[..., 0].astype(int) - np.asarray(rgb.convert("L"), dtype=int)).max() <= 1


def test_bad_images(tmp_path):
    Image.new("RGB", (1, 1)).save(tmp_path / "dot.png")
    (tmp_path / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"junk" * 10)
    Image.fromarray(_clip(1, 64, 64)[0]).save(tmp_path / "ok.jpg")
    (tmp_path / "cut.jpg").write_bytes((tmp_path / "ok.jpg").read_bytes()[:200])
    for name, needle in [("dot.png", "1x1"), ("junk.png", "junk.png"), ("cut.jpg", "cut.jpg")]:
        with pytest.raises(MediaError, match=needle):
            read_image(tmp_path / name)
