"""Push/pop pairs as context managers, so an exception inside never leaves imgui's stacks unbalanced."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from imgui_bundle import imgui


@contextlib.contextmanager
def id_scope(key: str | int) -> Iterator[None]:
    imgui.push_id(str(key))
    try:
        yield
    finally:
        imgui.pop_id()


@contextlib.contextmanager
def disabled(flag: bool = True) -> Iterator[None]:
    imgui.begin_disabled(flag)
    try:
        yield
    finally:
        imgui.end_disabled()


@contextlib.contextmanager
def style_color(idx: int, rgba: tuple[float, float, float, float]) -> Iterator[None]:
    imgui.push_style_color(idx, imgui.ImVec4(*rgba))
    try:
        yield
    finally:
        imgui.pop_style_color()


@contextlib.contextmanager
def item_width(width: float) -> Iterator[None]:
    imgui.push_item_width(width)
    try:
        yield
    finally:
        imgui.pop_item_width()


def help_marker(text: str) -> None:
    imgui.same_line()
    imgui.text_disabled("(?)")
    if imgui.is_item_hovered():
        imgui.set_tooltip(text)


ERROR_RGBA = (1.0, 0.45, 0.4, 1.0)
WARN_RGBA = (1.0, 0.8, 0.35, 1.0)
OK_RGBA = (0.55, 0.9, 0.55, 1.0)


def error_text(text: str) -> None:
    with style_color(imgui.Col_.text, ERROR_RGBA):
        imgui.text_wrapped(text)


def note_text(text: str) -> None:
    with style_color(imgui.Col_.text, WARN_RGBA):
        imgui.text_wrapped(text)
