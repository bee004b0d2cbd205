"""Colours and the few widget helpers imgui_bundle.imgui_ctx does not provide (push/pop pairs as context
managers come from imgui_ctx: push_id, push_item_width, push_style_color)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from imgui_bundle import imgui, imgui_ctx

ERROR_RGBA = (1.0, 0.45, 0.4, 1.0)
WARN_RGBA = (1.0, 0.8, 0.35, 1.0)
OK_RGBA = (0.55, 0.9, 0.55, 1.0)


@contextlib.contextmanager
def disabled(flag: bool = True) -> Iterator[None]:
    """begin_disabled/end_disabled, balanced even when the body raises (imgui_ctx has no such pair)."""
    imgui.begin_disabled(flag)
    try:
        yield
    finally:
        imgui.end_disabled()


def colored(rgba: tuple[float, float, float, float]):
    """A text-colour scope: `with colored(OK_RGBA): imgui.text(...)`."""
    return imgui_ctx.push_style_color(imgui.Col_.text, imgui.ImVec4(*rgba))


def help_marker(text: str) -> None:
    imgui.same_line()
    imgui.text_disabled("(?)")
    if imgui.is_item_hovered():
        imgui.set_tooltip(text)


def error_text(text: str) -> None:
    with colored(ERROR_RGBA):
        imgui.text_wrapped(text)


def note_text(text: str) -> None:
    with colored(WARN_RGBA):
        imgui.text_wrapped(text)
