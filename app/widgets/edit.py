"""Edit: change the current content with words (StyleCLIP latent optimisation through CLIP, docs/model.md §13).

Type a prompt, run the edit as a cancellable job with a live preview, choose a strength (start + s · (edited −
start), previewed by the renderer), and accept it as an undoable edit of the current content; the motion is
never changed. An edit can be kept as a direction file (engine.edit.directions) in the directions folder;
every direction there is a slider that adds strength · direction to the current content, live, one undo step
per drag.

CLIP: an open_clip model name or a model config `.json`, and a pretrained tag (`openai`, resolved through
engine.weights: offline it shows which file is missing and the `sgv weights fetch` command) or a local
checkpoint path.
"""

from __future__ import annotations

import dataclasses
import os
from collections import OrderedDict
from pathlib import Path

from imgui_bundle import imgui, imgui_ctx

from app.edit_jobs import (
    DEFAULT_CLIP_MODEL,
    DEFAULT_CLIP_PRETRAINED,
    ClipCache,
    DirectionEntry,
    EditResult,
    EditSpec,
    StepInfo,
    Stop,
    apply_directions,
    clip_weights_problem,
    edit_job,
    format_seconds,
    load_direction_entry,
    save_direction_entry,
    scan_directions,
)
from app.gui.file_dialog import FileDialog
from app.gui.layout import Layout
from app.gui.style import disabled, error_text, note_text
from app.gui.texture import Texture
from app.jobs import Job
from app.render_types import ThumbRequest
from app.state import AppState, Content
from app.widgets.base import Frame, Panel
from app.widgets.project import dim_text, image_row, job_controls, job_outcome, loss_plot
from app.widgets.step_jobs import StepJobs

STRENGTH_RANGE = 2.0  # edit strength slider: −2 … 2 (1 = the edit as optimised, negative reverses it)
DIRECTION_RANGE = 3.0
PREVIEW_SLOT = "edit_preview"
STATUS_RECHECK_S = 3.0
IMAGE_EM = 8.0  # preview size, in font heights (the panel also holds the directions list)
MADE_LIMIT = 256  # contents made by direction sliders that remember their base (undo comes back to them)


def directions_dir() -> Path:
    """$XDG_DATA_HOME/sgv-studio/directions (user data: never the repository or the working directory)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "sgv-studio" / "directions"


class EditPanel(StepJobs, Panel):
    name = "Edit"
    dock = "RightSpace"

    def __init__(self) -> None:
        self.prompt = ""
        self.num_steps = 40
        self.l2_lambda = 0.001
        self.strength = 1.0
        self.clip_model = DEFAULT_CLIP_MODEL
        self.clip_pretrained = DEFAULT_CLIP_PRETRAINED
        self.clips = ClipCache()
        self.config_dialog = FileDialog("CLIP model config", "open", (".json",))
        self.ckpt_dialog = FileDialog("CLIP checkpoint", "open", (".pt", ".pth", ".bin", ".safetensors"))
        self.job: Job | None = None
        self.stop: Stop | None = None
        self.live: StepInfo | None = None
        self.losses: list[float] = []
        self.result: EditResult | None = None
        self.tex_start, self.tex_live = Texture(), Texture()
        self._clip_problem: tuple[tuple, str | None, float] = ((), None, -1e9)
        # Directions
        self.folder = directions_dir()
        self.directions: list[DirectionEntry] | None = None  # None: not scanned yet
        self.direction_errors: list[str] = []
        self.load_dialog = FileDialog("Load direction", "open", (".npz",))
        self._made: OrderedDict[tuple, tuple[Content, dict[str, float]]] = OrderedDict()
        self._gesture = 0

    # -- pure parts --------------------------------------------------------------------------------------
    def spec(self, t: float) -> EditSpec:
        return EditSpec(
            self.prompt.strip(),
            int(self.num_steps),
            float(self.l2_lambda),
            self.clip_model.strip(),
            self.clip_pretrained.strip(),
            t,
        )

    def clip_problem(self, now: float) -> str | None:
        key, problem, at = self._clip_problem
        settings = (self.clip_model, self.clip_pretrained)
        if key != settings or now - at > STATUS_RECHECK_S:
            problem = clip_weights_problem(*settings)
            self._clip_problem = (settings, problem, now)
        return problem

    def candidate(self, state: AppState) -> Content | None:
        """The content Accept would make (the finished edit at the chosen strength)."""
        if self.result is None:
            return None
        return self.result.content(self.strength, state.content.c)

    def emit(self, f: Frame) -> None:
        model = f.view.model
        if self.result is None or model is None or model.fingerprint != self.result.fingerprint:
            return
        if self.running:
            return
        px = min(model.resolution, 256)
        cell = (self._candidate_cached(f.state), f.state.motion, self.result.t)
        f.args.thumbs[PREVIEW_SLOT] = ThumbRequest((cell,), 1, px)

    def _candidate_cached(self, state: AppState) -> Content:
        key = (id(self.result), self.strength, state.content.c)
        cached = getattr(self, "_cand", None)
        if cached is None or cached[0] != key:
            cached = (key, self.candidate(state))
            self._cand = cached
        return cached[1]

    def start(self, f: Frame) -> None:
        state = f.state
        spec = self.spec(state.timeline.t)
        if not spec.prompt:
            f.actions.notify("type a prompt first", error=True)
            return
        codes = state.codes_of(state.content)
        if codes is None:
            f.actions.notify("the current content's codes are not known yet; try again in a moment", error=True)
            return
        stop = Stop()
        content, motion, clips = state.content, state.motion, self.clips
        self.start_steps(
            f,
            f"edit '{spec.prompt}'",
            "edit",
            lambda backend: edit_job(backend, spec, codes, content.label, motion, content.c, clips, stop),
            stop,
        )

    def step_loss(self, info: StepInfo) -> float:
        return info.terms.get("clip", info.loss)  # the curve follows the CLIP term, the one the edit is about

    def poll(self) -> None:
        job = self.poll_steps()
        if job is not None and isinstance(job.result, EditResult) and self.result is not job.result:
            self.result, self.strength = job.result, 1.0

    def accept(self, f: Frame) -> bool:
        """The edit at the chosen strength becomes the current content: one undo step; the motion is kept."""
        if not self.result_fits(f, "the model changed since this edit ran; run it again"):
            return False
        content = self._candidate_cached(f.state)
        f.state.set_content(content, content.label)
        f.actions.notify(f"{content.label} (Ctrl+Z undoes)")
        return True

    # -- directions (pure parts) -------------------------------------------------------------------------
    def rescan(self) -> None:
        self.directions, self.direction_errors = scan_directions(self.folder)

    def direction_state(self, state: AppState) -> tuple[Content, dict[str, float]]:
        """(base content, strengths) behind the current content: a content the sliders made remembers its base,
        so undo and redo bring the sliders back; any other content is a new base with every slider at 0."""
        made = self._made.get(state.content.key)
        return made if made is not None else (state.content, {})

    def apply_direction(self, state: AppState, entry: DirectionEntry, strength: float, final: bool) -> bool:
        """Set one direction's strength on the current base; live while dragging (`final` adds the history entry)."""
        base, strengths = self.direction_state(state)
        base_codes = state.codes_of(base)
        if base_codes is None or self.directions is None:
            return False
        strengths = {**strengths, entry.path: float(strength)}
        strengths = {k: v for k, v in strengths.items() if v}
        token = ("direction", self._gesture)
        if not strengths:
            content = base
        else:
            ws = apply_directions(base_codes, self.directions, strengths)
            names = ", ".join(f"{e.name} {strengths[e.path]:+.2f}" for e in self.directions if e.path in strengths)
            content = Content.from_codes(
                ws, f"{base.label} + {names}", c=base.c, source="directions", parent=base.label
            )
            self._made[content.key] = (base, strengths)
            self._made.move_to_end(content.key)
            while len(self._made) > MADE_LIMIT:
                self._made.popitem(last=False)
        label = f"direction {entry.name} {strength:+.2f}"
        if final:
            state.set_content(content, label, coalesce=token)  # same gesture: no new undo step, one history entry
        else:
            state.undo.push(dataclasses.replace(state.doc, content=content), label, token)
        return True

    def save_direction(self, f: Frame) -> DirectionEntry | None:
        from engine.errors import SgvError

        if self.result is None:
            return None
        try:
            entry = save_direction_entry(self.result, self.folder)
        except (SgvError, OSError) as e:
            f.actions.notify(f"cannot save the direction: {e}", error=True)
            return None
        if self.directions is None:
            self.rescan()
        elif all(e.path != entry.path for e in self.directions):
            self.directions.append(entry)
        f.actions.notify(f"saved direction '{entry.name}' to {entry.path}")
        return entry

    # -- drawing -----------------------------------------------------------------------------------------
    def _draw_job(self, f: Frame, lay: Layout) -> None:
        problem = self.clip_problem(f.now)
        codes = f.state.codes_of(f.state.content)
        blocked = (
            self.running or f.view.model is None or not self.prompt.strip() or problem is not None or codes is None
        )
        with disabled(blocked):
            if imgui.button("Run edit", imgui.ImVec2(lay.button_w, 0)):
                self.start(f)
        imgui.same_line()
        dim_text(f"from '{f.state.content.label}'" if codes is not None else "(waiting for the content's codes)")
        if problem:
            note_text(problem)
        job_controls(self.job, self.stop, "edit")
        job_outcome(self.job, "edit")
        self._progress_images()
        self._result(f, lay)
        imgui.separator()
        self._directions(f, lay)

    def _inputs(self, f: Frame, lay: Layout) -> None:
        with imgui_ctx.push_item_width(-lay.em * 6):
            _, self.prompt = imgui.input_text_with_hint("Prompt", "a snowy mountain", self.prompt)
        with imgui_ctx.push_item_width(lay.input_w):
            _, steps = imgui.input_int("Steps", self.num_steps, 10, 100)
            self.num_steps = min(max(steps, 1), 10_000)
            imgui.same_line()
            _, l2 = imgui.input_float("L2 weight", self.l2_lambda, 0.0005, 0.005, "%.5g")
            self.l2_lambda = max(l2, 0.0)
        if imgui.is_item_hovered():
            imgui.set_tooltip("pull towards the start codes: larger keeps the edit closer (upstream 0.0001-0.0025)")
        if imgui.tree_node("CLIP model"):
            try:
                with imgui_ctx.push_item_width(-lay.button_w - lay.em * 6):
                    _, self.clip_model = imgui.input_text("Model", self.clip_model)
                    imgui.same_line()
                    if imgui.button("Config...", imgui.ImVec2(lay.button_w, 0)):
                        self.config_dialog.open(_folder_of(self.clip_model))
                    _, self.clip_pretrained = imgui.input_text("Pretrained", self.clip_pretrained)
                    imgui.same_line()
                    if imgui.button("Checkpoint...", imgui.ImVec2(lay.button_w, 0)):
                        self.ckpt_dialog.open(_folder_of(self.clip_pretrained))
                dim_text("Model: an open_clip name or a model config .json; Pretrained: a tag (openai) or a checkpoint")
                if imgui.button("Default (ViT-B-32 / openai)"):
                    self.clip_model, self.clip_pretrained = DEFAULT_CLIP_MODEL, DEFAULT_CLIP_PRETRAINED
            finally:
                imgui.tree_pop()
        chosen = self.config_dialog.draw()
        if chosen:
            self.clip_model = chosen
        chosen = self.ckpt_dialog.draw()
        if chosen:
            self.clip_pretrained = chosen

    def _progress_images(self) -> None:
        live = self.live
        if self.job is None or self.job.finished or live is None:
            return
        image_row(
            [
                ("start", self.tex_start, live.target, ("start", id(self.job))),
                (f"step {live.step}", self.tex_live, live.preview, ("live", live.step, id(self.job))),
            ],
            IMAGE_EM,
        )
        loss_plot("##clip loss", self.losses)

    def _result(self, f: Frame, lay: Layout) -> None:
        r = self.result
        if r is None or self.running:
            return
        imgui.separator()
        imgui.text_wrapped(
            f"'{r.prompt}' on '{r.start_label}': CLIP loss {r.clip_before:.4f} -> {r.clip_after:.4f}, "
            f"|Δw| {r.distance:.3g}, {r.steps}/{r.num_steps} steps in {format_seconds(r.seconds)} ({r.clip_label})"
        )
        thumb = f.view.thumbs.get(PREVIEW_SLOT)
        want = self._candidate_cached(f.state)
        shown = thumb is not None and thumb.request.cells[0][0] == want
        image_row(
            [
                ("start", self.tex_start, r.start_image, ("start", id(r))),
                (
                    f"strength {self.strength:.2f}" if shown else "rendering ...",
                    self.tex_live,
                    thumb.atlas if shown else None,
                    ("thumb", id(thumb)),
                ),
            ],
            IMAGE_EM,
        )
        loss_plot("##clip loss", r.clip_losses)
        with imgui_ctx.push_item_width(-lay.em * 6):
            _, self.strength = imgui.slider_float("Strength", self.strength, -STRENGTH_RANGE, STRENGTH_RANGE, "%.2f")
        if imgui.is_item_hovered():
            imgui.set_tooltip("start + strength x (edited - start); 1 = as optimised, negative reverses the edit")
        with disabled(self.result_stale(f, "made with another model: run the edit again to use it")):
            if imgui.button("Accept", imgui.ImVec2(lay.button_w, 0)):
                self.accept(f)
            if imgui.is_item_hovered():
                imgui.set_tooltip("make it the current content (Ctrl+Z undoes); the motion stays as it is")
            imgui.same_line()
            if imgui.button("Save direction"):
                self.save_direction(f)
            if imgui.is_item_hovered():
                imgui.set_tooltip(f"keep edited - start as a direction slider, in {self.folder}")
        imgui.same_line()
        if imgui.button("Discard"):
            self.result = None

    def _directions(self, f: Frame, lay: Layout) -> None:
        if self.directions is None:
            self.rescan()
        state, model = f.state, f.view.model
        imgui.text("Directions")
        imgui.same_line()
        if imgui.button("Reload"):
            self.rescan()
        imgui.same_line()
        if imgui.button("Load direction..."):
            self.load_dialog.open(self.folder if self.folder.is_dir() else Path.cwd())
        chosen = self.load_dialog.draw()
        if chosen:
            self._load_one(f, chosen)
        dim_text(str(self.folder))
        for line in self.direction_errors:
            error_text(line)
        if not self.directions:
            dim_text("none yet: run an edit and press Save direction, or use `sgv edit --save-direction`")
            return
        base, strengths = self.direction_state(state)
        base_codes = state.codes_of(base)
        shape = (model.num_ws, model.w_dim) if model is not None else None
        with imgui_ctx.push_item_width(-lay.em * 9):
            for i, e in enumerate(self.directions):
                with imgui_ctx.push_id(str(i)):
                    fits = shape is not None and tuple(e.delta.shape) == shape
                    with disabled(not fits or base_codes is None):
                        value = strengths.get(e.path, 0.0)
                        changed, new = imgui.slider_float(e.name, value, -DIRECTION_RANGE, DIRECTION_RANGE, "%.2f")
                        if imgui.is_item_activated():
                            self._gesture += 1
                        if changed:
                            self.apply_direction(state, e, new, final=False)
                        if imgui.is_item_deactivated_after_edit():
                            self.apply_direction(state, e, self.direction_state(state)[1].get(e.path, 0.0), True)
                    if imgui.is_item_hovered(imgui.HoveredFlags_.allow_when_disabled):
                        other = model is not None and e.fingerprint and e.fingerprint != model.fingerprint
                        imgui.set_tooltip(
                            f"{e.path}\n|direction| {e.norm:.3g}"
                            + ("" if fits else f"\ndoes not fit this model ({list(e.delta.shape)})")
                            + ("\nmade with another model" if other else "")
                        )
        if strengths:
            if imgui.button("Back to the base content"):
                state.set_content(base, f"content: {base.label}")
            imgui.same_line()
            dim_text(f"base: {base.label}")

    def _load_one(self, f: Frame, path: str) -> None:
        from engine.errors import SgvError

        try:
            entry = load_direction_entry(path)
        except SgvError as e:
            f.actions.notify(str(e), error=True)
            return
        if self.directions is None:
            self.directions = []
        if all(e.path != entry.path for e in self.directions):
            self.directions.append(entry)
        f.actions.notify(f"loaded direction '{entry.name}'")


def _folder_of(path: str) -> Path:
    p = Path(path.strip()).expanduser()
    return p.parent if path.strip() and p.parent.is_dir() and str(p.parent) != "." else Path.cwd()
