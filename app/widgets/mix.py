"""Mix: a content × motion grid (rows motion seeds, columns contents) and favourites whose motions can be swapped.

Columns are the favourites' contents, then recent contents, up to MAX_COLS. Clicking a cell makes that
pair current (only the motion while content is locked).
"""

from __future__ import annotations

from imgui_bundle import imgui, imgui_ctx

from app.gui.layout import Layout
from app.gui.style import disabled
from app.gui.texture import Texture
from app.gui.thumbs import thumb_button
from app.render_types import ThumbRequest
from app.state import AppState, Content, Motion
from app.widgets.base import Frame, Panel
from app.widgets.content import thumb_time

MAX_COLS, MAX_ROWS = 4, 6


class MixPanel(Panel):
    name = "Mix"
    dock = "RightSpace"

    def __init__(self) -> None:
        self.motion_base = 0
        self.rows = 3
        self.fav_a, self.fav_b = 0, 1
        self.grid = Texture()
        self.thumb_t = 0.0

    def columns(self, state: AppState) -> list[Content]:
        cols: list[Content] = []
        for c in [f.content for f in state.favourites] + list(state.history):
            if c not in cols:
                cols.append(c)
        return cols[:MAX_COLS]

    def row_motions(self) -> list[Motion]:
        return [Motion(self.motion_base + r) for r in range(self.rows)]

    def cells(self, state: AppState) -> list[tuple[int, int, Content, Motion]]:
        return [(r, k, c, m) for r, m in enumerate(self.row_motions()) for k, c in enumerate(self.columns(state))]

    # -- args --------------------------------------------------------------------------------------------
    def emit(self, f: Frame) -> None:
        if f.view.model is None:
            return
        self.thumb_t = thumb_time(f.state, self.thumb_t)
        cols = self.columns(f.state)
        px = min(f.view.model.resolution, 128)
        cells = tuple((c, m, self.thumb_t) for _, _, c, m in self.cells(f.state))
        f.args.thumbs["mix"] = ThumbRequest(cells, max(len(cols), 1), px)

    # -- drawing -----------------------------------------------------------------------------------------
    def draw(self, f: Frame) -> None:
        lay = Layout.current()
        with imgui_ctx.push_item_width(lay.input_w * 0.8):
            _, base = imgui.input_int("Motion rows from seed", self.motion_base)
            self.motion_base = max(0, base)
            _, self.rows = imgui.slider_int("Rows", self.rows, 1, MAX_ROWS)
        self._grid(f, lay)
        imgui.separator()
        self._favourites(f, lay)

    def _grid(self, f: Frame, lay: Layout) -> None:
        state = f.state
        cols = self.columns(state)
        result = f.view.thumbs.get("mix")
        if result is not None:
            self.grid.update(result.atlas, version=id(result))
        shown = {(c.key, m.key): n for n, (c, m, _) in enumerate(result.request.cells)} if result else {}
        atlas_cols = result.request.columns if result else 1
        atlas_rows = max(1, -(-len(result.request.cells) // atlas_cols)) if result else 1
        label_w = lay.em * 4.5
        avail = lay.stable_width() - label_w
        size = min(lay.thumb * 1.2, avail / max(len(cols), 1) - imgui.get_style().item_spacing.x)
        imgui.text_disabled("rows: motions | columns: favourites, then recent contents")
        for r, m in enumerate(self.row_motions()):
            imgui.text(f"motion {m.seed}")
            imgui.same_line(label_w)
            for k, c in enumerate(cols):
                if k:
                    imgui.same_line()
                current = state.content == c and state.motion.seed == m.seed
                index = shown.get((c.key, m.key))
                if thumb_button(f"mix {r} {k}", self.grid, index, atlas_cols, atlas_rows, size, current):
                    if state.content_locked:
                        state.set_motion(m, f"motion {m.seed} (content locked)")
                    else:
                        state.set_pair(c, m, f"mix: {c.label} × motion {m.seed}")
                if imgui.is_item_hovered():
                    imgui.set_tooltip(f"{c.label} × motion {m.seed}")

    def _favourites(self, f: Frame, lay: Layout) -> None:
        state = f.state
        favs = state.favourites
        imgui.text(f"Favourites ({len(favs)})")
        imgui.same_line()
        if imgui.button("Add current"):
            state.add_favourite()
        for i, fav in enumerate(favs):
            with imgui_ctx.push_id(str(f"fav{i}")):
                if imgui.small_button("Use"):
                    state.set_pair(fav.content, fav.motion, f"use {fav.name}")
                imgui.same_line()
                imgui.text(f"{fav.name}: {fav.content.label}, {fav.motion.describe()}")
        if len(favs) < 2:
            imgui.text_disabled("Add two favourites to swap their motions.")
            return
        names = [fav.name for fav in favs]
        self.fav_a, self.fav_b = min(self.fav_a, len(favs) - 1), min(self.fav_b, len(favs) - 1)
        with imgui_ctx.push_item_width(lay.input_w * 0.7):
            _, self.fav_a = imgui.combo("A", self.fav_a, names)
            imgui.same_line()
            _, self.fav_b = imgui.combo("B", self.fav_b, names)
        with disabled(self.fav_a == self.fav_b):
            if imgui.button("Swap motions"):
                state.swap_motions(self.fav_a, self.fav_b)
                f.actions.notify(f"swapped the motions of {names[self.fav_a]} and {names[self.fav_b]}")
            imgui.same_line()
            if imgui.button("A content + B motion"):
                a, b = favs[self.fav_a], favs[self.fav_b]
                state.set_pair(a.content, b.motion, f"{a.name} content × {b.name} motion")
