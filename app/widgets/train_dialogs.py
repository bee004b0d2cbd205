"""Train menu dialogs: Prepare dataset... (`sgv dataset prepare` as a job) and New run... (options for `sgv train`).

Both are imgui modals drawn by the Training panel; every slow thing (converting videos, reading a dataset
back) runs as a background job in an `sgv` subprocess (app/training_runs.py), so the window never waits.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from imgui_bundle import imgui, imgui_ctx

from app.gui.file_dialog import FileDialog
from app.gui.layout import Layout
from app.gui.style import OK_RGBA, colored, disabled, error_text, help_marker, note_text
from app.jobs import Job, JobManager, JobState
from app.sgv_commands import DEFAULT_COMMAND, dataset_info, prepare_dataset, summarize_dataset
from app.training_runs import RunSpec, preset_names, preset_resolution
from engine.train.options import SNAP_KIMG, auto_gamma, field_choices, field_default, field_help

RESOLUTIONS = (32, 64, 128, 256, 512, 1024)
DATASET_EXTS = (".zip",)
PATH_FIELD_EM = 30.0


class PathDialog(FileDialog):
    """The app's file dialog, also returning folders: Open picks the highlighted entry, or the folder shown
    when nothing is highlighted (double-click enters a folder). `folders_only` refuses files."""

    def __init__(self, title: str, extensions: tuple[str, ...] = (), folders_only: bool = False):
        super().__init__(title, "open", extensions)
        self.folders_only = folders_only

    def accept(self, name: str) -> str | None:
        p = Path(name.strip()).expanduser() if name.strip() else self.folder
        if not p.is_absolute():
            p = self.folder / p
        if p.is_dir() or (p.is_file() and not self.folders_only):
            self.error = ""
            return str(p)
        self.error = f"{p}: not a folder" if self.folders_only and p.exists() else f"{p}: no such file or folder"
        return None


def _path_field(
    label: str, value: str, dialog: PathDialog, hint: str = "", browse_from: str = ""
) -> tuple[bool, str, bool]:
    """An input + Browse... button (starting at value, else browse_from); returns (edited, value, committed:
    Enter/unfocus after an edit or a pick)."""
    # A fixed width: the modals size to their content.
    with imgui_ctx.push_item_width(Layout.current().em * PATH_FIELD_EM):
        edited, value = imgui.input_text_with_hint(label, hint, value)
    committed = imgui.is_item_deactivated_after_edit()
    imgui.same_line()
    if imgui.button(f"Browse...##{label}"):
        p = Path(value or browse_from).expanduser()
        start = p if p.is_dir() else p.parent
        dialog.open(start if start.is_dir() else Path.cwd(), "")
    chosen = dialog.draw()
    if chosen:
        return True, chosen, True
    return edited, value, committed


# ----------------------------------------------------------------------------------------------------


class PrepareDialog:
    """Train > Prepare dataset...: a folder of videos → a frame dataset at one resolution, then its summary."""

    title = "Prepare dataset"

    def __init__(self, command=DEFAULT_COMMAND):
        self.command = tuple(command)
        self.src = ""
        self.out = ""  # what the user typed or picked; empty: the default next to the videos (output())
        self.resolution = 64
        self.fps = 0.0  # 0 = keep each video's own rate
        self.job: Job | None = None
        self.error = ""
        self._want_open = False
        self.src_dialog = PathDialog("Videos folder", folders_only=False)
        self.out_dialog = PathDialog("Output folder", folders_only=True)

    def open(self, src: str = "") -> None:
        if src:
            self.src = src
        self._want_open = True

    def default_out(self) -> str:
        """`<src>-<res>px` next to the source folder (prepare refuses an output inside the source)."""
        if not self.src.strip():
            return ""
        p = Path(self.src.strip()).expanduser().absolute()
        return str(p.parent / f"{p.stem}-{self.resolution}px")

    def output(self) -> str:
        """The output folder: the user's, or the default while they have not given one."""
        return self.out.strip() or self.default_out()

    def start(self, jobs: JobManager) -> Job | None:
        src, out = self.src.strip(), self.output()
        if not src or not out:
            self.error = "pick the videos and an output"
            return None
        if not Path(src).expanduser().exists():
            self.error = f"{src}: no such file or folder"
            return None
        self.error = ""
        res, fps, command = self.resolution, self.fps or None, self.command

        def body(ctx):
            return prepare_dataset(
                src, out, res, fps, progress=ctx.progress, cancelled=lambda: ctx.cancelled, command=command
            )

        self.job = jobs.submit(f"prepare {Path(out).name}", body, kind="prepare")
        return self.job

    def draw(self, f) -> str | None:
        """Call every frame; returns a prepared dataset path when the user asks for a new run on it."""
        if self._want_open:
            imgui.open_popup(self.title)
            self._want_open = False
        shown, _ = imgui.begin_popup_modal(self.title, None, imgui.WindowFlags_.always_auto_resize)
        if not shown:
            return None
        try:
            return self._body(f)
        finally:
            imgui.end_popup()

    def _body(self, f) -> str | None:
        lay = Layout.current()
        running = self.job is not None and not self.job.finished
        imgui.text_wrapped("Center-crops and resizes every video and writes its frames (run it again to continue).")
        with disabled(running):
            _, self.src, _ = _path_field("Videos", self.src, self.src_dialog, "a folder of video files, or one")
            # The default output is the field's hint, not its text: typing starts from an empty field (text
            # typed into a pre-filled one landed in the middle of the default path), and what the user gives
            # stays theirs when the videos change. Empty again means the default.
            default = self.default_out()
            hint = default or "a folder, or a name ending in .zip"
            _, self.out, _ = _path_field("Output", self.out, self.out_dialog, hint, browse_from=default)
            with imgui_ctx.push_item_width(lay.input_w):
                idx = RESOLUTIONS.index(self.resolution) if self.resolution in RESOLUTIONS else 1
                changed, idx = imgui.combo("Resolution", idx, [f"{r} x {r}" for r in RESOLUTIONS])
                if changed:
                    self.resolution = RESOLUTIONS[idx]
                _, self.fps = imgui.input_float("fps (0 = keep)", self.fps, 0.0, 0.0, "%g")
                self.fps = max(self.fps, 0.0)
        if self.error:
            error_text(self.error)
        chosen = None
        if running:
            p = self.job.progress
            imgui.progress_bar(p.fraction or 0.0, imgui.ImVec2(-1, 0), p.message or "starting ...")
            if imgui.button("Stop", imgui.ImVec2(lay.button_w, 0)):
                self.job.cancel()
        else:
            if self.job is not None:
                chosen = self._result()
            if imgui.button("Prepare", imgui.ImVec2(lay.button_w, 0)):
                self.start(f.jobs)
            imgui.same_line()
            if imgui.button("Close", imgui.ImVec2(lay.button_w, 0)):
                imgui.close_current_popup()
        return chosen

    def _result(self) -> str | None:
        job = self.job
        if job.state == JobState.DONE:
            r = job.result
            with colored(OK_RGBA):
                imgui.text_wrapped(r["summary"] or f"prepared {r['out']}")
            imgui.text_wrapped(f"sgv dataset info: {summarize_dataset(r['info'])}")
            if imgui.button("New run with this dataset..."):
                imgui.close_current_popup()
                return r["out"]
        elif job.state == JobState.CANCELLED:
            note_text(job.error or "stopped; run it again to continue")
        else:
            error_text(job.error or "prepare failed")
        return None


# ----------------------------------------------------------------------------------------------------


class NewRunDialog:
    """Train > New run...: the dataset (checked with `sgv dataset info` before anything starts) and options."""

    title = "New training run"

    def __init__(self, command=DEFAULT_COMMAND):
        self.command = tuple(command)
        self.data = ""
        self.outdir = ""
        # The trainer's defaults (engine/train/options.py), in the widgets' units (0 = the default / auto).
        self.preset = field_default("preset")
        self.resolution = field_default("resolution") or 0  # 0 = the preset's
        self.kimg = field_default("total_kimg")
        self.batch = field_default("batch")
        self.gamma = field_default("gamma") or 0.0  # 0 = auto
        self.gpus = field_default("gpus")
        self.tick_kimg = field_default("tick_kimg")
        self.snap_kimg = SNAP_KIMG
        self.seed = field_default("seed")
        self.compile = field_default("compile")
        self.data_on_device = field_default("data_on_device")
        self.error = ""
        self.check: Job | None = None  # `sgv dataset info --json` of `checked`
        self.checked = ""
        self._want_open = False
        self._outdir_auto = True
        self.data_dialog = PathDialog("Dataset", DATASET_EXTS)
        self.out_dialog = PathDialog("Run folder", folders_only=True)

    def open(self, data: str = "") -> None:
        if data:
            self.data, self.checked, self.check = data, "", None
        self.error = ""
        self._want_open = True

    # -- pure parts --------------------------------------------------------------------------------------
    def spec(self) -> RunSpec:
        return RunSpec(
            data=self.data.strip(),
            outdir=self.outdir.strip(),
            preset=self.preset,
            resolution=self.resolution or None,
            kimg=self.kimg,
            batch=self.batch,
            gamma=self.gamma if self.gamma > 0 else None,
            gpus=self.gpus,
            tick_kimg=self.tick_kimg if self.tick_kimg != field_default("tick_kimg") else None,
            snap_kimg=self.snap_kimg if self.snap_kimg != SNAP_KIMG else None,
            seed=self.seed if self.seed != field_default("seed") else None,
            compile=self.compile if self.compile != field_default("compile") else None,
            data_on_device=self.data_on_device if self.data_on_device != field_default("data_on_device") else None,
        )

    def model_resolution(self) -> int:
        return self.resolution or preset_resolution(self.preset) or 0

    def dataset_state(self) -> tuple[str, str]:
        """("ok" | "checking" | "error" | "", text) for the dataset as typed."""
        if not self.data.strip():
            return "", ""
        if self.check is None or self.checked != self.data.strip():
            return "", "not checked yet"
        if not self.check.finished:
            return "checking", "reading the dataset ..."
        if self.check.state == JobState.DONE:
            info = self.check.result
            if not info.get("videos"):
                return "error", f"{self.checked}: no usable videos"
            return "ok", summarize_dataset(info)
        return "error", self.check.error or "cannot read the dataset"

    def problems(self) -> list[str]:
        state, text = self.dataset_state()
        out = [] if state in ("ok", "") else [text if state == "error" else "the dataset is still being checked"]
        return out + self.spec().problems()

    def default_outdir(self) -> str:
        """runs/<dataset>-<preset>[-N] under the working directory: a folder that does not hold a run yet."""
        stem = Path(self.data.strip().rstrip("/")).stem or "run"
        base = Path.cwd() / "runs" / f"{stem}-{self.preset}"
        p, n = base, 2
        while (p / "training_options.json").exists():
            p, n = base.with_name(f"{base.name}-{n}"), n + 1
        return str(p)

    def start_check(self, jobs: JobManager) -> None:
        path, command = self.data.strip(), self.command
        if not path:
            return
        self.checked = path
        self.check = jobs.submit(f"check {Path(path).name}", lambda ctx: dataset_info(path, command), kind="dataset")
        if self._outdir_auto:
            self.outdir = self.default_outdir()

    # -- drawing -----------------------------------------------------------------------------------------
    def draw(self, f, on_start: Callable[[RunSpec], str | None]) -> None:
        """Call every frame. `on_start(spec)` launches the run and returns an error line, or None."""
        if self._want_open:
            imgui.open_popup(self.title)
            self._want_open = False
            if self.data.strip() and self.checked != self.data.strip():
                self.start_check(f.jobs)
        shown, _ = imgui.begin_popup_modal(self.title, None, imgui.WindowFlags_.always_auto_resize)
        if not shown:
            return
        try:
            self._body(f, on_start)
        finally:
            imgui.end_popup()

    def _body(self, f, on_start) -> None:
        lay = Layout.current()
        edited, self.data, committed = _path_field(
            "Dataset", self.data, self.data_dialog, "folder of videos / frame folders, or a .zip"
        )
        if committed and self.data.strip() != self.checked:
            self.start_check(f.jobs)
        state, text = self.dataset_state()
        if state == "ok":
            with colored(OK_RGBA):
                imgui.text_wrapped(text)
        elif state == "error":
            error_text(text)
        elif text:
            imgui.text_disabled(text)
        imgui.separator()
        with imgui_ctx.push_item_width(lay.input_w * 1.3):
            presets = preset_names()
            idx = presets.index(self.preset) if self.preset in presets else 0
            changed, idx = imgui.combo("Preset", idx, list(presets))
            if changed:
                self.preset = presets[idx]
                if self._outdir_auto and self.data.strip():
                    self.outdir = self.default_outdir()
            labels = [f"preset's ({preset_resolution(self.preset)})"] + [f"{r} x {r}" for r in RESOLUTIONS]
            ridx = RESOLUTIONS.index(self.resolution) + 1 if self.resolution in RESOLUTIONS else 0
            changed, ridx = imgui.combo("Resolution", ridx, labels)
            if changed:
                self.resolution = RESOLUTIONS[ridx - 1] if ridx else 0
            _, self.kimg = imgui.input_float("kimg", self.kimg, 0.0, 0.0, "%g")
            help_marker(field_help("total_kimg").capitalize() + ".")
            _, self.batch = imgui.input_int("Batch", self.batch, 1, 8)
            help_marker(field_help("batch").capitalize() + ".")
            _, self.gamma = imgui.input_float("Gamma (R1)", self.gamma, 0.0, 0.0, "%g")
            auto = auto_gamma(self.model_resolution(), self.batch)
            help_marker(f"{field_help('gamma')}. 0 = auto, here {auto:g}.")
            _, self.gpus = imgui.input_int("GPUs", self.gpus, 1, 1)
            help_marker(field_help("gpus").capitalize() + ".")
            self.batch, self.gpus = max(self.batch, 1), max(self.gpus, 1)
        if imgui.tree_node("Advanced"):
            try:
                with imgui_ctx.push_item_width(lay.input_w * 1.3):
                    _, self.tick_kimg = imgui.input_float("Tick kimg", self.tick_kimg, 0.0, 0.0, "%g")
                    help_marker(field_help("tick_kimg").capitalize() + ".")
                    _, self.snap_kimg = imgui.input_float("Snapshot kimg", self.snap_kimg, 0.0, 0.0, "%g")
                    help_marker("A model snapshot and sample grid every this many kimg (and always when stopped).")
                    _, self.seed = imgui.input_int("Seed", self.seed, 1, 10)
                    modes = field_choices("compile")
                    changed, idx = imgui.combo("Compile", modes.index(self.compile), list(modes))
                    if changed:
                        self.compile = modes[idx]
                    help_marker(field_help("compile").capitalize() + ".")
                _, self.data_on_device = imgui.checkbox("Data on device", self.data_on_device)
                help_marker(field_help("data_on_device").capitalize() + ".")
            finally:
                imgui.tree_pop()
        edited, self.outdir, _ = _path_field("Run folder", self.outdir, self.out_dialog, "created; holds the run")
        if edited:
            self._outdir_auto = not self.outdir.strip()
        problems = self.problems()
        for p in problems[:3] if self.data.strip() else []:
            error_text(p)
        if self.error:
            error_text(self.error)
        with disabled(bool(problems) or self.dataset_state()[0] != "ok"):
            if imgui.button("Start", imgui.ImVec2(lay.button_w, 0)):
                self.error = on_start(self.spec()) or ""
                if not self.error:
                    imgui.close_current_popup()
        imgui.same_line()
        if imgui.button("Cancel", imgui.ImVec2(lay.button_w, 0)):
            imgui.close_current_popup()
