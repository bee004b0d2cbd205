"""Training: the runs this app launched or attached, each with its progress, plots, newest samples and log.

Every run is an `sgv train` process watched through its run folder (app/training_runs.py), so a crash in
training shows up here as an error and the app carries on. "Load latest snapshot" opens the run's newest
model snapshot the way File > Open checkpoint does: content, motion, timeline and edits stay as they are.
The Train menu's items (training_menu_items) open this panel's dialogs.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from imgui_bundle import imgui, imgui_ctx, implot

from app.gui.layout import Layout
from app.gui.style import ERROR_RGBA, OK_RGBA, WARN_RGBA, colored, disabled, error_text
from app.gui.texture import Texture
from app.paths import config_dir
from app.run_registry import TrainingRuns
from app.sgv_commands import DEFAULT_COMMAND
from app.training_runs import RunSpec, RunStatus, TrainingRun, format_duration, tick_line
from app.widgets.base import Actions, Frame, MenuItem, Panel
from app.widgets.train_dialogs import NewRunDialog, PathDialog, PrepareDialog
from app.widgets.train_sr_dialog import NewSRRunDialog
from engine.errors import SgvError

PLOTS = (  # (title, [(series key, legend)])
    ("Losses", [("loss_G", "G"), ("loss_D", "D")]),
    ("R1 penalty", [("r1_penalty", "R1")]),
    ("Augment p", [("aug_p", "p")]),
    ("Seconds per kimg", [("sec_per_kimg", "s/kimg")]),
)
STATUS_RGBA = {
    RunStatus.RUNNING: OK_RGBA,
    RunStatus.STARTING: WARN_RGBA,
    RunStatus.STOPPING: WARN_RGBA,
    RunStatus.CRASHED: ERROR_RGBA,
}
LOG_LINES = 200


class TrainingPanel(Panel):
    name = "Training"
    dock = "RightSpace"

    def __init__(self, command=DEFAULT_COMMAND, remember: Path | None = None):
        self.command = tuple(command)
        self._remember = remember
        self.runs: TrainingRuns | None = None  # created on first use (it starts a monitor thread)
        self.selected: TrainingRun | None = None
        self.prepare = PrepareDialog(self.command)
        self.new_run = NewRunDialog(self.command)
        self.new_sr_run = NewSRRunDialog(self.command)
        self.attach_dialog = PathDialog("Open run folder", folders_only=False)
        self.texture = Texture()
        self.resume_kimg = 0.0  # 0 = the run's own length
        self.loaded_snapshot: str | None = None  # the model file "Load latest snapshot" last opened
        self._show_new_run_for: str | None = None

    # -- pure parts --------------------------------------------------------------------------------------
    def ensure_runs(self) -> TrainingRuns:
        if self.runs is None:
            remember = self._remember or config_dir() / "training-runs.json"
            self.runs = TrainingRuns(self.command, remember=remember)
            self.runs.start_monitor()
            if self.runs.runs and self.selected is None:
                self.selected = self.runs.runs[-1]
        return self.runs

    def start_run(self, spec: RunSpec) -> str | None:
        """Launch `sgv train` for spec and select it; an error line (shown in the dialog) or None."""
        try:
            run = self.ensure_runs().launch(spec)
        except SgvError as e:
            return str(e)
        self.selected = run
        return None

    def attach(self, path: str) -> str | None:
        try:
            self.selected = self.ensure_runs().attach(path)
        except SgvError as e:
            return str(e)
        return None

    def open_prepare(self) -> None:
        self.prepare.open()

    def open_new_run(self, data: str = "") -> None:
        self.new_run.open(data)

    def open_new_sr_run(self) -> None:
        self.new_sr_run.open()

    def open_attach(self) -> None:
        start = self.selected.run_dir.parent if self.selected else Path.cwd()
        self.attach_dialog.open(start if start.is_dir() else Path.cwd())

    def emit(self, f: Frame) -> None:
        """No render args; forwards run events (crashed, finished) to the status bar even while hidden."""
        if self.runs is None:
            return
        for _, kind, message in self.runs.take_events():
            f.actions.notify(message, error=kind == "error")

    # -- drawing -----------------------------------------------------------------------------------------
    def draw(self, f: Frame) -> None:
        runs = self.ensure_runs()
        self._dialogs(f)
        if imgui.button("New run..."):
            self.open_new_run()
        imgui.same_line()
        if imgui.button("Prepare dataset..."):
            self.open_prepare()
        imgui.same_line()
        if imgui.button("Open run folder..."):
            self.open_attach()
        if not runs.runs:
            imgui.text_wrapped(
                "No training runs. Train > New run... starts one on a dataset (Train > Prepare dataset... turns a "
                "folder of videos into one); Train > Open run folder... watches a run started with `sgv train`."
            )
            return
        self._run_list(runs)
        run = self.selected
        if run is None:
            return
        imgui.separator()
        self._run_header(f, run)
        self._controls(f, run)
        if run.grid_image is not None and imgui.collapsing_header("Samples", imgui.TreeNodeFlags_.default_open):
            self._samples(run)
        if run.ticks and imgui.collapsing_header("Plots (against kimg)", imgui.TreeNodeFlags_.default_open):
            self._plots(run)
        if not run.ticks:
            imgui.text_disabled("no ticks logged yet: plots and samples appear with the first ones")
        if imgui.collapsing_header("Log", imgui.TreeNodeFlags_.default_open):
            self._log(run)

    def _dialogs(self, f: Frame) -> None:
        data = self.prepare.draw(f)
        if data:
            self._show_new_run_for = data  # opened next frame: one modal closes before the next opens
        elif self._show_new_run_for:
            self.open_new_run(self._show_new_run_for)
            self._show_new_run_for = None
        self.new_run.draw(f, self.start_run)
        self.new_sr_run.draw(f, self.start_run)
        chosen = self.attach_dialog.draw()
        if chosen:
            error = self.attach(chosen)
            if error:
                f.actions.notify(error, error=True)

    def _run_list(self, runs: TrainingRuns) -> None:
        flags = imgui.TableFlags_.row_bg | imgui.TableFlags_.borders_inner_v | imgui.TableFlags_.scroll_y
        rows = min(len(runs.runs), 5)
        height = (rows + 1) * (imgui.get_text_line_height_with_spacing() + 2)
        if not imgui.begin_table("runs", 4, flags, imgui.ImVec2(0, height)):
            return
        try:
            imgui.table_setup_scroll_freeze(0, 1)
            stretch = imgui.TableColumnFlags_.width_stretch  # shares of a panel that may be narrow
            imgui.table_setup_column("Run", stretch, 2.0)
            imgui.table_setup_column("Status", stretch, 1.2)
            imgui.table_setup_column("kimg", stretch, 1.5)
            imgui.table_setup_column("ETA", stretch, 1.0)
            imgui.table_headers_row()
            now = time.time()
            for i, run in enumerate(runs.runs):
                with imgui_ctx.push_id(str(i)):
                    imgui.table_next_row()
                    imgui.table_next_column()
                    clicked, _ = imgui.selectable(
                        run.name, run is self.selected, imgui.SelectableFlags_.span_all_columns
                    )
                    if clicked:
                        self.selected = run
                    if imgui.is_item_hovered():
                        imgui.set_tooltip(str(run.run_dir))
                    imgui.table_next_column()
                    with colored(STATUS_RGBA.get(run.status, (0.8, 0.8, 0.8, 1.0))):
                        imgui.text(run.status.value)
                    imgui.table_next_column()
                    total = run.total_kimg
                    imgui.text(f"{run.kimg:.3f}" + (f" / {total:g}" if total else ""))
                    imgui.table_next_column()
                    imgui.text(format_duration(run.eta_s(now)) if run.status.active else "")
        finally:
            imgui.end_table()

    def _run_header(self, f: Frame, run: TrainingRun) -> None:
        imgui.text(run.name)
        if imgui.is_item_hovered():
            imgui.set_tooltip(str(run.run_dir))
        imgui.same_line()
        with colored(STATUS_RGBA.get(run.status, (0.8, 0.8, 0.8, 1.0))):
            imgui.text_wrapped(run.status_text)
        if run.error:
            error_text(f"error: {run.error}")
        opts = run.options
        if opts:
            data = Path(str(opts.get("data", ""))).name
            imgui.text_disabled(f"{opts.get('preset', '?')}, batch {opts.get('batch', '?')}, data {data}")
        total = run.total_kimg
        eta = run.eta_s()
        overlay = f"{run.kimg:.3f} / {total:g} kimg" if total else f"{run.kimg:.3f} kimg"
        if run.status.active and eta is not None:
            overlay += f"   ETA {format_duration(eta)}"
        if run.ticks and run.ticks[-1].get("sec_per_kimg") is not None:
            overlay += f"   {run.ticks[-1]['sec_per_kimg']:.3g} s/kimg"
        imgui.progress_bar(run.fraction, imgui.ImVec2(-1, 0), overlay)

    def _controls(self, f: Frame, run: TrainingRun) -> None:
        lay = Layout.current()
        if run.status is RunStatus.STOPPING:
            if imgui.button("Kill now"):
                run.kill()
            if imgui.is_item_hovered():
                imgui.set_tooltip("Stop at once without a new snapshot (the last one on disk stays whole).")
        else:
            with disabled(not run.status.active):
                if imgui.button("Stop"):
                    run.stop()
            if imgui.is_item_hovered():
                imgui.set_tooltip("Finish the current step, write a snapshot, exit.")
        imgui.same_line()
        with disabled(not run.can_resume):
            if imgui.button("Resume"):
                try:
                    run.resume(self.resume_kimg or None)
                except SgvError as e:
                    f.actions.notify(str(e), error=True)
            imgui.same_line()
            with imgui_ctx.push_item_width(lay.input_w):
                _, self.resume_kimg = imgui.input_float("to kimg", self.resume_kimg, 0.0, 0.0, "%g")
                self.resume_kimg = max(self.resume_kimg, 0.0)
        if imgui.is_item_hovered():
            imgui.set_tooltip("0 = the run's own length; more extends a finished run")
        with disabled(run.latest_model is None or f.actions.model_loading):
            if imgui.button("Load latest snapshot"):
                self.loaded_snapshot = str(run.latest_model)
                if run.options.get("kind") == "cascade-sr":  # an SR level opens beside the base (app/sr_runs.py)
                    f.actions.open_sr(self.loaded_snapshot)
                else:
                    f.actions.open_model(self.loaded_snapshot)
        if imgui.is_item_hovered() and run.latest_model is not None:
            imgui.set_tooltip(f"{run.latest_model}\nopens it in the viewer; content, motion and edits stay")
        imgui.same_line()
        with disabled(run.status.active and not run.external):
            if imgui.button("Remove from list"):
                self.ensure_runs().remove(run)
                self.selected = None
        shown = f.view.model
        if shown is not None and run.run_dir in Path(shown.path).absolute().parents:
            imgui.text_disabled(f"the viewer shows {Path(shown.path).name} of this run")

    def _plots(self, run: TrainingRun) -> None:
        lay = Layout.current()
        if not imgui.begin_table("plots", 2, imgui.TableFlags_.none):
            return
        try:
            for title, lines in PLOTS:
                imgui.table_next_column()
                flags = implot.Flags_.no_legend if len(lines) == 1 else 0  # the title names a single series
                if implot.begin_plot(title, imgui.ImVec2(-1, 8 * lay.em), flags):
                    try:
                        fit = implot.AxisFlags_.auto_fit
                        implot.setup_axes("", "", fit, fit)
                        implot.setup_legend(implot.Location_.north_east)
                        for key, label in lines:
                            x, y = run.series.get(key, (np.zeros(0), np.zeros(0)))
                            if len(x):
                                implot.plot_line(label, x, y)
                    finally:
                        implot.end_plot()
        finally:
            imgui.end_table()

    def _samples(self, run: TrainingRun) -> None:
        image = run.grid_image
        self.texture.update(image, version=(str(run.run_dir), str(run.grid_path)))
        h, w = image.shape[:2]
        max_h = 14 * Layout.current().em  # leaves room for the plots below in a side panel
        scale = min(imgui.get_content_region_avail().x / w, max_h / h, 3.0)
        imgui.image(self.texture.ref, imgui.ImVec2(w * scale, h * scale))
        imgui.text_disabled(f"{run.grid_path.name}: rows = contents, columns = t 0 ... 128")

    def _log(self, run: TrainingRun) -> None:
        lay = Layout.current()
        imgui.begin_child(
            "log", imgui.ImVec2(0, 12 * lay.em), imgui.ChildFlags_.borders, imgui.WindowFlags_.horizontal_scrollbar
        )
        try:
            at_bottom = imgui.get_scroll_y() >= imgui.get_scroll_max_y() - 1
            for tick in run.ticks[-LOG_LINES:]:
                imgui.text(tick_line(tick))
            if run.stderr_tail:
                imgui.separator()
                imgui.text_disabled("process output (train-stderr.log):")
                tail = run.stderr_tail[-40:]
                color = ERROR_RGBA if run.status is RunStatus.CRASHED else (0.75, 0.75, 0.75, 1.0)
                with colored(color):
                    for line in tail:
                        imgui.text(line)
            if at_bottom:
                imgui.set_scroll_here_y(1.0)
        finally:
            imgui.end_child()


def training_menu_items(app: Actions) -> list[MenuItem]:
    """The Train menu (app.menu_items["Train"]): each item shows the Training panel and opens its dialog."""
    panel = next(p for p in app.panels if isinstance(p, TrainingPanel))

    def show(action):
        def run() -> None:
            app.focus_panel(panel.name)
            action()

        return run

    return [
        MenuItem("Prepare dataset...", show(panel.open_prepare)),
        MenuItem("New run...", show(panel.open_new_run)),
        MenuItem("New SR level run...", show(panel.open_new_sr_run)),
        MenuItem("Open run folder...", show(panel.open_attach)),
        MenuItem("Show training runs", show(lambda: None)),
    ]
