"""Clickable thumbnails cut from one atlas texture (one upload per grid instead of one texture per cell)."""

from __future__ import annotations

from imgui_bundle import imgui

from app.gui.texture import Texture

BORDER = imgui.IM_COL32(90, 90, 90, 255)
SELECTED = imgui.IM_COL32(255, 200, 60, 255)
HOVERED = imgui.IM_COL32(200, 200, 200, 255)
EMPTY = imgui.IM_COL32(35, 35, 40, 255)


def atlas_uv(index: int, columns: int, rows: int) -> tuple[tuple[float, float], tuple[float, float]]:
    r, c = divmod(index, columns)
    return (c / columns, r / rows), ((c + 1) / columns, (r + 1) / rows)


def thumb_button(
    str_id: str,
    tex: Texture,
    index: int | None,
    columns: int,
    rows: int,
    size: float,
    selected: bool = False,
    caption: str = "",
) -> bool:
    """An invisible button showing atlas cell `index` (None: not rendered yet). Returns True when clicked."""
    p0 = imgui.get_cursor_screen_pos()
    clicked = imgui.invisible_button(str_id, imgui.ImVec2(size, size))
    hovered = imgui.is_item_hovered()
    p1 = imgui.ImVec2(p0.x + size, p0.y + size)
    dl = imgui.get_window_draw_list()
    if tex.ready and index is not None:
        uv0, uv1 = atlas_uv(index, columns, rows)
        dl.add_image(tex.ref, p0, p1, imgui.ImVec2(*uv0), imgui.ImVec2(*uv1))
    else:
        dl.add_rect_filled(p0, p1, EMPTY)
    if caption:
        dl.add_rect_filled(
            p0, imgui.ImVec2(p1.x, p0.y + imgui.get_text_line_height() + 2), imgui.IM_COL32(0, 0, 0, 150)
        )
        dl.add_text(imgui.ImVec2(p0.x + 3, p0.y + 1), imgui.IM_COL32(235, 235, 235, 255), caption)
    color = SELECTED if selected else (HOVERED if hovered else BORDER)
    dl.add_rect(p0, p1, color, 0.0, 2.0 if selected else 1.0)
    return clicked
