"""GUI scenarios for the Project and Edit panels, run inside the real app by the imgui test engine.

tests/test_app_edit_gui.py writes the inputs into SGV_TEST_TMP first: `frame.png` (a frame the tiny model
rendered at t = 0 from content seed SGV_TEST_SEED under motion seed 0, the app's start motion) and a tiny
random open_clip model (`tiny-clip.json`, `tiny-clip.pt`). Scenarios run in order and build on each other.
SGV_TEST_SCREENSHOTS (a folder) makes them save screenshots of the whole screen (`import -window root`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from imgui_bundle import imgui

sys.path.insert(0, str(Path(__file__).parent))  # the app loads this file by path; share the scenario helpers
from scenario_helpers import frame_matches  # noqa: E402

TMP = Path(os.environ.get("SGV_TEST_TMP", "/tmp"))
SHOTS = os.environ.get("SGV_TEST_SCREENSHOTS")


def panel(app, name):
    return next(p for p in app.panels if p.name == name)


def codes(app) -> np.ndarray | None:
    c = app.state.codes_of(app.state.content)
    return None if c is None else np.array(c, copy=True)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def screenshot(ctx, name: str) -> None:
    if not SHOTS or shutil.which("import") is None:
        return
    ctx.yield_(3)  # let the window settle (textures uploaded, layout done)
    Path(SHOTS).mkdir(parents=True, exist_ok=True)
    subprocess.run(["import", "-window", "root", str(Path(SHOTS) / f"{name}.png")], check=False, timeout=30)


def wait_job(ctx, h, p, timeout_s=120.0, what="the job"):
    h.wait_until(ctx, lambda: p.job is not None and p.job.finished, timeout_s, what)
    ctx.yield_(2)  # the panel polls the finished job in its next draw
    return p.job


def open_image(ctx, h, path: Path) -> None:
    """Through the panel's Browse... button and the in-app file dialog (type the path, Enter)."""
    pp = panel(h.app, "Project")
    ctx.item_click("//Project/Browse...")
    ctx.yield_(2)
    ctx.item_input_value("//Open image or video/File name", str(path))
    h.wait_until(ctx, lambda: pp.image_path == str(path), 10, "the chosen image in the panel")


# ----------------------------------------------------------------------------------------------------


def startup(ctx, h):
    app = h.app
    h.wait_until(ctx, lambda: app.view.model is not None and frame_matches(app), 60, "model + first frame")
    h.wait_until(ctx, lambda: codes(app) is not None, 30, "the start content's codes")
    h.record("startup", seconds=time.perf_counter() - h.started, panels=[p.name for p in app.panels])


def project(ctx, h):
    """Open frame.png with the file dialog, project it (pixel loss, few steps), accept, see it in the viewport."""
    app, s = h.app, h.app.state
    pp = panel(app, "Project")
    before_content, before_image = s.content, app.view.frame.image.copy()
    ctx.window_focus("//Project")
    ctx.yield_(2)
    open_image(ctx, h, TMP / "frame.png")
    ctx.item_click("//Project/pixel")
    ctx.item_input_value("//Project/Steps", int(os.environ.get("SGV_TEST_PROJECT_STEPS", "40")))
    ctx.item_click("//Project/Project")
    h.wait_until(ctx, lambda: pp.live is not None and pp.live.step >= 1, 60, "the first projection step")
    first = pp.live
    job = wait_job(ctx, h, pp, 120, "the projection job")
    r = pp.result
    screenshot(ctx, "project-result")
    ctx.item_click("//Project/Accept")
    h.wait_until(ctx, lambda: frame_matches(app), 30, "the projected content's frame")
    shown = app.view.frame.image.copy()
    target = np.load(TMP / "frame_target.npy") if (TMP / "frame_target.npy").exists() else None
    h.record(
        "project",
        state=job.state.value,
        error=job.error,
        loss=pp.loss,
        steps=r.steps,
        num_steps=r.num_steps,
        losses=list(r.losses),
        first_psnr=r.psnrs[0],
        live_step=first.step,
        psnr=r.psnr_db,
        loss_label=r.loss_label,
        fallback=r.fallback_reason,
        target_equals_file=bool(target is not None and np.array_equal(target, r.target)),
        content_label=s.content.label,
        content_source=s.content.provenance.get("source"),
        codes_equal_result=bool(np.array_equal(codes(app), r.ws)),
        history=[c.label for c in s.history],
        before=before_content.label,
        t=s.timeline.t,
        viewport_psnr_vs_reconstruction=psnr(shown, r.reconstruction),
        viewport_psnr_vs_target=psnr(shown, r.target),
        viewport_changed=not np.array_equal(shown, before_image),
        undo_label=s.undo.undo_label,
    )


def animate(ctx, h):
    """After Accept the panel offers Play: the projected content plays in the viewport with the current motion."""
    app, tl = h.app, h.app.state.timeline
    tl.fps = 20
    ctx.item_click("//Project/Play")
    seen = []

    def enough():
        fr = app.view.frame
        if fr is not None and fr.request.content == app.state.content and (not seen or seen[-1] != fr.request.t):
            seen.append(fr.request.t)
        return len(seen) >= 4

    h.wait_until(ctx, enough, 30, "four played frames")
    playing = tl.playing
    ctx.item_click("//Project/Pause")
    h.record("animate", playing=playing, paused=not tl.playing, shown_t=seen, label=app.state.content.label)


def bad_image(ctx, h):
    """A damaged image dropped on the window: one error line in the panel, the content and the app unchanged."""
    app, s = h.app, h.app.state
    pp = panel(app, "Project")
    bad = TMP / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n this is not really an image")
    before = s.content
    app.hooks.inject_drop([str(bad)])
    h.wait_until(ctx, lambda: pp.image_path == str(bad), 10, "the dropped image in the panel")
    ctx.window_focus("//Project")
    ctx.item_click("//Project/Project")
    job = wait_job(ctx, h, pp, 60, "the failing projection")
    screenshot(ctx, "project-bad-image")
    s.timeline.set_t(3.25)  # the app still renders
    h.wait_until(ctx, lambda: frame_matches(app), 30, "a frame after the failure")
    h.record(
        "bad_image",
        state=job.state.value,
        error=job.error,
        content_kept=s.content == before,
        frame_t=app.view.frame.request.t,
        result_kept=pp.result is not None,
    )


def stop_and_cancel(ctx, h):
    """Stop keeps the best codes so far (a result with fewer steps); Cancel discards the run."""
    app, s = h.app, h.app.state
    pp = panel(app, "Project")
    before, previous = s.content, pp.result
    open_image(ctx, h, TMP / "frame.png")
    ctx.item_input_value("//Project/Steps", 100000)
    ctx.item_click("//Project/Project")
    h.wait_until(ctx, lambda: pp.live is not None and pp.live.step >= 3, 60, "three steps")
    ctx.item_click("//Project/Cancel##project")
    cancelled = wait_job(ctx, h, pp, 30, "the cancelled job")
    cancelled_state, result_after_cancel = cancelled.state.value, pp.result
    ctx.item_click("//Project/Project")
    h.wait_until(ctx, lambda: pp.live is not None and pp.live.step >= 3, 60, "three steps")
    ctx.item_click("//Project/Stop, keep result##project")
    stopped = wait_job(ctx, h, pp, 30, "the stopped job")
    h.record(
        "stop_and_cancel",
        cancelled=cancelled_state,
        result_kept_after_cancel=result_after_cancel is previous,
        stopped=stopped.state.value,
        stopped_steps=pp.result.steps,
        stopped_num_steps=pp.result.num_steps,
        content_kept=s.content == before,
    )
    ctx.item_input_value("//Project/Steps", 40)


def clip_offline(ctx, h):
    """The default CLIP (ViT-B-32 / openai) is not on this machine: one line naming the fetch command."""
    app = h.app
    ep = panel(app, "Edit")
    ctx.window_focus("//Edit")
    ctx.yield_(3)
    screenshot(ctx, "edit-clip-missing")
    h.record("clip_offline", problem=ep.clip_problem(time.perf_counter()), model=ep.clip_model)


def edit(ctx, h):
    """Tiny random CLIP from local files, run an edit, accept, undo (exact codes back), redo."""
    app, s = h.app, h.app.state
    ep = panel(app, "Edit")
    ctx.window_focus("//Edit")
    ctx.item_open("//Edit/CLIP model")
    ctx.item_input_value("//Edit/CLIP model/Model", str(TMP / "tiny-clip.json"))
    ctx.item_input_value("//Edit/CLIP model/Pretrained", str(TMP / "tiny-clip.pt"))
    ctx.item_input_value("//Edit/Prompt", "a red square")
    ctx.item_input_value("//Edit/Steps", int(os.environ.get("SGV_TEST_EDIT_STEPS", "15")))
    ctx.item_input_value("//Edit/L2 weight", 0.0)
    ctx.yield_(2)
    problem = ep.clip_problem(time.perf_counter())
    h.wait_until(ctx, lambda: codes(app) is not None, 30, "the content's codes")
    before_content, before_codes, before_motion = s.content, codes(app), s.motion
    ctx.item_click("//Edit/Run edit")
    job = wait_job(ctx, h, ep, 120, "the edit job")
    r = ep.result
    h.wait_until(
        ctx,
        lambda: (
            "edit_preview" in app.view.thumbs and app.view.thumbs["edit_preview"].request.cells[0][0].ws is not None
        ),
        30,
        "the strength preview",
    )
    screenshot(ctx, "edit-result")
    frame_before = app.view.frame.image.copy()
    ctx.item_click("//Edit/Accept")
    h.wait_until(ctx, lambda: frame_matches(app), 30, "the edited frame")
    accepted_content, accepted_codes = s.content, codes(app)
    edited_frame = app.view.frame.image.copy()
    ctx.key_press(imgui.Key.mod_ctrl | imgui.Key.z)
    h.wait_until(ctx, lambda: frame_matches(app), 30, "the frame after undo")
    undone_codes, undone_content = codes(app), s.content
    ctx.key_press(imgui.Key.mod_ctrl | imgui.Key.mod_shift | imgui.Key.z)
    h.wait_until(ctx, lambda: frame_matches(app), 30, "the frame after redo")
    h.record(
        "edit",
        problem=problem,
        state=job.state.value,
        error=job.error,
        clip_before=r.clip_before,
        clip_after=r.clip_after,
        clip_losses=list(r.clip_losses),
        distance=r.distance,
        steps=r.steps,
        clip_label=r.clip_label,
        label=accepted_content.label,
        accepted_is_edit=bool(np.array_equal(accepted_codes, r.edited_ws)),
        codes_changed=not np.array_equal(accepted_codes, before_codes),
        motion_kept=s.motion == before_motion,
        undo_exact=bool(np.array_equal(undone_codes, before_codes)) and undone_content == before_content,
        redo_exact=bool(np.array_equal(codes(app), r.edited_ws)),
        edited_frame_differs=not np.array_equal(edited_frame, frame_before),
        history=[c.label for c in s.history],
    )


def directions(ctx, h):
    """Save the edit as a direction; its slider adds strength · direction live; undo restores exact codes."""
    app, s = h.app, h.app.state
    ep = panel(app, "Edit")
    ctx.window_focus("//Edit")
    ctx.item_click("//Edit/Save direction")
    h.wait_until(ctx, lambda: bool(ep.directions), 10, "the saved direction")
    entry = ep.directions[-1]
    index = ep.directions.index(entry)
    base_codes, base_content = codes(app), s.content
    ctx.item_input_value(f"//Edit/{index}/{entry.name}", 0.5)
    h.wait_until(ctx, lambda: frame_matches(app) and s.content != base_content, 30, "the direction's frame")
    applied = codes(app)
    screenshot(ctx, "edit-directions")
    history_top = s.history[0].label
    ctx.key_press(imgui.Key.mod_ctrl | imgui.Key.z)
    h.wait_until(ctx, lambda: frame_matches(app), 30, "the frame after undo")
    h.record(
        "directions",
        path=entry.path,
        exists=Path(entry.path).is_file(),
        direction_name=entry.name,
        max_err=float(np.abs(applied - (base_codes + np.float32(0.5) * entry.delta)).max()),
        changed=not np.array_equal(applied, base_codes),
        history_top=history_top,
        undo_exact=bool(np.array_equal(codes(app), base_codes)) and s.content == base_content,
        slider_after_undo=ep.direction_state(s)[1].get(entry.path, 0.0),
    )


def register(h):
    from imgui_bundle import hello_imgui

    # Jobs run for tens of seconds on a busy 2-core machine; the engine's default watchdog aborts at 60 s.
    io = imgui.test_engine.get_io(hello_imgui.get_imgui_test_engine())
    io.config_watchdog_warning, io.config_watchdog_kill_test = 120.0, 300.0
    for fn in (startup, project, animate, bad_image, stop_and_cancel, clip_offline, edit, directions):
        h.add(fn.__name__, fn)
