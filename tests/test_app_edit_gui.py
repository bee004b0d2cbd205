"""GUI tests of the Project and Edit panels: the real app under Xvfb on a tiny model, driven by the imgui test
engine (tests/gui/edit_scenarios.py). One launch runs every scenario; each test checks one of them.

Inputs the test writes: a frame the tiny model rendered at t = 0 from a known content seed under the app's
start motion (seed 0), and a tiny random open_clip model (tests/edit_helpers.py) loaded through the real
loading path. Weights caches point into the temp folder, so the default CLIP is missing, as offline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from edit_helpers import tiny_clip_files
from gui_fixtures import launch, scenario

import engine
from engine.media import write_image

pytestmark = pytest.mark.gui
CONTENT_SEED = 5
PROJECT_STEPS = 25
EDIT_STEPS = 10


def write_inputs(tmp: Path, model: Path) -> None:
    G = engine.load_generator(model, device="cpu")
    video = engine.Video(G, content=CONTENT_SEED, motion=engine.MotionCodes(seed=0))
    frame = video.frames_uint8([0.0])[0]  # [H, W, 3]
    write_image(tmp / "frame.png", frame)
    np.save(tmp / "frame_target.npy", frame)
    tiny_clip_files(tmp)


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_model_file) -> dict:
    tmp = tmp_path_factory.mktemp("edit-gui")
    write_inputs(tmp, tiny_model_file)
    env = {"SGV_TEST_PROJECT_STEPS": str(PROJECT_STEPS), "SGV_TEST_EDIT_STEPS": str(EDIT_STEPS)}
    # SGV_WEIGHTS_DIR dropped: the default CLIP must be missing, as on an offline machine.
    return launch("edit_scenarios.py", tmp, tiny_model_file, env=env, drop_env=["SGV_WEIGHTS_DIR"], timeout_s=400)


def test_panels_are_registered(run):
    d = scenario(run, "startup")
    assert "Project" in d["panels"] and "Edit" in d["panels"]
    assert run["cwd_files"] == [], "nothing may be written to the working directory"


def test_project_a_rendered_frame_and_accept(run):
    d = scenario(run, "project")
    assert d["state"] == "done", d["error"]
    assert d["loss"] == "pixel" and d["loss_label"].startswith("pixel") and d["fallback"] is None
    assert d["steps"] == d["num_steps"] == PROJECT_STEPS and len(d["losses"]) == PROJECT_STEPS
    assert d["target_equals_file"], "the model sees the written frame unchanged (same size, lossless PNG)"
    assert min(d["losses"][-5:]) < 0.5 * d["losses"][0], "the loss falls"
    assert d["psnr"] > d["first_psnr"] + 2.0, (d["first_psnr"], d["psnr"])
    # The accepted content is the projection: in the history, in the viewport at t = 0, undoable.
    assert d["content_label"] == "projection of frame.png" and d["content_source"] == "projection"
    assert d["history"][0] == "projection of frame.png" and d["before"] in d["history"]
    assert d["codes_equal_result"] and d["t"] == 0.0 and d["viewport_changed"]
    assert d["viewport_psnr_vs_reconstruction"] > 40, "the viewport's frame at t = 0 is the reconstruction"
    assert d["viewport_psnr_vs_target"] == pytest.approx(d["psnr"], abs=0.5)
    assert d["undo_label"] == "projection of frame.png"


def test_accepted_projection_plays(run):
    d = scenario(run, "animate")
    assert d["playing"] and d["paused"] and d["label"] == "projection of frame.png"
    assert len(set(d["shown_t"])) >= 4 and np.all(np.diff(d["shown_t"]) > 0)


def test_bad_image_is_one_error_line_and_the_app_lives_on(run):
    d = scenario(run, "bad_image")
    assert d["state"] == "failed"
    assert "bad.png" in d["error"] and "\n" not in d["error"] and "internal error" not in d["error"]
    assert d["content_kept"] and d["result_kept"] and d["frame_t"] == 3.25


def test_stop_keeps_codes_and_cancel_discards(run):
    d = scenario(run, "stop_and_cancel")
    assert d["cancelled"] == "cancelled" and d["result_kept_after_cancel"]
    assert d["stopped"] == "done" and 3 <= d["stopped_steps"] < d["stopped_num_steps"] == 100000
    assert d["content_kept"]


def test_default_clip_offline_names_the_fetch_command(run):
    d = scenario(run, "clip_offline")
    assert d["model"] == "ViT-B-32"
    assert "sgv weights fetch clip-vit-b-32-openai" in d["problem"] and "\n" not in d["problem"]


def test_edit_with_tiny_clip_accept_undo_redo(run):
    d = scenario(run, "edit")
    assert d["problem"] is None and d["state"] == "done", d["error"]
    assert d["steps"] == EDIT_STEPS and d["clip_label"] == "tiny-clip/tiny-clip.pt"
    assert d["clip_after"] < d["clip_before"], "the (noise-free) CLIP loss falls"
    assert d["label"] == "edit: a red square" and d["accepted_is_edit"] and d["codes_changed"]
    assert d["edited_frame_differs"] and d["motion_kept"]
    assert d["undo_exact"], "undo restores the exact latents"
    assert d["redo_exact"]
    assert d["history"][0] == "edit: a red square"


def test_saved_direction_slider_and_undo(run):
    d = scenario(run, "directions")
    assert d["exists"] and Path(d["path"]).parent == Path(run["tmp"]) / "data" / "sgv-studio" / "directions"
    assert d["direction_name"] == "a red square" and d["changed"]
    assert d["max_err"] < 1e-5, "content = base + 0.5 · direction"
    assert d["history_top"].endswith("a red square +0.50")
    assert d["undo_exact"] and d["slider_after_undo"] == 0.0
