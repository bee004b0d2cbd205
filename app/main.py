"""`sgv-studio`: the StudioApp (state, renderer, jobs, panels, the Actions widgets call) and its frame loop.

The window and docking layout are app/gui/window.py; menus, keyboard shortcuts and popups app/menus.py.

Each UI frame:
  pre_new_frame      absorb renderer events into RenderView, take file drops, advance the playback clock
  dockable windows   each visible panel draws (Panel.draw) and edits AppState
  show_gui           app-level dialogs and keyboard shortcuts
  before_render      every panel writes its slice of a fresh RenderArgs (Panel.emit), the app submits it

The renderer (a worker thread, the only torch user) answers asynchronously; nothing here waits on it.
The docking layout lives in the user's config dir (app/paths.py), never the repo or the working directory.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable
from pathlib import Path

from app.gui.window import focus_window, has_display, save_screenshot
from engine.suffixes import MODEL_EXTS  # upstream pickles are imported on the fly (engine.legacy)

NO_DISPLAY_MESSAGE = (
    "sgv-studio: no display (DISPLAY and WAYLAND_DISPLAY are unset); to render without a window use "
    "`sgv generate --ckpt MODEL --out out.mp4` (see `sgv generate --help`)"
)
MESSAGE_S = 8.0
IDLE_FPS_WORKING = 3.0  # UI frames/s while a job or training run progresses and nothing else moves
IDLE_FPS_AT_REST = 0.2  # at rest: redraw only on events (a redraw every 5 s at most)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="sgv-studio",
        description="StyleGAN-V Studio: scrub continuous time, edit motion, mix content and motion, export.",
        epilog="examples:\n  sgv-studio\n  sgv-studio --ckpt runs/mine/model-latest.safetensors\n"
        "  sgv-studio --ckpt model.safetensors --session my.json --device cpu",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--ckpt", help="model file to open (default: the bundled model)")
    p.add_argument("--sr", metavar="SR", help="cascade SR level to open beside the model (docs/cascade.md)")
    p.add_argument("--no-sr", action="store_true", help="do not open the bundled SR level with the bundled model")
    p.add_argument("--session", help="session file to open (.json written by File > Save session)")
    p.add_argument("--device", help="torch device for rendering (default: cuda if available, else cpu)")
    p.add_argument("--screenshot", metavar="PNG", help="save a screenshot of the window after a few seconds and exit")
    p.add_argument("--screenshot-after", type=float, default=8.0, help=argparse.SUPPRESS)
    p.add_argument("--window-size", default="1600x1000", help=argparse.SUPPRESS)
    # Testing and debugging (not in --help): run imgui test-engine scenarios, slow the renderer down.
    p.add_argument("--gui-test", help=argparse.SUPPRESS)
    p.add_argument("--gui-test-report", help=argparse.SUPPRESS)
    p.add_argument("--debug-render-delay-ms", type=float, default=0.0, help=argparse.SUPPRESS)
    return p.parse_args(argv)


class StudioApp:
    def __init__(self, opts: argparse.Namespace):
        # Heavy imports here, after the display check: imgui and torch (through the renderer).
        from imgui_bundle import hello_imgui

        from app.gui.file_dialog import FileDialog
        from app.gui.glfw_hooks import GlfwHooks
        from app.jobs import JobManager
        from app.paths import RecentFiles, cache_dir, config_dir
        from app.renderer import Renderer
        from app.state import AppState
        from app.view import RenderView
        from app.widgets import default_panels

        preload_triton()
        self.opts = opts
        self.state = AppState()
        self.view = RenderView()
        self.jobs = JobManager()
        self.panels = default_panels()
        self.hooks = GlfwHooks()
        self.config_dir = config_dir()
        self.recent = RecentFiles(self.config_dir / "recent-models.json")
        self.renderer = Renderer(
            device=opts.device,
            cache_dir=cache_dir(),
            render_delay_s=opts.debug_render_delay_ms / 1000.0,
            wake=self.hooks.wake,
        )
        self.model_dialog = FileDialog("Open checkpoint", "open", MODEL_EXTS)
        self.sr_dialog = FileDialog("Open SR level", "open", MODEL_EXTS)
        self.session_open_dialog = FileDialog("Open session", "open", (".json",))
        self.session_save_dialog = FileDialog("Save session", "save", (".json",), ".json")
        self.session_path: str | None = None
        self.messages: deque[tuple[float, str, bool]] = deque(maxlen=50)
        from app.widgets.base import MenuItem
        from app.widgets.training import training_menu_items

        self.menu_items: dict[str, list[MenuItem]] = {"Train": training_menu_items(self)}
        from app.playback import Player

        self.frame = None
        self.player = Player()
        self._upcoming: tuple[float, ...] = ()
        self._showing: float | None = None  # t of the playback frame on screen from the player's buffer
        self._stamp = 0  # of the newest args submitted to the renderer
        self._last_frame_start = time.perf_counter()
        self._started = time.perf_counter()
        self.popup_request: str | None = None  # a popup a menu asked for (app/menus.py)
        self._panel_errors: dict[str, str] = {}
        self.after_frame: list[Callable[[], None]] = []  # hooks (the GUI test harness)
        self.runner_params = self._runner_params(hello_imgui)

    # -- Actions (what widgets may ask for; see app/widgets/base.py) --------------------------------------
    def open_model(self, path: str | None) -> None:
        self.renderer.open_model(str(path) if path is not None else None)

    def open_sr(self, path: str | None) -> None:
        self.renderer.open_sr(str(path) if path is not None else None)

    def show_open_sr_dialog(self) -> None:
        folder = (
            Path(self.view.sr.path).parent
            if self.view.sr
            else Path(self.recent.items[0]).parent
            if self.recent.items
            else Path.cwd()
        )
        self.sr_dialog.open(folder)

    def show_open_model_dialog(self) -> None:
        folder = Path(self.recent.items[0]).parent if self.recent.items else Path.cwd()
        self.model_dialog.open(folder)

    def start_model_job(self, name: str, kind: str, make: Callable):
        """Start a background job that needs the loaded model: `make(backend)` returns the job body
        (`fn(ctx)`, see app/jobs.py). backend.G is the generator; jobs that change weights or run autograd
        take their own copy. Returns the Job, or None (with a message) when there is no model or make fails."""
        from engine.errors import SgvError

        backend = self.renderer.backend
        if backend is None:
            self.notify(f"{name}: no model is loaded; open a checkpoint first", error=True)
            return None
        try:
            fn = make(backend)
        except SgvError as e:
            self.notify(str(e), error=True)
            return None
        return self.jobs.submit(name, fn, kind=kind)

    def start_export(self, spec) -> None:
        content, motion = self.state.content, self.state.motion
        sr = self.renderer.sr_model if spec.sr else None
        if spec.sr and sr is None:
            self.notify(f"export {Path(spec.path).name}: no SR level is open", error=True)
            return
        job = self.start_model_job(
            f"export {Path(spec.path).name}",
            "export",
            lambda b: lambda ctx: b.export(spec, content, motion, ctx, sr=sr),
        )
        if job is not None:
            self.notify(f"exporting to {spec.path}")

    def notify(self, message: str, error: bool = False) -> None:
        self.messages.append((time.perf_counter(), message, error))
        if error:
            print(f"sgv-studio: {message}", file=sys.stderr)

    @property
    def recent_models(self) -> list[str]:
        return self.recent.items

    @property
    def model_loading(self) -> bool:
        return self.renderer.loading

    @property
    def drops_supported(self) -> bool:
        return self.hooks.drops_supported

    def renderer_stats(self):
        return self.renderer.stats()

    def request_exit(self) -> None:
        self.runner_params.app_shall_exit = True

    # -- sessions -----------------------------------------------------------------------------------------
    def save_session(self, path: str) -> None:
        from app.state import save_session
        from engine.errors import SgvError

        model = self.view.model.path if self.view.model else None
        sr = self.view.sr.path if self.view.sr else None
        try:
            written = save_session(path, self.state, model, sr)
        except (SgvError, OSError) as e:
            self.notify(f"{path}: cannot save session ({e})", error=True)
            return
        self.session_path = str(written)
        self.notify(f"saved session {written}")

    def load_session(self, path: str) -> None:
        from app.state import load_session
        from engine.errors import SgvError

        try:
            data = load_session(path, self.state)
        except SgvError as e:
            self.notify(str(e), error=True)
            return
        self.session_path = str(path)
        self.notify(f"opened session {path}")
        model = (data.get("model") or {}).get("path")
        if model and (self.view.model is None or self.view.model.path != model) and Path(model).exists():
            self.open_model(model)  # its ModelLoaded fits the document to it (app/view.py)
        elif self.view.model is not None:
            from app.view import model_shapes

            # The session stays with the model on screen: codes of other shapes are kept aside, not rendered.
            note = self.state.adopt_model(model_shapes(self.view.model))
            if note:
                self.notify(note)
        sr = (data.get("model") or {}).get("sr")
        if sr and (self.view.sr is None or self.view.sr.path != sr) and Path(sr).exists():
            self.renderer.open_sr(sr)  # after the base (the worker runs commands in order)

    # -- hello_imgui setup --------------------------------------------------------------------------------
    def _runner_params(self, hello_imgui):
        from app import menus
        from app.gui.window import runner_params

        callbacks = {
            "post_init": self._post_init,
            "before_exit": self._before_exit,
            "pre_new_frame": self._begin_frame,
            "before_imgui_render": self._end_frame,
            "show_gui": self._gui,
            "show_menus": lambda: menus.draw_menus(self),
            "show_status": self._status,
        }
        return runner_params(
            self.opts.window_size, self.config_dir / "layout.ini", self.panels, self._draw_panel, callbacks
        )

    def focus_panel(self, name: str) -> None:
        focus_window(self.runner_params, name)

    def _post_init(self) -> None:
        self.hooks.install()
        if self.opts.no_sr:
            self.renderer.bundled_sr = None  # read by the worker only after the open command below
        self.open_model(self.opts.ckpt)
        if self.opts.sr:
            self.open_sr(self.opts.sr)
        if self.opts.session:
            self.load_session(self.opts.session)
        self.focus_panel("Content")

    def _before_exit(self) -> None:
        self.hooks.uninstall()

    # -- the frame loop -----------------------------------------------------------------------------------
    def _begin_frame(self) -> None:
        from app.render_types import RenderArgs
        from app.widgets.base import Frame

        now = time.perf_counter()
        ui_ms = (now - self._last_frame_start) * 1000
        self._last_frame_start = now
        had_model = self.view.model is not None
        for note in self.view.absorb(self.player.take(self.renderer.poll()), self.state, now):
            self.notify(note, error=note == self.view.model_error)
            if not had_model and self.view.model is None:
                self.focus_panel("Model")  # nothing to show: point at where a model is opened
        if self.view.model is not None and (not self.recent.items or self.recent.items[0] != self.view.model.path):
            if Path(self.view.model.path).exists():
                self.recent.add(self.view.model.path)
        for path in self.hooks.take_dropped():
            self._open_dropped(path)
        self._advance_playback(now)
        self.frame = Frame(self.state, self.view, RenderArgs(), self, self.jobs, now, ui_ms)

    def _advance_playback(self, now: float) -> None:
        """Playback (app/playback.py): move the playhead, show the frame due from those rendered ahead, and
        say what to prefetch."""
        from app.playback import playback_step

        render_s = max(self.renderer_stats().render_ms, 1.0) / 1000
        sr = self.view.sr.fingerprint if self.view.sr is not None and self.state.sr_view != "low-res" else None
        self._showing, self._upcoming = playback_step(
            self.player, now, self.state, self.view, self._stamp, render_s, sr
        )

    def _draw_panel(self, panel) -> None:
        if self.frame is None:
            return
        try:
            panel.draw(self.frame)
        except Exception as e:  # a widget bug must not take the app (and the user's work) down
            msg = f"{panel.name}: internal error: {type(e).__name__}: {e}"
            if self._panel_errors.get(panel.name) != msg:
                traceback.print_exc()
                self._panel_errors[panel.name] = msg
                self.notify(msg, error=True)

    def _end_frame(self) -> None:
        from app.render_types import RenderArgs

        if self.frame is None:
            return
        args = RenderArgs(precision=self.state.precision)
        self.frame.args = args
        for panel in self.panels:
            try:
                panel.emit(self.frame)
            except Exception as e:
                msg = f"{panel.name}: internal error: {type(e).__name__}: {e}"
                if self._panel_errors.get(panel.name) != msg:
                    traceback.print_exc()
                    self._panel_errors[panel.name] = msg
        args.upcoming = self._upcoming
        if self._showing is not None and args.frame is not None:
            # The frame on screen came from the buffer and is still due: ask for it (a cache hit), not for the
            # playhead's exact t, which the prefetch stride may skip and the worker would render out of turn.
            args.frame = dataclasses.replace(args.frame, t=self._showing)
        self._stamp = self.renderer.submit(args)
        f = self.frame
        f.app_ms = (time.perf_counter() - f.now) * 1000
        self.view.perf.add(f.ui_ms, f.app_ms, self.view.last_render_ms, self.view.achieved_fps(f.now))
        tl = self.state.timeline
        # Full-rate redraws only while frames must follow time or the pointer. A background job (projection,
        # edit, export) keeps idling on: 3 UI frames/s still show its progress, and software GL redrawing at
        # full rate competes with the job for the CPU (measured 5-10x slower jobs under Xvfb; even 9 redraws/s
        # took up to 80 % of a core there, at 40-90 ms of CPU per redraw of the window).
        busy = tl.playing or tl.scrubbing or self.renderer.loading
        idling = self.runner_params.fps_idling
        idling.enable_idling = not busy
        # At rest nothing changes on its own: wait for an event (input, or a renderer result, which wakes the
        # loop through hooks.wake) instead of redrawing 9 times a second. One software-GL redraw of the
        # window costs 40-90 ms of CPU, so 9 idle redraws/s were half a core (tests/test_app_idle_gui.py).
        idling.fps_idle = IDLE_FPS_WORKING if self._work_in_flight() else IDLE_FPS_AT_REST
        if self.opts.screenshot and time.perf_counter() - self._started > self.opts.screenshot_after:
            self.request_exit()
        for hook in self.after_frame:
            hook()

    def _work_in_flight(self) -> bool:
        """Something progresses without input events: a job (progress bars) or a training run (plots)."""
        if self.jobs.running():
            return True
        for panel in self.panels:
            runs = getattr(panel, "runs", None)
            if runs is not None and any(r.status.active for r in runs.runs):
                return True
        return False

    def _open_dropped(self, path: str) -> None:
        p = Path(path)
        for panel in self.panels:  # panels that take files (the Project panel takes images) get the first say
            accept = getattr(panel, "accept_drop", None)
            if accept is not None and accept(str(p)):
                self.focus_panel(panel.name)
                return
        if p.suffix.lower() in MODEL_EXTS:
            self.open_model(str(p))
        elif p.suffix.lower() == ".json":
            self.load_session(str(p))
        else:
            self.notify(f"{p}: not a model (.safetensors) or session (.json); nothing opened", error=True)

    # -- app-level UI -------------------------------------------------------------------------------------
    def _gui(self) -> None:
        from app import menus

        menus.handle_shortcuts(self)
        menus.draw_dialogs(self)

    def _status(self) -> None:
        from imgui_bundle import imgui

        from app.widgets.timeline import format_t

        model = self.view.model
        imgui.text(f"{model.name if model else 'no model'}  |  t {format_t(self.state.timeline.t)}")
        if self.messages:
            at, text, error = self.messages[-1]
            if time.perf_counter() - at < MESSAGE_S:
                imgui.same_line()
                imgui.text("|")
                imgui.same_line()
                color = imgui.ImVec4(1.0, 0.5, 0.45, 1.0) if error else imgui.ImVec4(0.7, 0.9, 0.7, 1.0)
                imgui.text_colored(color, text)

    # -- running ------------------------------------------------------------------------------------------
    def run(self) -> None:
        from imgui_bundle import immapp

        try:
            immapp.run(self.runner_params, immapp.AddOnsParams(with_implot=True))
        finally:
            self.jobs.cancel_all()
            for job in self.jobs.running():
                job.wait(5.0)
            self.renderer.close()

    def dump_state(self) -> dict:
        """A JSON-able summary of what the app holds (GUI tests assert on it)."""
        s, v = self.state, self.view
        frame = v.frame
        return {
            "t": s.timeline.t,
            "playing": s.timeline.playing,
            "content": s.content.label,
            "content_key": list(map(str, s.content.key)),
            "motion_seed": s.motion.seed,
            "edited_anchors": s.motion.edited_anchors,
            "favourites": [f.name for f in s.favourites],
            "model": v.model.path if v.model else None,
            "model_fingerprint": v.model.fingerprint if v.model else None,
            "model_error": v.model_error,
            "frame_t": frame.request.t if frame else None,
            "frames_shown": v.frames_shown,
            "messages": [m for _, m, _ in self.messages],
        }


def preload_triton() -> None:
    """Load triton (when installed) before the window exists. torch.optim (projection, CLIP edits) imports
    torch._dynamo, which imports triton; loading triton's bundled LLVM after Mesa's (software GL, radeonsi)
    has loaded its own crashes in LLVM's static initialisers (seen under Xvfb). Loaded first, it is harmless."""
    import contextlib

    with contextlib.suppress(ImportError):
        import triton  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    opts = parse_args(argv)
    if not has_display():
        print(NO_DISPLAY_MESSAGE, file=sys.stderr)
        return 2
    from engine.extras import MissingExtra, require

    try:
        require("imgui_bundle", "the app")  # an optional group: a training node installs without it
    except MissingExtra as e:
        print(f"sgv-studio: {e}", file=sys.stderr)
        return 2
    app = StudioApp(opts)
    if opts.gui_test:
        from app.gui_testing import GuiTestHarness

        GuiTestHarness(app, opts.gui_test, opts.gui_test_report).install()
    app.run()
    if opts.screenshot:
        save_screenshot(opts.screenshot)
    return 0


if __name__ == "__main__":
    sys.exit(main())
