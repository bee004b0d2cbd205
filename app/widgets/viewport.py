"""Viewport: the current frame (one persistent GL texture), fit / 1:1 / zoom, pixel readout, and an overlay
with t, achieved fps and render time. Emits the main frame request.

With a cascade SR level open (docs/cascade.md) it shows low-res / SR / side by side (state.sr_view): the
low-res frame shows at once, drawn at the SR size, and the SR frame of the same request replaces it when
the renderer delivers it."""

from __future__ import annotations

from imgui_bundle import imgui, imgui_ctx

from app.gui.texture import Texture
from app.render_types import FrameRequest
from app.state import SR_VIEWS
from app.widgets.base import Frame, Panel
from app.widgets.timeline import format_t

OVERLAY_BG = imgui.IM_COL32(0, 0, 0, 160)
OVERLAY_FG = imgui.IM_COL32(235, 235, 235, 255)
ERROR_FG = imgui.IM_COL32(255, 120, 100, 255)


def fit_scale(image_hw: tuple[int, int], avail: tuple[float, float]) -> float:
    """Largest scale that shows the whole image in the available area."""
    h, w = image_hw
    if h <= 0 or w <= 0:
        return 1.0
    return max(min(avail[0] / w, avail[1] / h), 1e-3)


def pixel_at(mouse: tuple[float, float], origin: tuple[float, float], scale: float, image_hw: tuple[int, int]):
    """(x, y) image pixel under the mouse, or None outside the image."""
    x = int((mouse[0] - origin[0]) / scale)
    y = int((mouse[1] - origin[1]) / scale)
    if 0 <= x < image_hw[1] and 0 <= y < image_hw[0]:
        return x, y
    return None


class ViewportPanel(Panel):
    name = "Viewport"
    dock = "MainDockSpace"
    MODES = ("Fit", "1:1", "Zoom")

    def __init__(self) -> None:
        self.texture = Texture()
        self.mode = 0
        self.zoom = 4.0
        self.sr_texture = Texture()
        self.image_rect: tuple[float, float, float, float] | None = None  # on screen (x0, y0, x1, y1), for tests
        self.pane_rects: list[tuple[float, float, float, float]] = []  # every pane (side by side: low-res, SR)
        self.panes_shown: list[str] = []  # what each pane shows: "low-res", "SR" or "low-res (SR rendering)"

    @staticmethod
    def sr_mode(f: Frame) -> int:
        """0 low-res, 1 SR, 2 side by side (0 without an SR level)."""
        return SR_VIEWS.index(f.state.sr_view) if f.view.sr is not None else 0

    def emit(self, f: Frame) -> None:
        if f.view.model is not None:
            f.args.frame = FrameRequest(f.state.content, f.state.motion, f.state.timeline.t)
            f.args.sr = self.sr_mode(f) > 0

    def draw(self, f: Frame) -> None:
        for i, mode in enumerate(self.MODES):
            if i:
                imgui.same_line()
            if imgui.radio_button(mode, self.mode == i):
                self.mode = i
        if self.mode == 2:
            imgui.same_line()
            with imgui_ctx.push_item_width(imgui.get_font_size() * 10):
                _, self.zoom = imgui.slider_float(
                    "##zoom", self.zoom, 0.25, 32.0, "%.2fx", imgui.SliderFlags_.logarithmic
                )
        if f.view.sr is not None:
            imgui.same_line()
            imgui.text_disabled("|")
            for view in SR_VIEWS:
                imgui.same_line()
                if imgui.radio_button(view, f.state.sr_view == view):
                    f.state.sr_view = view
        frame = f.view.frame
        if frame is None:
            self._placeholder(f)
            return
        # Versioned by arrival, not by request stamp: another model answers the same stamp (identical args)
        # with a different picture.
        self.texture.update(frame.image, version=f.view.frames_shown)
        self._image(f, frame, self._panes(f, frame))

    def _panes(self, f: Frame, frame) -> list[tuple[Texture, object, str]]:
        """(texture, FrameResult, what) per pane, left to right."""
        mode = self.sr_mode(f)
        if mode == 0:
            return [(self.texture, frame, "low-res")]
        sr = f.view.current_sr_frame()
        if sr is not None:
            self.sr_texture.update(sr.image, version=("sr", f.view.sr_frames_shown))
            sr_pane = (self.sr_texture, sr, "SR")
        else:
            sr_pane = (self.texture, frame, "low-res (SR rendering)")
        return [sr_pane] if mode == 1 else [(self.texture, frame, "low-res"), sr_pane]

    def _placeholder(self, f: Frame) -> None:
        imgui.spacing()
        if f.view.model is None:
            if f.actions.model_loading:
                imgui.text("Loading model ...")
            else:
                imgui.text_wrapped("No model is loaded.")
                if f.view.model_error:
                    imgui.text_colored(imgui.ImVec4(1.0, 0.47, 0.4, 1.0), f.view.model_error)
                imgui.text_wrapped(
                    "Open a checkpoint with File > Open checkpoint... (Ctrl+O) or the Model panel"
                    + (", or drop a .safetensors file on this window." if f.actions.drops_supported else ".")
                )
        elif f.view.frame_error:
            imgui.text_colored(imgui.ImVec4(1.0, 0.47, 0.4, 1.0), f.view.frame_error)
        else:
            imgui.text("Rendering ...")

    def _image(self, f: Frame, frame, panes) -> None:
        h, w = self.texture.shape
        if f.view.sr is not None and self.sr_mode(f):
            h = w = f.view.sr.resolution  # every pane at the SR size: the picture does not jump when SR arrives
        gap = 8.0 if len(panes) > 1 else 0.0
        avail = imgui.get_content_region_avail()
        total_w = w * len(panes) + gap * (len(panes) - 1)
        scale = (fit_scale((h, total_w), (avail.x, avail.y)), 1.0, self.zoom)[self.mode]
        size = imgui.ImVec2(w * scale, h * scale)
        full = imgui.ImVec2(size.x * len(panes) + gap * (len(panes) - 1), size.y)
        imgui.begin_child("image", imgui.ImVec2(0, 0), 0, imgui.WindowFlags_.horizontal_scrollbar)
        try:
            region = imgui.get_content_region_avail()
            # Centre the image when it is smaller than the panel.
            pad_x, pad_y = max((region.x - full.x) / 2, 0.0), max((region.y - full.y) / 2, 0.0)
            cur = imgui.get_cursor_pos()
            imgui.set_cursor_pos(imgui.ImVec2(cur.x + pad_x, cur.y + pad_y))
            self.pane_rects, self.panes_shown = [], []
            for i, (texture, result, what) in enumerate(panes):
                if i:
                    imgui.same_line(0.0, gap)
                origin = imgui.get_cursor_screen_pos()
                imgui.image(texture.ref, size)
                self.pane_rects.append((origin.x, origin.y, origin.x + size.x, origin.y + size.y))
                self.panes_shown.append(what)
                if imgui.is_item_hovered():
                    if imgui.get_io().mouse_wheel and imgui.get_io().key_ctrl:
                        self.mode, self.zoom = (
                            2,
                            min(max(scale * (1.25 if imgui.get_io().mouse_wheel > 0 else 0.8), 0.25), 32),
                        )
                    self._readout(result, (origin.x, origin.y), size.x / max(result.image.shape[1], 1))
                if len(panes) > 1:
                    dl = imgui.get_window_draw_list()
                    label = f"{what} {result.image.shape[1]}²"
                    y1 = origin.y + size.y
                    tw = imgui.calc_text_size(label).x
                    lh = imgui.get_text_line_height()
                    dl.add_rect_filled(
                        imgui.ImVec2(origin.x, y1 - lh - 6), imgui.ImVec2(origin.x + tw + 10, y1), OVERLAY_BG, 4.0
                    )
                    dl.add_text(imgui.ImVec2(origin.x + 5, y1 - lh - 3), OVERLAY_FG, label)
            self.image_rect = self.pane_rects[0]
            self._overlay(f, frame, imgui.get_window_pos())
        finally:
            imgui.end_child()

    def _readout(self, frame, origin, scale: float) -> None:
        m = imgui.get_io().mouse_pos
        p = pixel_at((m.x, m.y), origin, scale, frame.image.shape[:2])
        if p is not None:
            r, g, b = (int(v) for v in frame.image[p[1], p[0]])
            imgui.set_tooltip(f"x {p[0]}, y {p[1]}\nRGB {r} {g} {b}")

    def _overlay(self, f: Frame, frame, pos) -> None:
        lines = [
            f"t {format_t(frame.request.t)}",
            f"{f.view.achieved_fps(f.now):.1f} fps shown" if f.state.timeline.playing else "paused",
            f"render {f.view.last_render_ms:.1f} ms" + ("  (prefetched)" if frame.cached else ""),
        ]
        if f.view.sr is not None and self.sr_mode(f):
            sr = f.view.current_sr_frame()
            if sr is None:
                lines.append(f"SR {f.view.sr.resolution}²: rendering ...")
            else:
                lines.append(f"SR {f.view.sr.resolution}²" + (f": {sr.render_ms:.1f} ms" if not sr.cached else ""))
        dl = imgui.get_window_draw_list()
        lh = imgui.get_text_line_height()
        width = max(imgui.calc_text_size(s).x for s in lines) + 10
        x, y = pos.x + 6, pos.y + 6
        dl.add_rect_filled(imgui.ImVec2(x, y), imgui.ImVec2(x + width, y + lh * len(lines) + 6), OVERLAY_BG, 4.0)
        for k, s in enumerate(lines):
            dl.add_text(imgui.ImVec2(x + 5, y + 3 + k * lh), OVERLAY_FG, s)
        if f.view.frame_error:
            dl.add_text(imgui.ImVec2(x + 5, y + 8 + len(lines) * lh), ERROR_FG, f.view.frame_error)
