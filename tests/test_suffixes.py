"""One list of file suffixes (engine.suffixes): WebP frames are frames everywhere, and the lists agree."""

import numpy as np
import pytest
from PIL import Image

from engine import media, suffixes
from engine.data import open_dataset
from engine.data.base import is_image_name
from engine.media import MediaError


def test_lists_nest():
    assert set(suffixes.VIDEO_EXTS) <= set(suffixes.READ_VIDEO_EXTS)  # everything sgv writes it can train on
    assert set(suffixes.IMAGE_EXTS) <= set(suffixes.PICTURE_EXTS)
    assert ".webp" in suffixes.IMAGE_EXTS and is_image_name("frame_0.WEBP")
    assert not set(suffixes.IMAGE_EXTS) & set(suffixes.READ_VIDEO_EXTS)
    assert all(s == s.lower() and s.startswith(".") for s in suffixes.READ_VIDEO_EXTS + suffixes.PICTURE_EXTS)


def test_webp_frame_folder_is_a_dataset(tmp_path):
    rng = np.random.default_rng(0)
    for v in range(2):
        d = tmp_path / "frames" / f"clip{v}"
        d.mkdir(parents=True)
        for k in range(3):
            Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(d / f"{k}.webp", lossless=True)
    ds = open_dataset(tmp_path / "frames")
    assert len(ds) == 2 and ds.num_frames(0) == 3 and ds.read_frames(1, [2]).shape == (1, 16, 16, 3)


def test_a_picture_name_is_refused_as_a_video_target(tmp_path):
    for ext in suffixes.PICTURE_EXTS:
        with pytest.raises(MediaError, match="cannot write video"):
            media.open_video_writer(tmp_path / f"out{ext}", 25, (16, 16))
