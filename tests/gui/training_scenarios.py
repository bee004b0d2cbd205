"""GUI scenarios of training from the app (app/widgets/training.py), run inside the real app by the imgui test
engine; tests/test_app_training_gui.py launches the app and asserts on the report.

In order, in one launch: Train > Prepare dataset... on a folder of tiny mp4s; New run... on the result (tiny
preset, one step per tick); watch kimg advance; Stop; Resume; Load latest snapshot into the viewer; Stop; then
a run on a dataset whose frames break after the check: the crash is reported and the app keeps rendering.

Environment: SGV_TEST_TMP (inputs: videos/, broken/; outputs go there too), SGV_TEST_SCREENSHOTS (optional
folder: `import -window root` screenshots of the panel).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))  # the app loads this file by path; share the scenario helpers
from scenario_helpers import frame_matches  # noqa: E402

TMP = Path(os.environ.get("SGV_TEST_TMP", "/tmp"))
SHOTS = os.environ.get("SGV_TEST_SCREENSHOTS")
RUN_TIMEOUT_S = 90  # a training process start (torch import, data, model) takes ~5-15 s on a busy machine


def panel(app):
    return next(p for p in app.panels if p.name == "Training")


def screenshot(ctx, name: str) -> str | None:
    if not SHOTS:
        return None
    ctx.yield_(3)
    path = str(Path(SHOTS) / f"{name}.png")
    subprocess.run(["import", "-window", "root", path], check=False, timeout=30)
    return path


# ----------------------------------------------------------------------------------------------------


def startup(ctx, h):
    app = h.app
    h.wait_until(ctx, lambda: app.view.model is not None and app.view.frame is not None, 60, "model + first frame")
    h.record("startup", model=app.view.model.path)


def prepare(ctx, h):
    p = panel(h.app)
    ctx.menu_click("//##MainMenuBar/Train/Prepare dataset...")
    ctx.yield_(3)
    ctx.item_input_value("//Prepare dataset/Videos", str(TMP / "videos"))
    ctx.item_input_value("//Prepare dataset/Output", str(TMP / "prepared"))
    ctx.set_ref("//Prepare dataset")  # combo_click takes "combo/item" relative to the ref window
    ctx.combo_click("Resolution/32 x 32")
    ctx.item_click("//Prepare dataset/Prepare")
    h.wait_until(ctx, lambda: p.prepare.job is not None and p.prepare.job.finished, 120, "the prepare job")
    job = p.prepare.job
    fractions = job.progress.fraction
    shot = screenshot(ctx, "prepare-done")
    if job.result:
        ctx.item_click("//Prepare dataset/New run with this dataset...")
    h.record(
        "prepare",
        state=job.state.value,
        error=job.error,
        result=job.result,
        resolution=p.prepare.resolution,
        final_fraction=fractions,
        screenshot=shot,
    )


def new_run(ctx, h):
    """New run... (opened by the prepare dialog with its dataset), tiny options, Start; watch kimg advance."""
    p = panel(h.app)
    dlg = p.new_run
    h.wait_until(ctx, lambda: dlg.dataset_state()[0] in ("ok", "error"), 60, "the dataset check")
    checked = dlg.dataset_state()
    ctx.item_input_value("//New training run/kimg", 5.0)
    ctx.item_input_value("//New training run/Batch", 4)
    ctx.item_open("//New training run/Advanced")
    ctx.item_input_value("//New training run/Advanced/Tick kimg", 0.012)
    ctx.item_input_value("//New training run/Advanced/Snapshot kimg", 0.048)
    ctx.item_input_value("//New training run/Run folder", str(TMP / "runs" / "tiny"))
    shot_dialog = screenshot(ctx, "new-run-dialog")
    ctx.item_click("//New training run/Start")
    h.wait_until(ctx, lambda: p.selected is not None and p.selected.status.value != "not started", 10, "the launch")
    run = p.selected
    t0 = time.perf_counter()
    seen: list[float] = []

    def advanced() -> bool:
        if run.kimg and (not seen or seen[-1] != run.kimg):
            seen.append(run.kimg)
        return len(seen) >= 3

    h.wait_until(ctx, advanced, RUN_TIMEOUT_S, "kimg to advance three ticks")
    shot = screenshot(ctx, "training-running")
    h.record(
        "new_run",
        dataset_state=list(checked),
        spec_args=dlg.spec().args(),
        run_dir=str(run.run_dir),
        status=run.status.value,
        kimg_seen=seen,
        seconds_to_three_ticks=time.perf_counter() - t0,
        total_kimg=run.total_kimg,
        fraction=run.fraction,
        plotted=len(run.series.get("loss_G", ([], []))[0]),
        screenshots=[shot_dialog, shot],
    )


def stop_resume_load(ctx, h):
    app, p = h.app, panel(h.app)
    run = p.selected
    ctx.window_focus("//Training")
    ctx.item_click("//Training/Stop")
    stopping = run.status.value
    h.wait_until(ctx, lambda: not run.status.active, RUN_TIMEOUT_S, "the graceful stop")
    stopped = {"status": run.status.value, "exit": run.exit_code, "kimg": run.kimg, "model": str(run.latest_model)}
    stopped["grid"] = run.grid_image is not None
    ctx.item_click("//Training/Resume")
    resumed_status = run.status.value
    h.wait_until(ctx, lambda: run.status.value == "running" and run.kimg > stopped["kimg"], RUN_TIMEOUT_S, "resume")
    resumed_kimg = run.kimg
    shot = screenshot(ctx, "training-resumed")

    s = app.state
    s.timeline.set_t(7.5)
    h.wait_until(ctx, lambda: frame_matches(app), 30, "a frame at t=7.5")
    before = {"t": s.timeline.t, "content": s.content.label, "motion": s.motion.seed, "fp": app.view.model.fingerprint}
    ctx.item_click("//Training/Load latest snapshot")
    snapshot = p.loaded_snapshot  # the newest when clicked (a run snapshots every 4 ticks here)
    h.wait_until(ctx, lambda: app.view.model is not None and app.view.model.path == snapshot, 60, "the snapshot")
    h.wait_until(ctx, lambda: frame_matches(app) and app.view.frame.stamp > 0, 30, "a frame of the snapshot")
    after = {"t": s.timeline.t, "content": s.content.label, "motion": s.motion.seed, "fp": app.view.model.fingerprint}
    frame_fp_ok = app.view.model.fingerprint == app.state.model_fingerprint

    ctx.item_click("//Training/Stop")
    h.wait_until(ctx, lambda: not run.status.active, RUN_TIMEOUT_S, "the second stop")
    h.record(
        "stop_resume_load",
        stopping=stopping,
        stopped=stopped,
        resumed_status=resumed_status,
        resumed_kimg=resumed_kimg,
        final={"status": run.status.value, "exit": run.exit_code, "kimg": run.kimg, "model": str(run.latest_model)},
        snapshot=snapshot,
        before=before,
        after=after,
        frame_fp_ok=frame_fp_ok,
        messages=[m for _, m, _ in app.messages],
        screenshot=shot,
    )


def crash(ctx, h):
    """A dataset whose frames 1.. are damaged: the check (which reads frame 0) passes, training crashes."""
    app, p = h.app, panel(h.app)
    dlg = p.new_run
    ctx.menu_click("//##MainMenuBar/Train/New run...")
    ctx.yield_(3)
    ctx.item_click("//New training run/Browse...##Dataset")  # the in-app file dialog, nested in the modal
    ctx.yield_(2)
    ctx.item_input_value("//Dataset/File name", str(TMP / "broken"))  # a folder: Enter picks it
    h.wait_until(ctx, lambda: dlg.dataset_state()[0] in ("ok", "error"), 60, "the dataset check")
    checked = dlg.dataset_state()
    ctx.item_input_value("//New training run/Run folder", str(TMP / "runs" / "broken"))
    ctx.item_click("//New training run/Start")
    h.wait_until(ctx, lambda: p.selected is not None and p.selected.run_dir.name == "broken", 10, "the launch")
    run = p.selected
    h.wait_until(ctx, lambda: not run.status.active, RUN_TIMEOUT_S, "the crash")
    ctx.yield_(3)  # the panel's emit forwards the crash to the status bar
    shot = screenshot(ctx, "training-crashed")
    shown = app.view.frames_shown
    app.state.timeline.set_t(3.25)
    h.wait_until(ctx, lambda: frame_matches(app), 30, "a frame after the crash")
    h.record(
        "crash",
        dataset_state=list(checked),
        picked=dlg.data,
        status=run.status.value,
        exit=run.exit_code,
        error=run.error,
        note=run.note,
        messages=[m for _, m, _ in app.messages],
        new_frames=app.view.frames_shown - shown,
        frame_t=app.view.frame.request.t,
        runs=[(r.name, r.status.value) for r in p.runs.runs],
        screenshot=shot,
    )


def register(h):
    for fn in (startup, prepare, new_run, stop_resume_load, crash):
        h.add(fn.__name__, fn)
