"""GUI scenarios run inside the real app by the imgui test engine (app/gui_testing.py).

Each scenario drives widgets by their labels, waits for the renderer, and records what it saw; the
assertions live in tests/test_app_gui.py, which reads the report. Scenarios share one app launch (cheaper
than one launch each) but not their state: each waits for the app to be ready and starts from what it needs
(a fresh content/motion pair where it edits), so any order passes (tests/test_app_gui.py runs them reversed).

Environment: SGV_TEST_TMP (a folder for files), SGV_TEST_SLOW=1 (renderer slowed: only `responsive` runs).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
from imgui_bundle import imgui

from app.state import Content, Motion

sys.path.insert(0, str(Path(__file__).parent))  # the app loads this file by path; share the scenario helpers
from scenario_helpers import frame_matches  # noqa: E402

TMP = Path(os.environ.get("SGV_TEST_TMP", "/tmp"))
SLOW = os.environ.get("SGV_TEST_SLOW") == "1"


def jump(ctx, h, t) -> np.ndarray:
    """Type t into the timeline's field, press Enter, wait for that frame; returns a copy of it."""
    ctx.item_input_value("//Timeline/t (frames)", str(t))
    h.wait_until(ctx, lambda: frame_matches(h.app), what=f"the frame at t={t}")
    return h.app.view.frame.image.copy()


def show_t(ctx, h, t) -> np.ndarray:
    """Move the playhead without the widget (for scenarios that test something else); wait for the frame."""
    h.app.state.timeline.set_t(t)
    h.wait_until(ctx, lambda: frame_matches(h.app), what=f"the frame at t={t}")
    return h.app.view.frame.image.copy()


def ready(ctx, h) -> None:
    """The model and a first frame are on screen (the first scenario to run waits for the startup)."""
    app = h.app
    h.wait_until(ctx, lambda: app.view.model is not None and app.view.frame is not None, 60, "model + first frame")


def fresh_pair(ctx, h, motion_seed: int) -> None:
    """Start from content seed 0 with a motion seed no other scenario uses, so no edit of theirs is on it."""
    h.app.state.set_pair(Content.from_seed(0), Motion(motion_seed), f"fresh motion {motion_seed}")
    h.wait_until(ctx, lambda: frame_matches(h.app), what="the fresh pair's frame")


def edit_motion(ctx, h, anchor: int) -> None:
    """Select `anchor` (playhead on it) and move the Motion panel's dir 1 slider to 2.5."""
    app = h.app
    show_t(ctx, h, anchor * app.view.model.delta_z)
    h.wait_until(ctx, lambda: app.view.anchor_code(app.state.motion.seed, anchor) is not None, what="anchor codes")
    ctx.item_input_value("//Motion/dir 1", 2.5)
    h.wait_until(ctx, lambda: frame_matches(app), what="the edited frame")


def click_content_cell(ctx, h, cell: int) -> int:
    """Click a cell of the Content grid; returns the seed it shows."""
    app = h.app
    panel = next(p for p in app.panels if p.name == "Content")
    h.wait_until(ctx, lambda: "content_grid" in app.view.thumbs, 30, "content grid thumbnails")
    expected = panel.grid_seeds()[cell]
    ctx.item_click(f"//Content/cell {cell}")
    h.wait_until(ctx, lambda: frame_matches(app), what="the frame of the clicked content")
    h.wait_until(ctx, lambda: app.state.codes_of(app.state.content) is not None, what="its W+ codes")
    return expected


def ruler_points(ctx, fractions):
    rect = ctx.item_info("//Timeline/ruler").rect_full
    y = (rect.min.y + rect.max.y) / 2
    return rect, [imgui.ImVec2(rect.min.x + f * (rect.max.x - rect.min.x), y) for f in fractions]


# ----------------------------------------------------------------------------------------------------


def startup(ctx, h):
    app = h.app
    ready(ctx, h)
    h.wait_until(ctx, lambda: app.view.directions is not None, 30, "motion directions")
    info = app.view.model
    h.record(
        "startup",
        seconds=time.perf_counter() - h.started,
        model=info.path,
        delta_z=info.delta_z,
        native_fps=info.native_fps,
        resolution=info.resolution,
        frame_shape=list(app.view.frame.image.shape),
    )


def scrub(ctx, h):
    app = h.app
    ready(ctx, h)
    tl = app.state.timeline
    shown0 = app.view.frames_shown
    image0 = app.view.frame.image.copy()
    rect, (a, b, c) = ruler_points(ctx, [0.2, 0.5, 0.75])
    ctx.mouse_move_to_pos(a)
    ctx.mouse_down(0)
    seen = [tl.t]
    for p in (b, c):
        ctx.mouse_move_to_pos(p)
        ctx.yield_(2)
        seen.append(tl.t)
    ctx.mouse_up(0)
    expected = tl.view_start + 0.75 * tl.view_span
    h.wait_until(ctx, lambda: frame_matches(app), what="the frame after the scrub")
    h.record(
        "scrub",
        ts_during=seen,
        t=tl.t,
        expected_t=expected,
        frame_t=app.view.frame.request.t,
        new_frames=app.view.frames_shown - shown0,
        changed=not np.array_equal(image0, app.view.frame.image),
        px_per_t=(rect.max.x - rect.min.x) / tl.view_span,
    )


def type_t(ctx, h):
    app = h.app
    ready(ctx, h)
    image = jump(ctx, h, "1e6")
    tl = app.state.timeline
    h.record(
        "type_t",
        t=tl.t,
        frame_t=app.view.frame.request.t,
        on_ruler=tl.view_start <= tl.t <= tl.view_start + tl.view_span,
        finite=bool(np.isfinite(image).all()),
        mean=float(image.mean()),
        std=float(image.std()),
    )


def play(ctx, h):
    app = h.app
    ready(ctx, h)
    tl = app.state.timeline
    show_t(ctx, h, 0.0)
    tl.fps = 20
    ctx.item_click("//Timeline/Play")
    shown = []

    def enough():
        fr = app.view.frame
        if fr is not None and (not shown or shown[-1] != fr.request.t):
            shown.append(fr.request.t)
        return len(shown) >= 12

    waited = h.wait_until(ctx, enough, 30, "12 frames of playback")
    playing = tl.playing
    ctx.item_click("//Timeline/Pause")
    native = app.view.model.native_fps
    h.record(
        "play",
        shown=shown,
        seconds=waited,
        playing_during=playing,
        playing_after=tl.playing,
        step=tl.time_scale * native / tl.fps,
        fps=tl.fps,
        achieved_fps=app.view.achieved_fps(),
        prefetched=app.renderer.stats().prefetched,
    )


def motion_slider(ctx, h):
    app = h.app
    ready(ctx, h)
    fresh_pair(ctx, h, 101)
    dz = app.view.model.delta_z
    anchor = 4
    times = {
        "anchor": anchor * dz,
        "inside": (anchor + 0.6) * dz,
        "left_edge": (anchor - 1) * dz,
        "outside": (anchor + 2.4) * dz,
        "far": 1e6 + 3.3,
    }
    before = {k: show_t(ctx, h, t) for k, t in times.items()}
    show_t(ctx, h, times["anchor"])
    selected = app.state.selected_anchor
    edit_motion(ctx, h, anchor)
    after = {k: show_t(ctx, h, t) for k, t in times.items()}
    h.record(
        "motion_slider",
        selected=selected,
        edited=app.state.motion.edited_anchors,
        changed={k: not np.array_equal(before[k], after[k]) for k in times},
        max_diff={k: int(np.abs(before[k].astype(int) - after[k].astype(int)).max()) for k in times},
        times=times,
    )


def content_cell(ctx, h):
    app = h.app
    ready(ctx, h)
    expected = click_content_cell(ctx, h, 4)
    h.record(
        "content_cell",
        seed=app.state.content.seed,
        expected=expected,
        frame_seed=app.view.frame.request.content.seed,
        history=[c.label for c in app.state.history],
    )


def undo_redo(ctx, h):
    """Three edits on a fresh pair: the motion slider, a content cell, and ψ; undo them all, redo them all."""
    app = h.app
    s = app.state
    ready(ctx, h)
    fresh_pair(ctx, h, 202)
    edit_motion(ctx, h, 4)
    click_content_cell(ctx, h, 4)

    def snap():
        return s.content, s.motion, s.codes_of(s.content), {i: u.copy() for i, u in s.motion.overrides.items()}

    def same(x, y):
        return (
            x[0] == y[0]
            and x[1] == y[1]
            and np.array_equal(x[2], y[2])
            and set(x[3]) == set(y[3])
            and all(np.array_equal(x[3][i], y[3][i]) for i in x[3])
        )

    a = snap()
    ctx.item_input_value("//Content/psi (truncation)", 0.5)
    h.wait_until(ctx, lambda: frame_matches(app) and s.codes_of(s.content) is not None, what="ψ 0.5 codes")
    b = snap()
    ctx.key_press(imgui.Key.mod_ctrl | imgui.Key.z)
    h.wait_until(ctx, lambda: frame_matches(app), what="the frame after undo")
    after_undo = snap()
    ctx.key_press(imgui.Key.mod_ctrl | imgui.Key.z, 2)
    h.wait_until(ctx, lambda: frame_matches(app), what="the frame after two more undos")
    after_3_undos = snap()
    ctx.key_press(imgui.Key.mod_ctrl | imgui.Key.mod_shift | imgui.Key.z, 3)
    h.wait_until(ctx, lambda: frame_matches(app), what="the frame after redo")
    after_redo = snap()
    h.record(
        "undo_redo",
        psi_changed=not np.array_equal(a[2], b[2]),
        undo_exact=same(after_undo, a),
        edits_after_3_undos=sorted(after_3_undos[3]),
        redo_exact=same(after_redo, b),
        edited_anchors=sorted(b[3]),
    )


def swap(ctx, h):
    app = h.app
    s = app.state
    ready(ctx, h)
    for seed in (1, 2):  # two favourites, made through the state API (the Add favourite button is one click)
        s.set_pair(Content.from_seed(seed), Motion(10 + seed), f"seed {seed}")
        s.add_favourite()
    favs_before = [(f.content.seed, f.motion.seed) for f in s.favourites[-2:]]
    ctx.window_focus("//Mix")
    ctx.yield_(2)
    ctx.item_click("//Mix/Swap motions")
    favs_after = [(f.content.seed, f.motion.seed) for f in s.favourites[-2:]]
    h.wait_until(ctx, lambda: frame_matches(app), what="the swapped video")
    current = (s.content.seed, s.motion.seed)
    h.wait_until(ctx, lambda: "mix" in app.view.thumbs, 30, "mix grid thumbnails")
    panel = next(p for p in app.panels if p.name == "Mix")
    ctx.item_click("//Mix/mix 1 0")
    h.wait_until(ctx, lambda: frame_matches(app), what="the mix cell's video")
    h.record(
        "swap",
        before=favs_before,
        after=favs_after,
        current_after_swap=current,
        cell=(s.content.seed, s.motion.seed),
        cell_expected=(panel.columns(s)[0].seed, panel.motion_base + 1),
    )


def export(ctx, h):
    app = h.app
    ready(ctx, h)
    out = TMP / "export.mp4"
    first = show_t(ctx, h, 8.0)
    panel = next(p for p in app.panels if p.name == "Export")
    panel.duration_s, panel.fps = 2.0, 10
    ctx.window_focus("//Export")
    ctx.item_input_value("//Export/Output", str(out))
    ctx.item_click("//Export/Export")
    h.wait_until(
        ctx, lambda: app.jobs.latest("export") is not None and app.jobs.latest("export").finished, 120, "the export job"
    )
    job = app.jobs.latest("export")
    np.save(TMP / "export_first_frame.npy", first)
    h.record("export", state=job.state.value, error=job.error, result=job.result, path=str(out))


def bad_checkpoint(ctx, h):
    app = h.app
    ready(ctx, h)
    bad = TMP / "bad.safetensors"
    bad.write_bytes(b"this is not a model" * 10)
    fingerprint = app.view.model.fingerprint
    ctx.window_focus("//Model")
    ctx.item_click("//Model/Open checkpoint...")
    ctx.item_input_value("//Open checkpoint/File name", str(bad))
    h.wait_until(ctx, lambda: app.view.model_error is not None, 30, "the model error")
    error = app.view.model_error
    show_t(ctx, h, 12.5)  # still rendering with the old model
    app.hooks.inject_drop([str(TMP / "notes.txt")])
    ctx.yield_(3)
    h.record(
        "bad_checkpoint",
        error=error,
        fingerprint_kept=app.view.model.fingerprint == fingerprint,
        frame_t=app.view.frame.request.t,
        last_message=app.messages[-1][1],
    )


def responsive(ctx, h):
    """With the renderer slowed to 500 ms a frame, scrub: the UI keeps its frame rate, the last t wins."""
    app = h.app
    tl = app.state.timeline
    h.wait_until(ctx, lambda: app.view.model is not None and app.view.frame is not None, 60, "model + first frame")

    def frames(n, interval, code):
        for _ in range(n):
            t0 = time.perf_counter()
            ctx.yield_()
            interval.append((time.perf_counter() - t0) * 1000)
            code.append(float(app.view.perf.app_ms[-1]))

    idle_ms, idle_code = [], []
    frames(15, idle_ms, idle_code)  # baseline: same window, renderer busy with thumbnails but no scrub
    _, points = ruler_points(ctx, [0.1 + 0.05 * k for k in range(17)])
    scrub_ms, scrub_code, requested = [], [], []
    ctx.mouse_move_to_pos(points[0])
    ctx.mouse_down(0)
    renders0 = app.renderer.stats().frames_rendered
    scrub_t0 = time.perf_counter()
    for p in points[1:]:
        # One UI frame per position (no_yield): the scrub outpaces a 500 ms renderer even on slow software GL.
        ctx.mouse_teleport_to_pos(p, imgui.test_engine.TestOpFlags_.no_yield)
        frames(1, scrub_ms, scrub_code)
        requested.append(tl.t)
    ctx.mouse_up(0)
    scrub_s = time.perf_counter() - scrub_t0
    released = time.perf_counter()
    while not frame_matches(app) and time.perf_counter() - released < 15:
        frames(1, scrub_ms, scrub_code)
    h.record(
        "responsive",
        idle_ms=idle_ms,
        idle_code_ms=idle_code,
        scrub_ms=scrub_ms,
        scrub_code_ms=scrub_code,
        last_requested=requested[-1],
        t=tl.t,
        frame_t=app.view.frame.request.t,
        settle_s=time.perf_counter() - released,
        renders=app.renderer.stats().frames_rendered - renders0,
        positions=len(requested),
        scrub_s=scrub_s,
    )


def register(h):
    if SLOW:
        h.add("responsive", responsive)
        return
    for fn in (startup, scrub, type_t, play, motion_slider, content_cell, undo_redo, swap, export, bad_checkpoint):
        h.add(fn.__name__, fn)
