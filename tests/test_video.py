"""Video: the time mapping, grids, and streaming export (exact frame counts, constant memory)."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import engine
from engine.media import probe_video, read_video
from engine.motion_codes import MotionCodes
from engine.video import ExportCancelled, frame_times, grid_frames


def test_time_mapping():
    assert np.allclose(frame_times(4, fps=25, native_fps=25), [0, 1, 2, 3])
    assert np.allclose(frame_times(3, fps=100, native_fps=25, t_start=10), [10, 10.25, 10.5])
    assert np.allclose(frame_times(3, fps=25, native_fps=25, t_start=5, time_scale=-2), [5, 3, 1])
    big = frame_times(3, fps=240, native_fps=30, t_start=1e7)
    assert big[1] - big[0] == pytest.approx(0.125, abs=1e-9)


def test_same_motion_any_fps(tiny_G):
    """A higher fps samples the same continuous motion more densely."""
    video = engine.Video(tiny_G, content=2, motion=3)
    slow = video.frames(video.times(8, fps=100))  # t = 0, 0.25, ...
    fast = video.frames(video.times(2, fps=25))  # t = 0, 1
    assert torch.allclose(slow[4], fast[1], atol=1e-5)


def test_grid_cells_are_content_times_motion(tiny_G):
    G = tiny_G
    contents = [engine.Video(G, content=s).ws for s in (0, 1, 2)]
    motions = [MotionCodes(seed=10), MotionCodes(seed=11)]
    grid = grid_frames(G, contents, motions, [0.0, 7.5], pad=2)
    assert grid.shape == (2, 2 * 34 - 2, 3 * 34 - 2, 3)
    cell = grid[:, 34:66, 68:100]  # row 1 (motion 11), column 2 (content 2)
    ref = engine.Video(G, content=2, motion=11).frames_uint8([0.0, 7.5])
    assert np.abs(cell.astype(int) - ref.astype(int)).max() <= 1


def test_png_export_and_cancel(tiny_G, tmp_path):
    video = engine.Video(tiny_G, content=0, motion=0)
    n = engine.export_video(video, tmp_path / "frames", num_frames=5, fps=50)
    assert n == 5 and sorted(p.name for p in (tmp_path / "frames").iterdir())[-1] == "000004.png"
    target = tmp_path / "clip.mp4"
    target.write_bytes(b"previous")
    with pytest.raises(ExportCancelled):
        engine.export_video(video, target, num_frames=100, should_stop=lambda: True)
    assert target.read_bytes() == b"previous"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_mp4_round_trip(tiny_G, tmp_path):
    video = engine.Video(tiny_G, content=5, motion=2)
    out = tmp_path / "a.mp4"
    seen = []
    n = engine.export_video(video, out, duration_s=1.0, fps=30, quality=10, progress=lambda d, t: seen.append(d))
    frames, fps = read_video(out)
    assert n == len(frames) == 30 and fps == pytest.approx(30)
    assert seen[-1] == 30
    ref = video.frames_uint8(video.times(30, fps=30))
    assert np.abs(frames.astype(float) - ref.astype(float)).mean() < 10  # lossy H.264 on a 32x32 clip


_EXPORT = textwrap.dedent("""
    import json, resource, sys, torch, engine
    torch.set_num_threads(2)
    G = engine.load_generator(sys.argv[1], device="cpu")
    video = engine.Video(G, content=1, motion=1, batch_size=64)
    n = engine.export_video(video, sys.argv[2], duration_s=float(sys.argv[3]), fps=240, quality=5)
    print(json.dumps({"frames": n, "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
""")


def _export_in_subprocess(model, out, seconds):
    res = subprocess.run(
        [sys.executable, "-c", _EXPORT, str(model), str(out), str(seconds)], check=True, capture_output=True, text=True
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_long_export_exact_count_and_constant_memory(tiny_model_file, tmp_path):
    short = _export_in_subprocess(tiny_model_file, tmp_path / "short.mp4", 6.0)
    long = _export_in_subprocess(tiny_model_file, tmp_path / "long.mp4", 60.0)
    assert short["frames"] == 6 * 240 and long["frames"] == 60 * 240
    assert probe_video(tmp_path / "long.mp4")["frames"] == 60 * 240
    assert long["peak_kb"] <= 1.2 * short["peak_kb"], (short, long)
