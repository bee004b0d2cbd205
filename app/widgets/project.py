"""Project: bring a photo to life. Open an image (file dialog or drop it on the window), project it into the
model's content codes (W+) as a cancellable job with a live preview, loss and PSNR, then accept the result as
the current content (undoable, listed in the Content history) and play it with the current motion.

The image is matched at t = 0 under the app's current motion (docs/model.md §12; upstream holds the motion
fixed too), so after Accept the viewport's frame at t = 0 is the reconstruction and every other t animates it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from imgui_bundle import imgui, imgui_ctx

from app.edit_jobs import (
    FIT_CHOICES,
    IMAGE_EXTS,
    LOSS_CHOICES,
    VIDEO_EXTS,
    ProjectionResult,
    ProjectSpec,
    StepInfo,
    Stop,
    VideoProjectionResult,
    format_seconds,
    is_video_path,
    lpips_weights_problem,
    projection_job,
    video_projection_job,
)
from app.gui.file_dialog import FileDialog
from app.gui.layout import Layout
from app.gui.style import disabled, error_text, note_text
from app.gui.texture import Texture
from app.jobs import Job, JobState
from app.widgets.base import Frame, Panel
from app.widgets.step_jobs import StepJobs

STATUS_RECHECK_S = 3.0  # how often the weights-file check is repeated (the user may fetch them meanwhile)
LOSS_TIPS = {
    "auto": "LPIPS (VGG16) when its weights are installed, else the pixel fallback (the reason is shown)",
    "lpips": "LPIPS (VGG16), upstream's loss; needs `sgv weights fetch vgg16`",
    "pixel": "MSE over an image pyramid: no weights needed, blurrier reconstructions",
}
FIT_TIPS = {
    "crop": "a non-square image: its centre square",
    "pad": "a non-square image: all of it, padded with black",
}


# ----------------------------------------------------------------------------------------------------
# Drawing helpers shared with the Edit panel


def job_controls(job: Job | None, stop: Stop | None, what: str) -> None:
    """Progress bar with the job's message, and Stop (keep the best so far) / Cancel (discard) buttons."""
    if job is None or job.finished:
        return
    if imgui.button(f"Stop, keep result##{what}"):
        if stop is not None:
            stop.set()
    if imgui.is_item_hovered():
        imgui.set_tooltip("finish after the current step and keep the codes found so far")
    imgui.same_line()
    if imgui.button(f"Cancel##{what}"):
        job.cancel()
    imgui.same_line()
    imgui.text_disabled(format_seconds(job.elapsed_s))
    p = job.progress
    imgui.progress_bar(p.fraction if p.fraction is not None else 0.0, imgui.ImVec2(-1, 0), p.message or "starting ...")


def job_outcome(job: Job | None, what: str) -> None:
    """One line for a job that ended without a result."""
    if job is None or not job.finished:
        return
    if job.state == JobState.FAILED:
        error_text(job.error or f"{what} failed")
    elif job.state == JobState.CANCELLED:
        imgui.text_disabled(f"{what} cancelled; nothing changed")


def image_row(pairs: list[tuple[str, Texture, np.ndarray | None, object]], max_em: float = 11.0) -> None:
    """Images side by side (texture updated from the array when `version` changes), each with a caption."""
    avail = imgui.get_content_region_avail().x
    n = max(len(pairs), 1)
    size = max(min((avail - (n - 1) * imgui.get_style().item_spacing.x) / n, max_em * imgui.get_font_size()), 8.0)
    for k, (caption, tex, image, version) in enumerate(pairs):
        if k:
            imgui.same_line()
        imgui.begin_group()
        try:
            if image is not None:
                tex.update(image, version=version)
            if image is not None and tex.ready:
                imgui.image(tex.ref, imgui.ImVec2(size, size))
            else:
                imgui.dummy(imgui.ImVec2(size, size))
            imgui.text_disabled(caption)
        finally:
            imgui.end_group()


def dim_text(text: str) -> None:
    """text_disabled that wraps (paths and hints are often wider than a side panel)."""
    imgui.push_style_color(imgui.Col_.text, imgui.get_style_color_vec4(imgui.Col_.text_disabled))
    try:
        imgui.text_wrapped(text)
    finally:
        imgui.pop_style_color()


def loss_plot(label: str, losses: list[float] | tuple[float, ...]) -> None:
    if len(losses) < 2:
        return
    values = np.asarray(losses, dtype=np.float32)
    imgui.plot_lines(
        label,
        values,
        overlay_text=f"loss {values[0]:.4g} -> {values[-1]:.4g}",
        graph_size=imgui.ImVec2(-1, 3.5 * imgui.get_font_size()),
    )


# ----------------------------------------------------------------------------------------------------


class ProjectPanel(StepJobs, Panel):
    name = "Project"
    dock = "RightSpace"

    def __init__(self) -> None:
        self.image_path = ""
        self.num_steps = 1000
        self.loss = "auto"
        self.fit = "crop"
        self.start_s = 0.0  # a video: where the clip starts (s)
        self.num_frames = 0  # a video: frames of the clip (0 = all)
        self.result_frame = 0  # which frame of a projected clip the result row shows
        self.dialog = FileDialog("Open image or video", "open", (*IMAGE_EXTS, *VIDEO_EXTS))
        self.job: Job | None = None
        self.stop: Stop | None = None
        self.result: ProjectionResult | VideoProjectionResult | None = None  # the newest finished projection
        self.accepted = False  # the newest result is the content it made (Accept pressed)
        self.live: StepInfo | None = None  # the newest step of the running job
        self.losses: list[float] = []  # sampled each UI frame while running (the result holds every step)
        self.tex_target, self.tex_preview = Texture(), Texture()
        self._lpips_problem: str | None = None
        self._lpips_checked = -1e9

    # -- pure parts (tests call them without a window) ---------------------------------------------------
    def accept_drop(self, path: str) -> bool:
        """An image or video dropped on the window becomes what to project (the app asks each panel in turn)."""
        if Path(path).suffix.lower() not in (*IMAGE_EXTS, *VIDEO_EXTS):
            return False
        self.image_path = str(path)
        return True

    def spec(self) -> ProjectSpec:
        return ProjectSpec(
            self.image_path.strip(), int(self.num_steps), self.loss, self.fit, float(self.start_s), int(self.num_frames)
        )

    def lpips_problem(self, now: float) -> str | None:
        if now - self._lpips_checked > STATUS_RECHECK_S:
            self._lpips_problem, self._lpips_checked = lpips_weights_problem(), now
        return self._lpips_problem

    def loss_notes(self, now: float) -> tuple[str | None, str | None]:
        """(note under the inputs, note under the images): a missing-LPIPS message is shown once, below where
        the running job or the result already says it, else under the inputs as a warning before starting."""
        running = self.running
        below = None
        if running and self.live is not None and self.live.note:
            below = self.live.note
        elif not running and self.result is not None and self.result.fallback_reason:
            below = self.result.fallback_reason
        above = None
        if self.loss != "pixel" and below is None:
            problem = self.lpips_problem(now)
            if problem:
                above = ("LPIPS unavailable, the pixel loss runs instead: " if self.loss == "auto" else "") + problem
        return above, below

    def start(self, f: Frame) -> None:
        spec = self.spec()
        if not spec.image:
            f.actions.notify("choose an image to project first", error=True)
            return
        state = f.state
        stop = Stop()
        motion, c = state.motion, state.content.c
        body = video_projection_job if spec.is_video else projection_job
        self.start_steps(
            f, f"project {Path(spec.image).name}", "project", lambda backend: body(backend, spec, motion, c, stop), stop
        )

    def poll(self) -> None:
        """Take the running job's newest step, and its result once it finishes."""
        job = self.poll_steps()
        done = job is not None and isinstance(job.result, (ProjectionResult, VideoProjectionResult))
        if done and self.result is not job.result:
            self.result, self.accepted, self.result_frame = job.result, False, 0

    def accept(self, f: Frame, play: bool = False) -> bool:
        """The result becomes the current content (one undo step); the playhead goes to t = 0, its frame."""
        if not self.result_fits(f, "the model changed since this projection ran; project again"):
            return False
        r, state = self.result, f.state
        if isinstance(r, VideoProjectionResult):
            return self._accept_video(f, r, play)
        content = r.content(state.content.c)
        label = f"projection of {Path(r.image).name}"
        if state.motion != r.motion:  # the image is matched under the motion it was projected with
            state.set_pair(content, r.motion, label)
        else:
            state.set_content(content, label)
        state.timeline.set_t(0.0)
        state.timeline.playing = play
        self.accepted = True
        f.actions.notify(f"{label}: PSNR {r.psnr_db:.1f} dB" + (", playing" if play else ""))
        return True

    def _accept_video(self, f: Frame, r: VideoProjectionResult, play: bool) -> bool:
        """Content and fitted motion become current together (one undo step); the loop spans the clip."""
        state = f.state
        label = f"projection of {Path(r.video).name}"
        state.set_pair(r.content(state.content.c), r.motion(), label)
        t0, t1 = r.time_range
        state.timeline.set_loop(t0, t1)
        state.timeline.set_t(t0)
        state.timeline.playing = play
        self.accepted = True
        f.actions.notify(f"{label}: mean PSNR {r.psnr_db:.1f} dB, clip at t {t0:g}..{t1:g} (the loop)")
        return True

    # -- drawing -----------------------------------------------------------------------------------------
    def _draw_job(self, f: Frame, lay: Layout) -> None:
        with disabled(self.running or f.view.model is None or not self.image_path.strip()):
            if imgui.button("Project", imgui.ImVec2(lay.button_w, 0)):
                self.start(f)
        if f.view.model is None:
            imgui.same_line()
            imgui.text_disabled("(no model)")
        job_controls(self.job, self.stop, "project")
        job_outcome(self.job, "projection")
        imgui.separator()
        self._images(f)
        self._result(f, lay)

    def _inputs(self, f: Frame, lay: Layout) -> None:
        with imgui_ctx.push_item_width(-lay.button_w - imgui.get_style().item_spacing.x - lay.em * 3.5):
            _, self.image_path = imgui.input_text_with_hint(
                "File", "a photo (PNG, JPEG, ...) or a video (mp4, mov, ...)", self.image_path
            )
        imgui.same_line()
        if imgui.button("Browse...", imgui.ImVec2(lay.button_w, 0)):
            p = Path(self.image_path.strip()).expanduser()
            self.dialog.open(p.parent if self.image_path.strip() and p.parent.is_dir() else Path.cwd(), p.name)
        chosen = self.dialog.draw()
        if chosen:
            self.image_path = chosen
        if f.actions.drops_supported:
            dim_text("or drop an image or a video on the window")
        imgui.text("Loss")
        for kind in LOSS_CHOICES:
            imgui.same_line()
            if imgui.radio_button(kind, self.loss == kind):
                self.loss = kind
            if imgui.is_item_hovered():
                imgui.set_tooltip(LOSS_TIPS[kind])
        imgui.same_line()
        imgui.text("   Fit")
        for fit in FIT_CHOICES:
            imgui.same_line()
            if imgui.radio_button(fit, self.fit == fit):
                self.fit = fit
            if imgui.is_item_hovered():
                imgui.set_tooltip(FIT_TIPS[fit])
        with imgui_ctx.push_item_width(lay.input_w):
            _, steps = imgui.input_int("Steps", self.num_steps, 50, 500)
            self.num_steps = min(max(steps, 1), 100_000)
        if imgui.is_item_hovered():
            imgui.set_tooltip("optimisation steps (upstream: 1000); Stop keeps the best codes found so far")
        video = is_video_path(self.image_path)
        if video:
            with imgui_ctx.push_item_width(lay.input_w):
                _, start = imgui.input_float("Start (s)", self.start_s, 0.5, 5.0, "%.2f")
                self.start_s = max(0.0, start)
                _, frames = imgui.input_int("Frames", self.num_frames, 8, 32)
                self.num_frames = min(max(frames, 0), 100_000)
            if imgui.is_item_hovered():
                imgui.set_tooltip("frames of the clip from Start on; 0 = all (long clips are subsampled)")
        above, _ = self.loss_notes(f.now)
        if above:
            note_text(above)
        model = f.view.model
        if model is not None and video:
            dim_text(
                f"content and motion fitted, the clip from t = 0; before and after it, motion {f.state.motion.seed} "
                f"goes on; {model.resolution}² ({self.fit})"
            )
        elif model is not None:
            dim_text(f"matched at t = 0 under {f.state.motion.describe()}, {model.resolution}² ({self.fit})")

    def _images(self, f: Frame) -> None:
        live, r = self.live, self.result
        running = self.running
        _, below = self.loss_notes(f.now)
        if running and live is not None:
            frame = f", frame {live.terms['frame']}" if "frame" in live.terms else ""
            image_row(
                [
                    ("target" + frame, self.tex_target, live.target, ("target", live.step, id(self.job))),
                    (f"step {live.step}", self.tex_preview, live.preview, ("live", live.step, id(self.job))),
                ]
            )
            if below:
                note_text(below)
            loss_plot("##project loss", self.losses)
        elif isinstance(r, VideoProjectionResult):
            n = len(r.targets)
            with imgui_ctx.push_item_width(-1):
                _, k = imgui.slider_int("##clip frame", self.result_frame, 0, n - 1, f"frame %d of {n}")
            self.result_frame = min(max(k, 0), n - 1)
            k = self.result_frame
            image_row(
                [
                    (f"target (t {r.times[k]:g})", self.tex_target, r.targets[k], ("target", k, id(r))),
                    ("reconstruction", self.tex_preview, r.reconstruction[k], ("result", k, id(r))),
                ]
            )
            loss_plot("##project loss", r.losses)
        elif r is not None:
            image_row(
                [
                    ("target", self.tex_target, r.target, ("target", id(r))),
                    ("reconstruction", self.tex_preview, r.reconstruction, ("result", id(r))),
                ]
            )
            loss_plot("##project loss", r.losses)

    def _result(self, f: Frame, lay: Layout) -> None:
        r = self.result
        running = self.running
        if r is None or running:
            return
        video = isinstance(r, VideoProjectionResult)
        name = Path(r.video if video else r.image).name
        imgui.text_wrapped(
            f"{name}: {'mean ' if video else ''}PSNR {r.psnr_db:.2f} dB after {r.steps}/{r.num_steps} steps "
            f"in {format_seconds(r.seconds)}, best loss {r.best_loss:.4g}"
        )
        dim_text(r.loss_label)
        _, below = self.loss_notes(f.now)
        if below:
            note_text(below)
        if video:
            t0, t1 = r.time_range
            dim_text(f"clip at t {t0:g}..{t1:g}, {len(r.overrides)} fitted anchors; motion {r.motion_seed} around it")
            for text in r.notes:
                dim_text(text)
        with disabled(self.result_stale(f, "made with another model: project again to use it")):
            if imgui.button("Accept", imgui.ImVec2(lay.button_w, 0)):
                self.accept(f)
            if imgui.is_item_hovered():
                what = "content and motion; the loop spans the clip" if video else "content; the playhead goes to t = 0"
                imgui.set_tooltip(f"use it as the current {what} (Ctrl+Z undoes)")
            imgui.same_line()
            if imgui.button("Accept and play"):
                self.accept(f, play=True)
        if self.accepted:
            imgui.same_line()
            tl = f.state.timeline
            if imgui.button("Pause" if tl.playing else "Play"):
                tl.playing = not tl.playing
            dim_text(f"in the Content history as 'projection of {name}'")
