"""Content: seed, ψ (truncation), a grid of content samples to click, lock, favourites and the history list."""

from __future__ import annotations

from imgui_bundle import imgui, imgui_ctx

from app.gui.layout import Layout
from app.gui.style import disabled
from app.gui.texture import Texture
from app.gui.thumbs import thumb_button
from app.render_types import ThumbRequest
from app.state import AppState, Content
from app.widgets.base import Frame, Panel
from app.widgets.timeline import format_t

GRID_COLS, GRID_ROWS = 3, 3


def thumb_time(state: AppState, previous: float) -> float:
    """Thumbnails show the playhead's t, but hold still while playing or scrubbing (no re-render per frame)."""
    tl = state.timeline
    return previous if (tl.playing or tl.scrubbing) else tl.t


class ContentPanel(Panel):
    name = "Content"
    dock = "LeftSpace"

    def __init__(self) -> None:
        self.grid_base = 0  # first seed of the grid page
        self.grid = Texture()
        self.thumb_t = 0.0
        self._psi_gesture = 0

    def grid_seeds(self) -> list[int]:
        return [self.grid_base + i for i in range(GRID_COLS * GRID_ROWS)]

    def grid_contents(self, state: AppState) -> list[Content]:
        c = state.content
        return [Content.from_seed(s, c.psi, c.c) for s in self.grid_seeds()]

    # -- args --------------------------------------------------------------------------------------------
    def emit(self, f: Frame) -> None:
        if f.view.model is None:
            return
        self.thumb_t = thumb_time(f.state, self.thumb_t)
        px = min(f.view.model.resolution, 128)
        cells = tuple((c, f.state.motion, self.thumb_t) for c in self.grid_contents(f.state))
        f.args.thumbs["content_grid"] = ThumbRequest(cells, GRID_COLS, px)

    # -- drawing -----------------------------------------------------------------------------------------
    def draw(self, f: Frame) -> None:
        lay = Layout.current()
        state = f.state
        content = state.content
        imgui.text("Current:")
        imgui.same_line()
        imgui.text_colored(imgui.ImVec4(1.0, 0.85, 0.4, 1.0), content.label)
        with disabled(state.content_locked):
            self._seed_and_psi(f, lay)
        _, state.content_locked = imgui.checkbox("Lock content", state.content_locked)
        if imgui.is_item_hovered():
            imgui.set_tooltip("While locked, grid and Mix clicks change only the motion")
        imgui.same_line()
        if imgui.button("Add favourite"):
            fav = state.add_favourite()
            f.actions.notify(f"added {fav.name}: {fav.content.label}, {fav.motion.describe()}")
        imgui.separator()
        self._grid(f, lay)
        imgui.separator()
        self._history(f)

    def _seed_and_psi(self, f: Frame, lay: Layout) -> None:
        state = f.state
        content = state.content
        with imgui_ctx.push_item_width(lay.input_w):
            changed, seed = imgui.input_int("Seed", content.seed if content.seed is not None else 0)
            if changed and seed >= 0:
                state.set_content(Content.from_seed(seed, content.psi, content.c))
            changed, psi = imgui.slider_float("psi (truncation)", content.psi, 0.0, 1.5, "%.2f")
            if imgui.is_item_activated():
                self._psi_gesture += 1
            if changed and content.seed is not None:
                new = Content.from_seed(content.seed, psi, content.c)
                state.set_content(new, f"ψ {psi:.2f}", coalesce=("psi", self._psi_gesture))
            model = f.view.model
            if model is not None and model.c_dim > 0:
                changed, c = imgui.input_int("Class", content.c or 0)
                if changed and 0 <= c < model.c_dim and content.seed is not None:
                    state.set_content(Content.from_seed(content.seed, content.psi, c))

    def _grid(self, f: Frame, lay: Layout) -> None:
        state = f.state
        if imgui.button("Prev page") and self.grid_base >= GRID_COLS * GRID_ROWS:
            self.grid_base -= GRID_COLS * GRID_ROWS
        imgui.same_line()
        if imgui.button("Next page"):
            self.grid_base += GRID_COLS * GRID_ROWS
        imgui.same_line()
        seeds = self.grid_seeds()
        imgui.text_disabled(f"seeds {seeds[0]}-{seeds[-1]} at t {format_t(self.thumb_t)}")
        result = f.view.thumbs.get("content_grid")
        if result is not None:
            self.grid.update(result.atlas, version=id(result))
        shown = [c for c, _, _ in result.request.cells] if result is not None else []
        avail = lay.stable_width()
        size = min(lay.thumb * 1.1, (avail - 2 * imgui.get_style().item_spacing.x) / GRID_COLS)
        current = state.content
        for i, content in enumerate(self.grid_contents(state)):
            if i % GRID_COLS:
                imgui.same_line()
            index = shown.index(content) if content in shown else None
            selected = current.ws is None and current.seed == content.seed
            if thumb_button(f"cell {i}", self.grid, index, GRID_COLS, GRID_ROWS, size, selected, str(content.seed)):
                if state.content_locked:
                    f.actions.notify("content is locked (untick Lock content)", error=True)
                else:
                    state.set_content(content, f"content: seed {content.seed}")
            if imgui.is_item_hovered():
                imgui.set_tooltip(f"seed {content.seed}, ψ {content.psi:.2f}: click to use")

    def _history(self, f: Frame) -> None:
        state = f.state
        imgui.text("History")
        height = max(imgui.get_content_region_avail().y, 4.5 * imgui.get_text_line_height_with_spacing())
        imgui.begin_child("history", imgui.ImVec2(0, height), imgui.ChildFlags_.borders)
        try:
            for i, content in enumerate(state.history):
                with imgui_ctx.push_id(str(i)):
                    clicked, _ = imgui.selectable(content.label, content == state.content)
                    if clicked and content != state.content and not state.content_locked:
                        state.set_content(content, f"content: {content.label}")
        finally:
            imgui.end_child()
