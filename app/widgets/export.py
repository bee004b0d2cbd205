"""Export: the current video (content + motion, edits included) to an .mp4 or a folder of PNG frames, as a
background job with a progress bar and cancel. A cancelled or failed export leaves any earlier file as it was."""

from __future__ import annotations

from pathlib import Path

from imgui_bundle import imgui, imgui_ctx

from app.gui.file_dialog import FileDialog
from app.gui.layout import Layout
from app.gui.style import disabled, error_text
from app.jobs import JobState
from app.playback import MAX_FPS
from app.render_types import ExportSpec
from app.state import AppState
from app.widgets.base import Frame, Panel
from app.widgets.timeline import clamp_fps, format_t

FORMATS = ("mp4", "PNG frames")
SCALES = (0.5, 1.0, 2.0, 4.0)


def output_path_for(path: str, fmt: int) -> str:
    """Keep the name, switch between `name.mp4` and a `name_frames` folder."""
    p = Path(path)
    if fmt == 0:
        stem = p.name[: -len("_frames")] if p.name.endswith("_frames") else p.stem
        return str(p.with_name(stem + ".mp4"))
    return str(p.with_name(p.stem + "_frames")) if p.suffix else path


class ExportPanel(Panel):
    name = "Export"
    dock = "RightBottomSpace"

    def __init__(self) -> None:
        self.format = 0
        self.path = str(Path.cwd() / "out" / "studio.mp4")
        self.from_playhead = True
        self.t_start = 0.0
        self.duration_s = 4.0
        self.fps = 0.0  # 0 = the model's native fps; fractional rates (29.97) as typed
        self.scale_index = 1
        self.quality = 8
        self.use_sr = True  # with an SR level open: export through it, at its resolution
        self.dialog = FileDialog("Export to", "save", (".mp4",), ".mp4")

    def spec(self, state: AppState, native_fps: float, sr: bool = False) -> ExportSpec:
        return ExportSpec(
            path=output_path_for(self.path, self.format),
            t_start=state.timeline.t if self.from_playhead else self.t_start,
            duration_s=self.duration_s,
            fps=float(self.fps or native_fps),
            time_scale=state.timeline.time_scale,
            scale=SCALES[self.scale_index],
            quality=self.quality,
            precision=state.precision,
            sr=sr,
        )

    def draw(self, f: Frame) -> None:
        lay = Layout.current()
        model = f.view.model
        with imgui_ctx.push_item_width(lay.input_w * 1.4):
            changed, self.format = imgui.combo("Format", self.format, list(FORMATS))
            if changed:
                self.path = output_path_for(self.path, self.format)
            _, self.path = imgui.input_text("Output", self.path)
        imgui.same_line()
        if imgui.button("Browse..."):
            p = Path(self.path)
            self.dialog.open(p.parent if p.parent.is_dir() else Path.cwd(), p.name)
        chosen = self.dialog.draw()
        if chosen:
            self.path = output_path_for(chosen, self.format)
        with imgui_ctx.push_item_width(lay.input_w):
            _, self.from_playhead = imgui.checkbox("Start at playhead", self.from_playhead)
            if not self.from_playhead:
                _, self.t_start = imgui.input_double("Start t", self.t_start, 0.0, 0.0, "%.6g")
            _, self.duration_s = imgui.input_double("Duration (s)", self.duration_s, 0.5, 5.0, "%.3g")
            self.duration_s = max(self.duration_s, 0.0)
            native = model.native_fps if model else 25.0
            changed, fps = imgui.input_double("Export fps", self.fps or native, 1.0, 5.0, "%.6g")
            if changed:
                self.fps = clamp_fps(fps, self.fps)
            if imgui.is_item_hovered():
                imgui.set_tooltip(f"1..{MAX_FPS}; fractional rates such as 23.976 or 29.97 are written exactly")
            sr = f.view.sr is not None and self.use_sr
            if f.view.sr is not None:
                _, self.use_sr = imgui.checkbox(f"Through SR level ({f.view.sr.resolution}²)", self.use_sr)
            res = f.view.sr.resolution if sr else model.resolution if model else 0
            labels = [f"{s:g}x ({int(res * s)} px)" if res else f"{s:g}x" for s in SCALES]
            _, self.scale_index = imgui.combo("Resolution", self.scale_index, labels)
            if self.format == 0:
                _, self.quality = imgui.slider_int("Quality", self.quality, 0, 10)
        spec = self.spec(f.state, native, sr)
        frames = int(spec.duration_s * spec.fps + 1e-9)
        t_end = spec.t_start + spec.time_scale * frames * native / spec.fps
        span = f"t {format_t(spec.t_start)} .. {format_t(t_end)}"
        imgui.text_disabled(f"{frames} frames at {spec.fps:g} fps, {span} (speed {spec.time_scale:g}x)")
        job = f.jobs.latest("export")
        running = job is not None and not job.finished
        with disabled(model is None or running or frames < 1):
            if imgui.button("Export", imgui.ImVec2(lay.button_w, 0)):
                f.actions.start_export(spec)
        if job is not None:
            self._job_status(job)

    def _job_status(self, job) -> None:
        if not job.finished:
            imgui.same_line()
            if imgui.button("Cancel export"):
                job.cancel()
            p = job.progress
            imgui.progress_bar(p.fraction or 0.0, imgui.ImVec2(-1, 0), p.message or "starting ...")
        elif job.state == JobState.DONE:
            r = job.result
            imgui.text_wrapped(f"wrote {r['frames']} frames ({r['size']} px) to {r['path']} in {r['seconds']:.1f} s")
        elif job.state == JobState.CANCELLED:
            imgui.text_wrapped("export cancelled; any earlier file at that path is unchanged")
        else:
            error_text(job.error or "export failed")
