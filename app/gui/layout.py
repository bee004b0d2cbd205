"""Sizes derived from the font size (one `em`), never magic pixel numbers."""

from __future__ import annotations

from dataclasses import dataclass

from imgui_bundle import imgui


@dataclass(frozen=True)
class Layout:
    em: float

    @classmethod
    def current(cls) -> Layout:
        return cls(imgui.get_font_size())

    @property
    def button_w(self) -> float:
        return 6.0 * self.em

    @property
    def input_w(self) -> float:
        return 8.0 * self.em

    @property
    def thumb(self) -> float:
        """On-screen size of a grid thumbnail."""
        return 5.0 * self.em

    @staticmethod
    def stable_width() -> float:
        """Usable width of the current window whether or not its vertical scrollbar shows.

        Sizing items from get_content_region_avail() makes the layout oscillate when those items decide
        whether a scrollbar is needed (bigger → scrollbar → narrower → smaller → no scrollbar → ...),
        and a flickering button cannot be clicked.
        """
        style = imgui.get_style()
        return imgui.get_window_width() - 2 * style.window_padding.x - style.scrollbar_size

    @property
    def ruler_h(self) -> float:
        return 3.2 * self.em

    @property
    def strip_h(self) -> float:
        return 3.5 * self.em
