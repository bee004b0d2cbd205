"""GUI scenarios for switching models, fractional frame rates, the Prepare dataset output field and the file
dialog's layout, run inside the real app by the imgui test engine; tests/test_app_model_gui.py launches the
app on a tiny model and asserts on the report.

What is on screen is checked on screen: the viewport's pixels are read back from a capture of the window and
compared with the frame each model rendered.

Environment: SGV_TEST_TMP (inputs: other.safetensors, a model of other shapes; outputs go there too),
SGV_TEST_SCREENSHOTS (optional folder: the file dialog and the app after a model switch).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from imgui_bundle import imgui
from imgui_bundle.immapp.testing import capture
from PIL import Image

from app.state import Content, Motion

TMP = Path(os.environ.get("SGV_TEST_TMP", "/tmp"))
SHOTS = os.environ.get("SGV_TEST_SCREENSHOTS")
OTHER = TMP / "other.safetensors"


def panel(app, name):
    return next(p for p in app.panels if p.name == name)


def frame_settled(app) -> bool:
    """The shown frame answers the current request with the loaded model, or the request failed."""
    fr, s, v = app.view.frame, app.state, app.view
    if v.model is None or app.renderer.loading:
        return False
    if v.frame_error:
        return True
    if fr is None or fr.fingerprint != v.model.fingerprint:
        return False
    r = fr.request
    return r.t == s.timeline.t and r.content == s.content and r.motion == s.motion


def shown_pixels(ctx, h, name: str) -> np.ndarray:
    """The viewport's image as it is on screen (captured from the window's framebuffer)."""
    ctx.mouse_move("//Model/Open bundled model")  # no pixel readout tooltip over the image
    ctx.yield_(4)
    path = str((Path(SHOTS) if SHOTS else TMP) / f"{name}.png")
    capture(ctx, path)
    shot = np.asarray(Image.open(path).convert("RGB"))
    x0, y0, x1, y1 = (int(round(v)) for v in panel(h.app, "Viewport").image_rect)
    return shot[y0 + 1 : y1 - 1, x0 + 1 : x1 - 1]


def difference(shown: np.ndarray, image: np.ndarray) -> float:
    """Mean |shown − image| over the lower half (the overlay sits at the top left), image scaled to shown."""
    ref = np.asarray(Image.fromarray(image).resize((shown.shape[1], shown.shape[0]), Image.BILINEAR))
    half = shown.shape[0] // 2
    return float(np.abs(shown[half:].astype(float) - ref[half:].astype(float)).mean())


def open_model(ctx, h, path: Path, settle: bool = True) -> None:
    """Through the Model panel's Open checkpoint... button and the in-app file dialog; `settle`: wait for
    the frame too (not while playing: on a slow machine the playhead may always be a frame ahead)."""
    app = h.app
    ctx.window_focus("//Model")
    ctx.item_click("//Model/Open checkpoint...")
    ctx.yield_(2)
    ctx.item_input_value("//Open checkpoint/File name", str(path))
    h.wait_until(ctx, lambda: app.view.model is not None and app.view.model.path == str(path), 60, f"{path.name}")
    if settle:
        h.wait_until(ctx, lambda: frame_settled(app), 60, f"the first frame of {path.name}")


def summary(app) -> dict:
    s, v = app.state, app.view
    return {
        "model_error": v.model_error,
        "frame_error": v.frame_error,
        "content": [s.content.seed, s.content.psi, s.content.ws is not None],
        "motion_seed": s.motion.seed,
        "edited_anchors": s.motion.edited_anchors,
        "t": s.timeline.t,
        "fps": s.timeline.fps,
        "history": [c.label for c in s.history],
        "favourites": [f.name for f in s.favourites],
        "messages": [m for _, m, _ in app.messages][-4:],
        "errors": [m for _, m, e in app.messages if e],
    }


# ----------------------------------------------------------------------------------------------------


def startup(ctx, h):
    app = h.app
    h.wait_until(ctx, lambda: app.view.model is not None and app.view.frame is not None, 60, "model + first frame")
    h.record("startup", model=app.view.model.path)


def file_dialog_label(ctx, h):
    """The dialog's File name field: its label ends inside the dialog, not cut off by its edge."""
    ctx.window_focus("//Model")
    ctx.item_click("//Model/Open checkpoint...")
    ctx.yield_(3)
    field = ctx.item_info("//Open checkpoint/File name").rect_full  # the input frame; the label follows it
    label_end = field.max.x + imgui.get_style().item_inner_spacing.x + imgui.calc_text_size("File name").x
    window = ctx.get_window_by_ref("//Open checkpoint")
    if SHOTS:
        capture(ctx, str(Path(SHOTS) / "file-dialog.png"))
    ctx.item_click("//Open checkpoint/Cancel")
    ctx.yield_(2)
    h.record(
        "file_dialog_label",
        field=[field.min.x, field.max.x],
        label_end=label_end,
        clip_right=window.inner_clip_rect.max.x,
    )


STEPS: dict = {}  # model_switch_* scenarios share what they saw (each stays under the engine's 60 s watchdog)
IMAGES: dict = {}


def model_switch_seed(ctx, h):
    """Seed content: A → B → A with seed, t and motion unchanged shows each model's frame on screen."""
    app = h.app
    s, tl = app.state, app.state.timeline
    IMAGES["a_path"] = Path(app.view.model.path)
    s.set_pair(Content.from_seed(3, 0.8), Motion(7), "setup")
    tl.set_t(20.5)
    h.wait_until(ctx, lambda: frame_settled(app), 30, "seed 3 on A")
    image_a = app.view.frame.image.copy()
    shown = shown_pixels(ctx, h, "switch-a")
    STEPS["a"] = {"vs_a": difference(shown, image_a)}

    open_model(ctx, h, OTHER)
    image_b = app.view.frame.image.copy()
    shown = shown_pixels(ctx, h, "switch-b")
    STEPS["b"] = {"vs_a": difference(shown, image_a), "vs_b": difference(shown, image_b), **summary(app)}

    open_model(ctx, h, IMAGES["a_path"])
    image_a2 = app.view.frame.image.copy()
    shown = shown_pixels(ctx, h, "switch-a-again")
    STEPS["a_again"] = {
        "vs_a": difference(shown, image_a2),
        "vs_b": difference(shown, image_b),
        "same_frame_as_before": bool(np.array_equal(image_a, image_a2)),
        **summary(app),
    }
    h.record("model_switch_seed", steps=STEPS)


def model_switch_edited(ctx, h):
    """Explicit W+ codes, a motion edit and a favourite made with A; opening B (other shapes) while playing
    keeps seed, ψ, t, motion seed and playback, and sets aside what does not fit."""
    app = h.app
    s, tl = app.state, app.state.timeline
    ws = app.state.codes_of(s.content)
    rng = np.random.default_rng(0)
    s.set_content(Content.from_codes(ws + 0.3 * rng.standard_normal(ws.shape).astype(np.float32), "codes of A"))
    s.set_motion(s.motion.with_override(2, rng.standard_normal(app.view.model.motion_u_dim).astype(np.float32)))
    s.add_favourite("made with A")
    tl.fps = 20
    h.wait_until(ctx, lambda: frame_settled(app), 30, "the edited video on A")
    STEPS["a_edited"] = summary(app)
    tl.playing = True
    open_model(ctx, h, OTHER, settle=False)
    ctx.yield_(3)
    playing, t_after_load = tl.playing, tl.t
    tl.playing = False
    h.wait_until(ctx, lambda: frame_settled(app), 30, "B's frame after pausing")
    image_b2 = app.view.frame.image.copy()
    shown = shown_pixels(ctx, h, "switch-b-edited")
    STEPS["b_edited"] = {
        "playing_kept": playing,
        "t_after_load": t_after_load,
        "vs_b": difference(shown, image_b2),
        "frame_fingerprint_ok": app.view.frame.fingerprint == app.view.model.fingerprint,
        **summary(app),
    }
    h.record("model_switch_edited", steps=STEPS)


def model_switch_back(ctx, h):
    """Back to A: what was set aside for A comes back."""
    open_model(ctx, h, IMAGES["a_path"])
    STEPS["a_restored"] = summary(h.app)
    h.record("model_switch_back", steps=STEPS)


def fractional_fps(ctx, h):
    """Typed 7.5 / 29.97 / 23.976 in the timeline FPS and Export fps fields work as they do in sgv generate."""
    app = h.app
    s, tl = app.state, app.state.timeline
    s.set_pair(Content.from_seed(1), Motion(1), "fps")
    tl.set_t(0.0)
    ctx.window_focus("//Timeline")
    ctx.item_input_value("//Timeline/FPS", "7.5")
    ctx.yield_(2)
    fps_typed = tl.fps
    ctx.item_click("//Timeline/Step forward")
    ctx.yield_(2)
    stepped = tl.t
    h.wait_until(ctx, lambda: frame_settled(app), 30, "the stepped frame")

    # Playback at 7.5 fps: every shown t on the frame grid t0 + k · 25 / 7.5.
    ctx.item_click("//Timeline/Play")
    shown: list[float] = []

    def enough() -> bool:
        fr = app.view.frame
        if fr is not None and (not shown or shown[-1] != fr.request.t):
            shown.append(fr.request.t)
        return len(shown) >= 6

    h.wait_until(ctx, enough, 30, "6 frames of playback at 7.5 fps")
    ctx.item_click("//Timeline/Pause")
    fps_after_play = tl.fps

    exports = {}
    ex = panel(app, "Export")
    ctx.window_focus("//Export")
    for fps, seconds in (("7.5", 2.0), ("29.97", 1.0)):
        out = TMP / f"fps-{fps}.mp4"
        ex.duration_s = seconds
        ctx.item_input_value("//Export/Export fps", fps)
        ctx.item_input_value("//Export/Output", str(out))
        ctx.item_click("//Export/Export")
        h.wait_until(
            ctx, lambda: app.jobs.latest("export") is not None and app.jobs.latest("export").finished, 120, "export"
        )
        job = app.jobs.latest("export")
        exports[fps] = {"state": job.state.value, "error": job.error, "path": str(out), "panel_fps": ex.fps}
        ctx.yield_(2)

    # Sessions keep a fractional rate, and the timeline does not round it afterwards.
    tl.fps = 23.976
    app.save_session(str(TMP / "fps-session.json"))
    tl.fps = 25
    app.load_session(str(TMP / "fps-session.json"))
    ctx.yield_(5)
    h.record(
        "fractional_fps",
        fps_typed=fps_typed,
        stepped=stepped,
        shown=shown,
        fps_after_play=fps_after_play,
        native_fps=app.view.model.native_fps,
        exports=exports,
        session_fps=app.state.timeline.fps,
    )


def prepare_output(ctx, h):
    """Train > Prepare dataset: Output follows the videos until the user types one; then it is theirs."""
    app = h.app
    dlg = panel(app, "Training").prepare
    for name in ("vids", "vids2"):
        (TMP / name).mkdir(exist_ok=True)

    def output() -> str:
        return dlg.output() if hasattr(dlg, "output") else dlg.out

    def pick_videos(folder: Path) -> None:
        ctx.item_click("//Prepare dataset/Browse...##Videos")  # the in-app file dialog, nested in the modal
        ctx.yield_(2)
        ctx.item_input_value("//Videos folder/File name", str(folder))
        ctx.yield_(2)

    ctx.menu_click("//##MainMenuBar/Train/Prepare dataset...")
    ctx.yield_(3)
    pick_videos(TMP / "vids")
    auto = output()
    ctx.item_click("//Prepare dataset/Output")  # click into the field and type, as a user does
    ctx.key_chars(str(TMP / "mine"))
    ctx.key_press(imgui.Key.enter)
    ctx.yield_(2)
    typed = output()
    pick_videos(TMP / "vids2")
    after_repick = output()
    ctx.item_click("//Prepare dataset/Close")
    ctx.yield_(2)
    h.record("prepare_output", auto=auto, typed=typed, after_repick=after_repick, src=dlg.src)


def register(h):
    scenarios = (startup, file_dialog_label, model_switch_seed, model_switch_edited, model_switch_back)
    for fn in (*scenarios, fractional_fps, prepare_output):
        h.add(fn.__name__, fn)
