"""GUI tests of the cascade SR level in the app: open it from the Model panel (in-app file dialog), switch the
viewport between low-res / SR / side by side and check the pixels on screen against engine.cascade's frame,
a level that does not fit the base is one line, export through the level, SR off. The real app under Xvfb,
driven by tests/gui/sr_scenarios.py; the SR levels are tiny and random (engine.cascade's API).
"""

from __future__ import annotations

import pytest
import torch
from gui_fixtures import launch, scenario

from engine.cascade import SRGenerator, save_sr, sr_preset
from engine.media import read_video

pytestmark = pytest.mark.gui


def tiny_sr(base_resolution: int) -> SRGenerator:
    cfg = sr_preset("sr-tiny", base_resolution=base_resolution, scale=2, window=2, native_fps=25.0)
    torch.manual_seed(0)
    G = SRGenerator(cfg.generator)
    with torch.no_grad():  # a trained level's residual is not zero: the SR frame differs from bicubic
        G.torgb.weight.normal_()
    return G.eval()


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_model_file) -> dict:
    tmp = tmp_path_factory.mktemp("sr-gui")
    save_sr(tiny_sr(32), tmp / "sr.safetensors")
    save_sr(tiny_sr(16), tmp / "sr16.safetensors")
    return launch("sr_scenarios.py", tmp, tiny_model_file, timeout_s=400)


def test_sr_views_show_the_cascade_frame(run):
    d = scenario(run, "sr_open_and_views")
    assert d["sr_name"] == "sr.safetensors" and d["sr_resolution"] == 64
    sr = d["sr"]
    assert sr["shape"] == [64, 64, 3] and sr["low_shape"] == [32, 32, 3]
    assert sr["max_vs_cascade"] <= 1, "the SR frame is engine.cascade's frame at that t"
    assert sr["panes"] == ["SR"]
    assert sr["shown_vs_sr"] < 8 < sr["shown_vs_low"], f"the SR frame is on screen, not the low-res one: {sr}"
    side = d["side"]
    assert side["panes"] == ["low-res", "SR"] and side["same_size"]
    assert side["left_vs_low"] < 8 and side["right_vs_sr"] < 8, side
    low = d["low"]
    assert low["panes"] == ["low-res"] and low["shown_vs_low"] < 8, low


def test_sr_level_that_does_not_fit_is_one_line_and_the_level_stays(run):
    d = scenario(run, "sr_mismatch")
    assert d["kept"], "the current SR level stays"
    assert "sr16.safetensors" in d["error"] and "16x16 input" in d["error"] and "\n" not in d["error"]


def test_export_through_the_sr_level(run):
    d = scenario(run, "sr_export")
    assert d["state"] == "DONE", d["error"]
    video, _ = read_video(d["path"])
    assert d["size"] == 64 and video.shape[1:3] == (64, 64)


def test_sr_off(run):
    d = scenario(run, "sr_off")
    assert d["sr"] is None and d["panes"] == ["low-res"]


def test_new_sr_level_run_dialog(run):
    d = scenario(run, "sr_new_run_dialog")
    assert d["base"] == d["model"], "the base defaults to the model on screen"
    assert d["problems"] == [] and d["args"][0] == "train-sr" and d["args"][-1] == "--quiet"
    assert d["args"][d["args"].index("--base") + 1] == d["model"]
