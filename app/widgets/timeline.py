"""Timeline: play/pause, loop range, speed, playback fps, frame step, jump to any t, a ruler to scrub
(with anchor ticks every δz and the time ranges motion edits touch) and a thumbnail strip.

The ruler shows t in [view_start, view_start + view_span]; the mouse wheel zooms it around the pointer.
Dragging on it sets t (the view stays put while dragging); the view pages to follow the playhead.
"""

from __future__ import annotations

import math

from imgui_bundle import imgui, imgui_ctx

from app.gui.layout import Layout
from app.gui.texture import Texture
from app.playback import MAX_FPS, MIN_FPS, frame_step
from app.render_types import ThumbRequest
from app.state import affected_time_range
from app.widgets.base import Frame, Panel

STRIP_CELLS = 10
MIN_TICK_PX = 7.0
MIN_LABEL_PX = 70.0
MIN_SPAN, MAX_SPAN = 1.0, 1e7

COL_BG = imgui.IM_COL32(28, 30, 34, 255)
COL_LOOP = imgui.IM_COL32(70, 110, 160, 70)
COL_EDIT = imgui.IM_COL32(230, 150, 40, 70)
COL_EDIT_EDGE = imgui.IM_COL32(230, 150, 40, 200)
COL_TICK = imgui.IM_COL32(120, 120, 130, 255)
COL_LABEL = imgui.IM_COL32(190, 190, 200, 255)
COL_PLAYHEAD = imgui.IM_COL32(255, 80, 60, 255)


# ----------------------------------------------------------------------------------------------------
# Pure math (unit-tested without a window)


def t_at(x: float, x0: float, width: float, view_start: float, view_span: float) -> float:
    """t under screen x on a ruler starting at x0 of `width` px (clamped to the ruler)."""
    frac = min(max((x - x0) / max(width, 1e-6), 0.0), 1.0)
    return view_start + frac * view_span


def x_at(t: float, x0: float, width: float, view_start: float, view_span: float) -> float:
    return x0 + (t - view_start) / view_span * width


def zoom_view(view_start: float, view_span: float, t_pivot: float, factor: float) -> tuple[float, float]:
    """Zoom by `factor` (>1 zooms out) keeping t_pivot under the pointer."""
    span = min(max(view_span * factor, MIN_SPAN), MAX_SPAN)
    start = t_pivot - (t_pivot - view_start) * span / view_span
    return start, span


def anchor_ticks(view_start: float, view_span: float, delta_z: float, width: float) -> tuple[int, list[int]]:
    """(stride, anchor indices) of the anchors to tick: every stride-th, stride a power of 2 so ticks stay ≥ 7 px."""
    px_per_anchor = delta_z / view_span * width
    stride = 1
    while px_per_anchor * stride < MIN_TICK_PX:
        stride *= 2
    first = math.ceil(view_start / delta_z / stride) * stride
    last = math.floor((view_start + view_span) / delta_z)
    return stride, list(range(first, last + 1, stride))


def label_step(view_span: float, width: float) -> float:
    """A 1-2-5 step in t between ruler labels, at least MIN_LABEL_PX apart."""
    raw = view_span * MIN_LABEL_PX / max(width, 1.0)
    base = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * base >= raw:
            return m * base
    return 10 * base


def strip_times(view_start: float, view_span: float, cells: int = STRIP_CELLS) -> tuple[float, ...]:
    """t at the centre of each strip cell."""
    return tuple(view_start + (i + 0.5) * view_span / cells for i in range(cells))


def clamp_fps(fps: float, previous: float) -> float:
    """A typed frame rate within MIN_FPS..MAX_FPS, kept as typed (29.97 stays 29.97); NaN keeps `previous`."""
    if not math.isfinite(fps):
        return previous
    return float(min(max(fps, MIN_FPS), MAX_FPS))


def format_t(t: float, resolution: float | None = None) -> str:
    """t with as many digits as `resolution` (the smallest step in t that must show) needs.

    Without a resolution t is shown to 1e-6 with trailing zeros dropped (1000000.3, 12.5, 3.333333). Plain
    decimals up to 1e12 (whole frames stay readable); beyond, scientific with enough significant digits.
    """
    if not math.isfinite(t):
        return str(t)
    res = 1e-6 if resolution is None or not resolution > 0 else float(resolution)
    decimals = max(0, math.ceil(-math.log10(res) - 1e-9))
    if abs(t) >= 1e12:
        digits = max(1, math.floor(math.log10(abs(t))) - math.floor(math.log10(res) + 1e-9))
        return f"{t:.{min(digits, 17)}e}"
    text = f"{t:.{decimals}f}"
    if resolution is None and "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.lstrip("-") if float(text) == 0 else text  # no "-0"


def _next_step(step: float) -> float:
    """The 1-2-5 step after `step`."""
    base = 10 ** math.floor(math.log10(step) + 1e-9)
    m = round(step / base)
    return (2 if m < 2 else 5 if m < 5 else 10) * base


def ruler_labels(view_start: float, view_span: float, width: float, char_px: float) -> list[tuple[float, str]]:
    """(t, text) of the ruler's labels: a 1-2-5 step wide enough for the longest label (each ~char_px per
    character), every text with the digits that step needs, so neighbouring labels always differ."""
    step = label_step(view_span, width)
    while True:
        first = math.ceil(view_start / step)
        last = math.floor((view_start + view_span) / step)
        labels = [(k * step, format_t(k * step, step)) for k in range(first, last + 1)]  # k·step: no drift
        longest = max((len(text) for _, text in labels), default=0)
        if (longest + 1) * char_px <= step / view_span * width:
            return labels
        step = _next_step(step)


# ----------------------------------------------------------------------------------------------------


class TimelinePanel(Panel):
    name = "Timeline"
    dock = "TimelineSpace"

    def __init__(self) -> None:
        self.strip = Texture()

    # -- args --------------------------------------------------------------------------------------------
    def emit(self, f: Frame) -> None:
        if f.view.model is None:
            return
        tl = f.state.timeline
        px = min(f.view.model.resolution, 96)
        cells = tuple((f.state.content, f.state.motion, t) for t in strip_times(tl.view_start, tl.view_span))
        f.args.thumbs["strip"] = ThumbRequest(cells, STRIP_CELLS, px)

    # -- drawing -----------------------------------------------------------------------------------------
    def draw(self, f: Frame) -> None:
        lay = Layout.current()
        self._transport(f, lay)
        self._ruler(f, lay)
        self._strip(f, lay)

    def _transport(self, f: Frame, lay: Layout) -> None:
        tl = f.state.timeline
        native = f.view.model.native_fps if f.view.model else 25.0
        if imgui.button("Pause" if tl.playing else "Play", imgui.ImVec2(lay.button_w * 0.8, 0)):
            tl.playing = not tl.playing
        imgui.same_line()
        step = frame_step(tl.fps, native, tl.time_scale or 1.0)
        if imgui.arrow_button("Step back", imgui.Dir.left):
            tl.playing = False
            tl.set_t(tl.t - step)
        imgui.same_line()
        if imgui.arrow_button("Step forward", imgui.Dir.right):
            tl.playing = False
            tl.set_t(tl.t + step)
        imgui.same_line()
        with imgui_ctx.push_item_width(lay.input_w):
            flags = imgui.InputTextFlags_.enter_returns_true | imgui.InputTextFlags_.chars_scientific
            entered, t = imgui.input_double("t (frames)", tl.t, 0.0, 0.0, "%.10g", flags)
            if entered:
                tl.set_t(t)
        if imgui.is_item_hovered():
            imgui.set_tooltip("Type any time and press Enter: 12.37, -40, 1e6 ... (t in training-data frames)")
        imgui.same_line()
        with imgui_ctx.push_item_width(lay.input_w * 0.7):
            _, tl.time_scale = imgui.drag_float("Speed", tl.time_scale, 0.01, -16.0, 16.0, "%.2fx")
        if imgui.is_item_hovered():
            imgui.set_tooltip("Time scale: t advanced per native frame of playback; negative plays backwards")
        imgui.same_line()
        with imgui_ctx.push_item_width(lay.input_w * 0.9):
            # Typed, not a slider: fractional rates (23.976, 29.97, 7.5) are what video formats use.
            changed, fps = imgui.input_double("FPS", tl.fps, 1.0, 5.0, "%.6g")
            if changed:
                tl.fps = clamp_fps(fps, tl.fps)
        if imgui.is_item_hovered():
            imgui.set_tooltip(f"Playback frames per second, {MIN_FPS}..{MAX_FPS}; fractional rates such as 23.976 too")
        _, tl.loop = imgui.checkbox("Loop", tl.loop)
        imgui.same_line()
        with imgui_ctx.push_item_width(lay.input_w * 0.6):
            changed_a, start = imgui.input_double("##loop start", tl.loop_start, 0.0, 0.0, "%.6g")
            imgui.same_line()
            changed_b, end = imgui.input_double("Loop range", tl.loop_end, 0.0, 0.0, "%.6g")
        if changed_a or changed_b:
            tl.set_loop(start, end)
        imgui.same_line()
        if imgui.button("Fit loop"):
            tl.view_start, tl.view_span = tl.loop_start, tl.loop_end - tl.loop_start
        imgui.same_line()
        imgui.text_disabled(f"step {format_t(step)} t/frame, {native:g} native fps")

    def _ruler(self, f: Frame, lay: Layout) -> None:
        tl = f.state.timeline
        width = max(imgui.get_content_region_avail().x, 10.0)
        height = lay.ruler_h
        p0 = imgui.get_cursor_screen_pos()
        imgui.invisible_button("ruler", imgui.ImVec2(width, height))
        active, hovered = imgui.is_item_active(), imgui.is_item_hovered()
        mouse = imgui.get_io().mouse_pos
        if active:
            tl.t = t_at(mouse.x, p0.x, width, tl.view_start, tl.view_span)  # the view stays put while dragging
        tl.scrubbing = active
        if hovered:
            wheel = imgui.get_io().mouse_wheel
            if wheel:
                pivot = t_at(mouse.x, p0.x, width, tl.view_start, tl.view_span)
                tl.view_start, tl.view_span = zoom_view(tl.view_start, tl.view_span, pivot, 0.8 if wheel > 0 else 1.25)
            t = t_at(mouse.x, p0.x, width, tl.view_start, tl.view_span)
            imgui.set_tooltip(f"t = {format_t(t, tl.view_span / width)}")  # to the pixel
        self._draw_ruler(f, p0, width, height)

    def _draw_ruler(self, f: Frame, p0, width: float, height: float) -> None:
        tl = f.state.timeline
        dl = imgui.get_window_draw_list()
        x1, y1 = p0.x + width, p0.y + height
        dl.push_clip_rect(p0, imgui.ImVec2(x1, y1), True)
        try:
            dl.add_rect_filled(p0, imgui.ImVec2(x1, y1), COL_BG)

            def xs(t: float) -> float:
                return x_at(t, p0.x, width, tl.view_start, tl.view_span)

            if tl.loop:
                dl.add_rect_filled(imgui.ImVec2(xs(tl.loop_start), p0.y), imgui.ImVec2(xs(tl.loop_end), y1), COL_LOOP)
            if f.view.model is not None:
                dz = f.view.model.delta_z
                for anchor in f.state.motion.edited_anchors:
                    a, b = affected_time_range([anchor], dz)
                    if b >= tl.view_start and a <= tl.view_start + tl.view_span:
                        dl.add_rect_filled(imgui.ImVec2(xs(a), p0.y), imgui.ImVec2(xs(b), y1), COL_EDIT)
                        dl.add_line(
                            imgui.ImVec2(xs(anchor * dz), p0.y), imgui.ImVec2(xs(anchor * dz), y1), COL_EDIT_EDGE
                        )
                _, anchors = anchor_ticks(tl.view_start, tl.view_span, dz, width)
                for i in anchors:
                    x = xs(i * dz)
                    dl.add_line(imgui.ImVec2(x, y1 - height * 0.28), imgui.ImVec2(x, y1), COL_TICK)
            for t, text in ruler_labels(tl.view_start, tl.view_span, width, imgui.calc_text_size("0").x):
                x = xs(t)
                dl.add_line(imgui.ImVec2(x, p0.y), imgui.ImVec2(x, p0.y + height * 0.3), COL_LABEL)
                dl.add_text(imgui.ImVec2(x + 3, p0.y + 2), COL_LABEL, text)
            xp = xs(tl.t)
            dl.add_line(imgui.ImVec2(xp, p0.y), imgui.ImVec2(xp, y1), COL_PLAYHEAD, 2.0)
        finally:
            dl.pop_clip_rect()

    def _strip(self, f: Frame, lay: Layout) -> None:
        tl = f.state.timeline
        width = max(imgui.get_content_region_avail().x, 10.0)
        height = max(lay.strip_h, imgui.get_content_region_avail().y - imgui.get_style().window_padding.y)
        p0 = imgui.get_cursor_screen_pos()
        if imgui.invisible_button("strip", imgui.ImVec2(width, height)):
            tl.set_t(t_at(imgui.get_io().mouse_pos.x, p0.x, width, tl.view_start, tl.view_span))
        result = f.view.thumbs.get("strip")
        dl = imgui.get_window_draw_list()
        if result is None:
            dl.add_rect_filled(p0, imgui.ImVec2(p0.x + width, p0.y + height), COL_BG)
            return
        self.strip.update(result.atlas, version=id(result))
        cell_w = width / STRIP_CELLS
        for i in range(STRIP_CELLS):
            with imgui_ctx.push_id(str(i)):
                a = imgui.ImVec2(p0.x + i * cell_w, p0.y)
                b = imgui.ImVec2(p0.x + (i + 1) * cell_w - 1, p0.y + height)
                # Cells are square; show the middle band so the strip keeps its height.
                aspect = (b.x - a.x) / height
                v_pad = max(0.0, (1 - 1 / aspect) / 2) if aspect > 1 else 0.0
                uv0 = imgui.ImVec2(i / STRIP_CELLS, v_pad)
                uv1 = imgui.ImVec2((i + 1) / STRIP_CELLS, 1 - v_pad)
                dl.add_image(self.strip.ref, a, b, uv0, uv1)
