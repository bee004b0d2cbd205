"""GUI tests: switching models (the viewport shows each model's frame; work that does not fit another model's
shapes is kept for its own model), fractional frame rates in the timeline and export, the Prepare dataset
output field and the file dialog's layout. The real app under Xvfb, driven by tests/gui/model_scenarios.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from gui_fixtures import launch, scenario

import engine
from engine.config import override, preset
from engine.media import read_video

pytestmark = pytest.mark.gui


def other_model(path: Path) -> None:
    """16 px, W+ [6, 24], motion codes u 16-d: nothing made with the tiny preset fits it."""
    cfg = override(preset("tiny", resolution=16), **{"generator.motion.v_dim": 16, "generator.mapping.w_dim": 24})
    engine.save_generator(engine.build_generator(cfg.generator, seed=1), path)


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_model_file) -> dict:
    tmp = tmp_path_factory.mktemp("model-gui")
    other_model(tmp / "other.safetensors")
    return launch("model_scenarios.py", tmp, tiny_model_file, timeout_s=400)


def test_viewport_shows_each_models_frame(run):
    """Seed, ψ, t and motion unchanged: every model change still puts the new model's frame on screen."""
    steps = scenario(run, "model_switch_seed")["steps"]
    assert steps["a"]["vs_a"] < 8, "the capture shows the rendered frame"
    b = steps["b"]
    assert b["model_error"] is None and b["frame_error"] is None
    assert b["vs_b"] < 8 < b["vs_a"], f"B's frame on screen, not A's: {b}"
    again = steps["a_again"]
    assert again["same_frame_as_before"] and again["vs_a"] < 8 < again["vs_b"], f"A's frame again: {again}"


def test_model_with_other_shapes_keeps_settings_and_parks_what_does_not_fit(run):
    scenario(run, "model_switch_edited")
    steps = scenario(run, "model_switch_back")["steps"]
    edited = steps["a_edited"]
    assert edited["content"][2] and edited["edited_anchors"] == [2] and "made with A" in edited["favourites"]
    b = steps["b_edited"]
    assert b["model_error"] is None and b["frame_error"] is None and not b["errors"], b
    assert b["frame_fingerprint_ok"] and b["vs_b"] < 8, "no stale frame: B's frame is on screen"
    assert b["content"] == [3, pytest.approx(0.8), False], "seed and ψ kept, content re-derived from the seed"
    assert b["motion_seed"] == 7 and b["edited_anchors"] == [], "motion seed kept, edits of A's codes set aside"
    assert b["playing_kept"] and b["fps"] == 20 and 20.5 < b["t_after_load"] < 200, "t and playback go on"
    assert "codes of A" not in b["history"] and "made with A" not in b["favourites"]
    notes = [m for m in b["messages"] if "kept" in m]
    assert len(notes) == 1 and "\n" not in notes[0], b["messages"]
    back = steps["a_restored"]
    assert back["model_error"] is None and back["frame_error"] is None
    assert "codes of A" in back["history"] and "made with A" in back["favourites"], "A's work comes back with A"


def test_fractional_frame_rates(run):
    d = scenario(run, "fractional_fps")
    step = d["native_fps"] / 7.5
    assert d["fps_typed"] == 7.5 and d["fps_after_play"] == 7.5
    assert d["stepped"] == pytest.approx(step)
    k = (np.array(d["shown"]) - d["shown"][0]) / step
    assert np.allclose(k, np.round(k), atol=1e-6), f"playback on the 7.5 fps grid: {d['shown']}"
    for fps, frames in (("7.5", 15), ("29.97", 29)):
        e = d["exports"][fps]
        assert e["state"] == "done", e["error"]
        assert e["panel_fps"] == float(fps)
        video, read_fps = read_video(e["path"])
        assert video.shape[0] == frames and read_fps == pytest.approx(float(fps), abs=1e-3)
    assert d["session_fps"] == 23.976


def test_prepare_dataset_output_is_the_users_once_typed(run):
    d = scenario(run, "prepare_output")
    tmp = Path(run["tmp"])
    assert d["auto"] == str(tmp / "vids-64px"), "Output follows the videos folder"
    assert d["typed"] == str(tmp / "mine"), "typing into Output gives what was typed"
    assert d["after_repick"] == str(tmp / "mine") and d["src"] == str(tmp / "vids2")


def test_file_dialog_name_label_is_not_clipped(run):
    d = scenario(run, "file_dialog_label")
    assert d["field"][1] > d["field"][0] + 200, "the field is still wide"
    assert d["label_end"] <= d["clip_right"], f"the File name label runs past the dialog's edge: {d}"
