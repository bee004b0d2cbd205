"""GUI scenarios for the cascade SR level in the app, run inside the real app by the imgui test engine;
tests/test_app_sr_gui.py launches the app on a tiny model and asserts on the report.

Environment: SGV_TEST_TMP (inputs: sr.safetensors fits the tiny model, sr16.safetensors was trained for
16² input; outputs go there too), SGV_TEST_SCREENSHOTS (optional folder: the side-by-side view).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from imgui_bundle.immapp.testing import capture
from PIL import Image

from app.state import Content, Motion

TMP = Path(os.environ.get("SGV_TEST_TMP", "/tmp"))
SHOTS = os.environ.get("SGV_TEST_SCREENSHOTS")


def panel(app, name):
    return next(p for p in app.panels if p.name == name)


def sr_settled(app) -> bool:
    """The SR frame of the current request (model, content, motion, t) is in the view."""
    v, s = app.view, app.state
    sr = v.current_sr_frame()
    if sr is None or app.renderer.loading or v.model is None or sr.fingerprint != v.model.fingerprint:
        return False
    r = sr.request
    return r.t == s.timeline.t and r.content == s.content and r.motion == s.motion


def open_sr(ctx, h, path: Path) -> None:
    """Through the Model panel's Open SR level... button and the in-app file dialog."""
    ctx.window_focus("//Model")
    ctx.item_click("//Model/Open SR level...")
    ctx.yield_(2)
    ctx.item_input_value("//Open SR level/File name", str(path))
    ctx.yield_(2)


def ensure_sr(ctx, h) -> None:
    """Scenarios run in either order (SGV_TEST_ORDER): each opens the SR level it needs."""
    app = h.app
    ready(ctx, h)
    if app.view.sr is None:
        open_sr(ctx, h, TMP / "sr.safetensors")
        h.wait_until(ctx, lambda: app.view.sr is not None, 60, "the SR level")


def pane_pixels(ctx, h, name: str) -> list[np.ndarray]:
    """Every viewport pane as it is on screen (captured from the window's framebuffer)."""
    ctx.mouse_move("//Model/Open SR level...")  # no pixel readout tooltip over the image
    ctx.yield_(4)
    path = str((Path(SHOTS) if SHOTS else TMP) / f"{name}.png")
    capture(ctx, path)
    shot = np.asarray(Image.open(path).convert("RGB"))
    out = []
    for x0, y0, x1, y1 in panel(h.app, "Viewport").pane_rects:
        x0, y0, x1, y1 = (int(round(v)) for v in (x0, y0, x1, y1))
        out.append(shot[y0 + 1 : y1 - 1, x0 + 1 : x1 - 1])
    return out


def difference(shown: np.ndarray, image: np.ndarray) -> float:
    """Mean |shown − image| over the lower half (the overlay sits at the top left), image scaled to shown."""
    ref = np.asarray(Image.fromarray(image).resize((shown.shape[1], shown.shape[0]), Image.BILINEAR))
    half = shown.shape[0] // 2
    return float(np.abs(shown[half:].astype(float) - ref[half:].astype(float)).mean())


def reference(app, t: float) -> np.ndarray:
    """engine.cascade's SR frame of the app's content and motion at t: what the viewport must show."""
    import engine
    from engine.cascade import CascadeVideo, load_sr

    G = app.renderer.backend.G
    base = engine.Video(G, content=app.state.content.seed, motion=app.state.motion.seed, psi=app.state.content.psi)
    return CascadeVideo(base, load_sr(app.view.sr.path, device="cpu"), seed=0).frames_uint8([t])[0]


# ----------------------------------------------------------------------------------------------------


def ready(ctx, h) -> None:
    app = h.app
    h.wait_until(ctx, lambda: app.view.model is not None and app.view.frame is not None, 60, "model + first frame")


def sr_open_and_views(ctx, h):
    """Open an SR level, then low-res / SR / side by side in the viewport toolbar."""
    app = h.app
    ready(ctx, h)
    s = app.state
    s.set_pair(Content.from_seed(3, 1.0), Motion(7), "sr")
    s.timeline.set_t(12.25)
    open_sr(ctx, h, TMP / "sr.safetensors")
    h.wait_until(ctx, lambda: app.view.sr is not None, 60, "the SR level")
    out = {"sr_name": app.view.sr.name, "sr_resolution": app.view.sr.resolution}
    ctx.window_focus("//Viewport")
    ctx.item_click("//Viewport/SR")
    h.wait_until(ctx, lambda: sr_settled(app), 60, "the SR frame")
    ref = reference(app, s.timeline.t)
    sr = app.view.current_sr_frame().image
    (shown,) = pane_pixels(ctx, h, "sr-view")
    out["sr"] = {
        "shape": list(sr.shape),
        "max_vs_cascade": int(np.abs(sr.astype(int) - ref.astype(int)).max()),
        "panes": list(panel(app, "Viewport").panes_shown),
        "shown_vs_sr": difference(shown, sr),
        "shown_vs_low": difference(shown, app.view.frame.image),
        "low_shape": list(app.view.frame.image.shape),
    }
    ctx.item_click("//Viewport/side by side")
    ctx.yield_(3)
    h.wait_until(ctx, lambda: sr_settled(app), 60, "the SR frame")
    ctx.yield_(3)
    left, right = pane_pixels(ctx, h, "sr-side-by-side")
    out["side"] = {
        "panes": list(panel(app, "Viewport").panes_shown),
        "left_vs_low": difference(left, app.view.frame.image),
        "right_vs_sr": difference(right, sr),
        "same_size": list(left.shape) == list(right.shape),
    }
    ctx.item_click("//Viewport/low-res")
    ctx.yield_(3)
    (only,) = pane_pixels(ctx, h, "sr-low-res")
    out["low"] = {
        "panes": list(panel(app, "Viewport").panes_shown),
        "shown_vs_low": difference(only, app.view.frame.image),
    }
    h.record("sr_open_and_views", **out)


def sr_mismatch(ctx, h):
    """An SR level trained for 16² input on a 32² base: one line in the Model panel, the level stays."""
    app = h.app
    ensure_sr(ctx, h)
    before = app.view.sr
    open_sr(ctx, h, TMP / "sr16.safetensors")
    h.wait_until(ctx, lambda: app.view.sr_error is not None, 60, "the SR error")
    ctx.yield_(3)
    if SHOTS:
        capture(ctx, str(Path(SHOTS) / "sr-mismatch.png"))
    h.record(
        "sr_mismatch",
        error=app.view.sr_error,
        kept=app.view.sr is before and before is not None,
        messages=[m for _, m, _ in app.messages][-3:],
    )


def sr_export(ctx, h):
    """Export with the SR level open writes the SR resolution."""
    app = h.app
    ensure_sr(ctx, h)
    exp = panel(app, "Export")
    exp.path = str(TMP / "sr-export.mp4")
    exp.duration_s = 0.4
    exp.fps = 10.0
    ctx.window_focus("//Export")
    ctx.yield_(2)
    ctx.item_click("//Export/Export")
    h.wait_until(ctx, lambda: (j := app.jobs.latest("export")) is not None and j.finished, 120, "the export")
    job = app.jobs.latest("export")
    h.record(
        "sr_export", state=str(job.state.name), error=job.error, path=exp.path, size=(job.result or {}).get("size")
    )


def sr_off(ctx, h):
    app = h.app
    ensure_sr(ctx, h)
    ctx.window_focus("//Model")
    ctx.item_click("//Model/SR off")
    h.wait_until(ctx, lambda: app.view.sr is None, 60, "SR off")
    ctx.yield_(3)
    h.record("sr_off", panes=list(panel(app, "Viewport").panes_shown), sr=app.view.sr)


def sr_new_run_dialog(ctx, h):
    """Train > New SR level run...: the base defaults to the model on screen; a dataset and run folder make a
    `sgv train-sr` command line (the launch itself: tests/test_app_sr_runs.py)."""
    app = h.app
    ready(ctx, h)
    dlg = panel(app, "Training").new_sr_run
    ctx.menu_click("//##MainMenuBar/Train/New SR level run...")
    ctx.yield_(3)
    base = dlg.base
    ctx.item_input_value("//New SR level run/Dataset", str(TMP))
    ctx.item_input_value("//New SR level run/Run folder", str(TMP / "runs" / "sr"))
    ctx.yield_(3)
    if SHOTS:
        capture(ctx, str(Path(SHOTS) / "sr-new-run.png"))
    spec = dlg.spec()
    ctx.item_click("//New SR level run/Cancel")
    ctx.yield_(2)
    h.record(
        "sr_new_run_dialog",
        base=base,
        model=app.view.model.path,
        problems=spec.problems(),
        args=spec.args(),
    )


def register(h):
    for name in ("sr_open_and_views", "sr_mismatch", "sr_export", "sr_off", "sr_new_run_dialog"):
        h.add(name, globals()[name])
