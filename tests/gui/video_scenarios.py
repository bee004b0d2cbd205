"""GUI scenarios for projecting a video in the Project panel, run inside the real app by the imgui test engine.

tests/test_app_video_gui.py writes `clip.mp4` into SGV_TEST_TMP first: 36 frames (t = 0..35, 25 fps) the tiny
model renders from content seed 5 under motion seed 3. SGV_TEST_SCREENSHOTS (a folder) saves screenshots.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
from imgui_bundle import imgui

sys.path.insert(0, str(Path(__file__).parent))  # the app loads this file by path; share the Project helpers
from edit_scenarios import TMP, codes, frame_matches, panel, psnr, screenshot, wait_job  # noqa: E402


def startup(ctx, h):
    app = h.app
    h.wait_until(ctx, lambda: app.view.model is not None and frame_matches(app), 60, "model + first frame")
    h.wait_until(ctx, lambda: codes(app) is not None, 30, "the start content's codes")
    h.record("startup", seconds=time.perf_counter() - h.started)


def project_clip(ctx, h):
    """Choose clip.mp4 in the file dialog, 32 frames, pixel loss; watch target | fit while it runs; Accept."""
    app, s = h.app, h.app.state
    pp = panel(app, "Project")
    before = (s.content, s.motion)
    ctx.window_focus("//Project")
    ctx.yield_(2)
    ctx.item_click("//Project/Browse...")
    ctx.yield_(2)
    path = str(TMP / "clip.mp4")
    ctx.item_input_value("//Open image or video/File name", path)
    h.wait_until(ctx, lambda: pp.image_path == path, 10, "the chosen clip in the panel")
    ctx.yield_(2)  # the video fields appear
    ctx.item_input_value("//Project/Frames", 32)
    ctx.item_click("//Project/pixel")
    ctx.item_input_value("//Project/Steps", int(os.environ.get("SGV_TEST_PROJECT_STEPS", "30")))
    ctx.item_click("//Project/Project")
    h.wait_until(ctx, lambda: pp.live is not None and pp.live.step >= 2, 90, "the first projection steps")
    live = pp.live
    screenshot(ctx, "project-video-running")
    job = wait_job(ctx, h, pp, 240, "the video projection job")
    r = pp.result
    screenshot(ctx, "project-video-result")
    ctx.item_click("//Project/Accept")
    h.wait_until(ctx, lambda: frame_matches(app) and s.content != before[0], 30, "the projected clip's frame")
    shown = app.view.frame.image.copy()
    tl = s.timeline
    accepted = dict(
        label=s.content.label,
        motion_seed=s.motion.seed,
        anchors=s.motion.edited_anchors,
        result_anchors=sorted(r.overrides),
        loop=(tl.loop_start, tl.loop_end),
        t=tl.t,
        codes_equal_result=bool(np.array_equal(codes(app), r.ws)),
        viewport_psnr_vs_reconstruction=psnr(shown, r.reconstruction[0]),
    )
    ctx.key_press(imgui.Key.mod_ctrl | imgui.Key.z)
    h.wait_until(ctx, lambda: frame_matches(app), 30, "the frame after undo")
    h.record(
        "project_clip",
        state=job.state.value,
        error=job.error,
        live_target_shape=list(live.target.shape),
        live_preview_shape=list(live.preview.shape),
        live_frame=live.terms.get("frame"),
        steps=r.steps,
        frames=len(r.targets),
        time_range=list(r.time_range),
        psnr=r.psnr_db,
        undo_restores=s.content == before[0] and s.motion == before[1],
        **accepted,
    )


def register(h):
    from imgui_bundle import hello_imgui

    io = imgui.test_engine.get_io(hello_imgui.get_imgui_test_engine())
    io.config_watchdog_warning, io.config_watchdog_kill_test = 120.0, 300.0
    for fn in (startup, project_clip):
        h.add(fn.__name__, fn)
