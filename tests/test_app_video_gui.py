"""GUI test of projecting a video in the Project panel: the real app under Xvfb on the tiny model, driven by the
imgui test engine (tests/gui/video_scenarios.py): choose a clip in the file dialog, watch target | fit while it
runs, Accept (content + fitted motion, the loop spans the clip), undo."""

from __future__ import annotations

import numpy as np
import pytest
from gui_fixtures import launch, scenario

import engine
from engine.edit.video_projection import render_times, write_video_frames
from engine.latents import from_seed

pytestmark = pytest.mark.gui
STEPS = 30


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_model_file) -> dict:
    tmp = tmp_path_factory.mktemp("video-gui")
    G = engine.load_generator(tiny_model_file, device="cpu")
    write_video_frames(tmp / "clip.mp4", render_times(G, from_seed(G, 5, motion=3), np.arange(36.0)), 25.0)
    return launch("video_scenarios.py", tmp, tiny_model_file, env={"SGV_TEST_PROJECT_STEPS": str(STEPS)}, timeout_s=400)


def test_project_a_clip_accept_and_undo(run):
    scenario(run, "startup")
    d = scenario(run, "project_clip")
    assert d["state"] == "done", d["error"]
    assert d["live_target_shape"] == d["live_preview_shape"] == [32, 32, 3] and d["live_frame"] is not None
    assert d["steps"] == STEPS and d["frames"] == 32 and d["time_range"] == [0.0, 31.0]
    assert d["label"] == "projection of clip.mp4" and d["codes_equal_result"]
    assert d["anchors"] == d["result_anchors"] == [-1, 0, 1, 2, 3] and d["motion_seed"] == 0
    assert d["loop"] == [0.0, 31.0] and d["t"] == 0.0, "the timeline's loop shows the clip's range"
    assert d["viewport_psnr_vs_reconstruction"] > 40, "the viewport shows the reconstruction at the clip's start"
    assert d["undo_restores"]
