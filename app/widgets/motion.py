"""Motion: the motion seed, the anchors near the playhead, sliders moving the selected anchor's code u along
the model's principal motion directions, global sliders over the loop range's anchors, and resets.

An anchor edit is an override of that anchor's u (engine.MotionCodes.with_override), so it changes only
the frames with t in ((i-1)·δz, (i+1)·δz); the panel and the timeline show that range.
"""

from __future__ import annotations

import math

import numpy as np
from imgui_bundle import imgui, imgui_ctx

from app.gui.layout import Layout
from app.gui.style import colored, disabled, note_text
from app.render_types import AnchorRequest, MotionDirections
from app.state import AppState, Motion, affected_time_range
from app.widgets.base import Frame, Panel
from app.widgets.timeline import format_t

NEAR_BEFORE, NEAR_AFTER = 2, 3
UNIT_TIP = "σ: the spread of this model's anchor codes; ±1 σ is as far as a typical anchor code lies from the mean"
MAX_GLOBAL_ANCHORS = 256
MUTED_RGBA = (0.6, 0.6, 0.6, 1.0)
SLIDER_RANGE = 3.0  # ± σ, the spread of the model's anchor codes (see slider_unit)


# ----------------------------------------------------------------------------------------------------
# Pure parts


def nearest_anchor(t: float, delta_z: float) -> int:
    return int(math.floor(t / delta_z + 0.5))


def near_anchors(t: float, delta_z: float) -> list[int]:
    left = int(math.floor(t / delta_z))
    return list(range(left - NEAR_BEFORE, left + NEAR_AFTER + 1))


def loop_anchors(start: float, end: float, delta_z: float) -> list[int]:
    """Anchors the frames of [start, end) use (each frame uses floor(t/δz) and the next one)."""
    return list(range(int(math.floor(start / delta_z)), int(math.floor(end / delta_z)) + 2))


def slider_unit(dirs: MotionDirections) -> np.ndarray:
    """Code-space length of one slider unit along each direction. [K]

    One σ is the spread of the model's anchor codes: the RMS distance of an anchor code from the mean code.
    Not the spread along the direction itself: the anchor codes' variance is spread nearly evenly over all
    their dimensions (the bundled model: 128 dims, the top 8 directions hold 15 % of it, σ along each
    0.62-0.70 against 4.7 in all), so ±4 of a direction's own σ moved a code by less than the distance
    between two typical codes and changed the frame by 1-3 % RMSE. In these units ±1 σ is as far as a typical
    anchor code lies from the mean, and the slider ends (±3 σ) change the frame about as much as another
    motion seed does, or more. Directions computed without a spread (spread = 0) keep their own σ.
    """
    if dirs.spread > 0:
        return np.full(dirs.components.shape[0], dirs.spread, np.float64)
    return dirs.std.astype(np.float64)


def coords(u: np.ndarray, base: np.ndarray, dirs: MotionDirections) -> np.ndarray:
    """Slider values of code u: its offset from the unedited code along each direction, in σ. [K]"""
    return ((u.astype(np.float64) - base) @ dirs.components.T.astype(np.float64)) / slider_unit(dirs)


def move(u: np.ndarray, dirs: MotionDirections, j: int, delta: float) -> np.ndarray:
    """u moved by `delta` σ along direction j (other directions untouched)."""
    step = delta * float(slider_unit(dirs)[j])
    return (u.astype(np.float64) + step * dirs.components[j].astype(np.float64)).astype(np.float32)


def set_anchors(motion: Motion, codes: dict[int, tuple[np.ndarray, np.ndarray]]) -> Motion:
    """Override anchors' codes ({anchor: (u, unedited u)}); an anchor whose u is back at its unedited code
    loses its override, so undoing a slider by hand restores the exact original motion."""
    edits = dict(motion.overrides)
    for i, (u, base) in codes.items():
        if np.allclose(u, base, rtol=0, atol=1e-6 * max(float(np.abs(base).max()), 1.0)):
            edits.pop(i, None)
        else:
            edits[i] = u
    return Motion(motion.seed, edits)


class MotionPanel(Panel):
    name = "Motion"
    dock = "LeftBottomSpace"

    def __init__(self) -> None:
        self.follow = True
        self._gesture = 0

    # -- args --------------------------------------------------------------------------------------------
    def anchor_ranges(self, state: AppState, delta_z: float) -> tuple[tuple[int, int], ...]:
        """Anchors whose codes the sliders need: those near the playhead, and the loop range's (global sliders)."""
        near = near_anchors(state.timeline.t, delta_z)
        ranges = [(near[0], near[-1])]
        g = self.global_range(state, delta_z)
        if g is not None:
            ranges.append((g[0], g[-1]))
        return tuple(ranges)

    def global_range(self, state: AppState, delta_z: float) -> list[int] | None:
        tl = state.timeline
        anchors = loop_anchors(tl.loop_start, tl.loop_end, delta_z)
        return anchors if len(anchors) <= MAX_GLOBAL_ANCHORS else None

    def emit(self, f: Frame) -> None:
        model = f.view.model
        if model is None:
            return
        f.args.anchors = AnchorRequest(f.state.motion.seed, self.anchor_ranges(f.state, model.delta_z))
        f.args.directions = True
        if self.follow or f.state.selected_anchor is None:
            f.state.selected_anchor = nearest_anchor(f.state.timeline.t, model.delta_z)

    # -- drawing -----------------------------------------------------------------------------------------
    def draw(self, f: Frame) -> None:
        lay = Layout.current()
        state, model = f.state, f.view.model
        with imgui_ctx.push_item_width(lay.input_w):
            changed, seed = imgui.input_int("Motion seed", state.motion.seed)
        if changed:
            state.set_motion(Motion(seed), f"motion seed {seed}")
        n = len(state.motion.overrides)
        if n:
            imgui.same_line()
            imgui.text_disabled(f"{n} edited")
        if model is None:
            imgui.text_disabled("(no model)")
            return
        dz = model.delta_z
        self._anchor_list(f, dz)
        dirs = f.view.directions
        if dirs is None or dirs.fingerprint != model.fingerprint:
            imgui.text_disabled("computing principal motion directions ...")
            return
        imgui.separator()
        self._anchor_sliders(f, dirs, dz, lay)
        imgui.separator()
        self._global_sliders(f, dirs, dz, lay)
        imgui.separator()
        if imgui.button("Reset all edits") and state.motion.overrides:
            state.set_motion(state.motion.without_overrides(), "reset motion edits")
        imgui.same_line()
        imgui.text_disabled(f"{dirs.components.shape[0]} PCA directions, σ = {float(slider_unit(dirs)[0]):.3g}")
        if imgui.is_item_hovered():
            imgui.set_tooltip(
                f"principal directions of {dirs.samples} anchor codes of this model"
                + (", from the cache" if dirs.from_cache else ", computed now and cached")
                + ";\nσ: the spread of those codes (RMS distance of a code from their mean)"
            )

    def _anchor_list(self, f: Frame, dz: float) -> None:
        state = f.state
        _, self.follow = imgui.checkbox("Follow playhead", self.follow)
        imgui.same_line()
        imgui.text_disabled(f"anchors every {dz:g} frames")
        edited = set(state.motion.overrides)
        for k, i in enumerate(near_anchors(state.timeline.t, dz)):
            with imgui_ctx.push_id(str(i)):
                if k % 3:
                    imgui.same_line()
                label = f"anchor {i}{' *' if i in edited else ''}"
                clicked, _ = imgui.selectable(
                    label, i == state.selected_anchor, 0, imgui.ImVec2(imgui.get_font_size() * 7, 0)
                )
                if clicked:
                    state.selected_anchor, self.follow = i, False
                if imgui.is_item_hovered():
                    imgui.set_tooltip(f"anchor {i} at t = {format_t(i * dz)}" + (" (edited)" if i in edited else ""))

    def _anchor_sliders(self, f: Frame, dirs: MotionDirections, dz: float, lay: Layout) -> None:
        state = f.state
        i = state.selected_anchor
        base = f.view.anchor_code(state.motion.seed, i) if i is not None else None
        lo, hi = affected_time_range([i], dz) if i is not None else (0.0, 0.0)
        imgui.text(f"Anchor {i}: edits change t in ({format_t(lo)}, {format_t(hi)})")
        if base is None:
            imgui.text_disabled("fetching anchor codes ...")
            return
        u = state.motion.overrides.get(i, base)
        values = coords(u, base, dirs)
        with imgui_ctx.push_item_width(-lay.em * 4):
            for j, value in enumerate(values):
                shown = round(float(value), 4) + 0.0  # no "-0.00" from float32 round-off
                changed, new = imgui.slider_float(f"dir {j + 1}", shown, -SLIDER_RANGE, SLIDER_RANGE, "%+.2f σ")
                if imgui.is_item_hovered():
                    imgui.set_tooltip(UNIT_TIP)
                if imgui.is_item_activated():
                    self._gesture += 1
                if changed:
                    u = move(u, dirs, j, new - value)
                    motion = set_anchors(state.motion, {i: (u, base)})
                    state.set_motion(motion, f"edit anchor {i}", coalesce=("anchor", i, self._gesture))
        with disabled(i not in state.motion.overrides):
            if imgui.button("Reset anchor"):
                state.set_motion(state.motion.without_override(i), f"reset anchor {i}")

    def _global_sliders(self, f: Frame, dirs: MotionDirections, dz: float, lay: Layout) -> None:
        state = f.state
        anchors = self.global_range(state, dz)
        tl = state.timeline
        if anchors is None:
            note_text(f"Global sliders act on the loop range's anchors; narrow it to {MAX_GLOBAL_ANCHORS} anchors.")
            return
        bases = {i: f.view.anchor_code(state.motion.seed, i) for i in anchors}
        lo, hi = affected_time_range(anchors, dz)
        loop = f"{format_t(tl.loop_start)}..{format_t(tl.loop_end)}"
        imgui.text(f"Global (loop {loop}): changes t in ({format_t(lo)}, {format_t(hi)})")
        with colored(MUTED_RGBA):
            imgui.text_wrapped(f"Each row: the mean over the loop's {len(anchors)} anchors; moving it moves them all.")
        if any(b is None for b in bases.values()):
            imgui.text_disabled("fetching anchor codes ...")
            return
        current = {i: state.motion.overrides.get(i, bases[i]) for i in anchors}
        mean = np.mean([coords(current[i], bases[i], dirs) for i in anchors], axis=0)
        with imgui_ctx.push_item_width(-lay.em * 4):
            for j in range(min(3, len(mean))):
                shown = round(float(mean[j]), 4) + 0.0
                changed, new = imgui.slider_float(f"global {j + 1}", shown, -SLIDER_RANGE, SLIDER_RANGE, "mean %+.2f σ")
                if imgui.is_item_hovered():
                    imgui.set_tooltip(
                        f"mean over {len(anchors)} anchors of their offset along direction {j + 1}\n{UNIT_TIP}"
                    )
                if imgui.is_item_activated():
                    self._gesture += 1
                if changed:
                    moved = {i: (move(current[i], dirs, j, new - mean[j]), bases[i]) for i in anchors}
                    motion = set_anchors(state.motion, moved)
                    state.set_motion(motion, f"global motion edit {j + 1}", coalesce=("global", self._gesture))
