"""A modal file chooser drawn with imgui.

Native dialogs (portable_file_dialogs) shell out to zenity/kdialog, which may be missing and which the
imgui test engine cannot drive. This one is a popup with a folder field, a list, a file name field and
Open/Save and Cancel buttons; typing a full path into "File name" and pressing Enter works too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from imgui_bundle import hello_imgui, imgui, imgui_ctx

from app.gui.style import error_text


@dataclass(frozen=True)
class Entry:
    name: str
    is_dir: bool
    size: int


def list_entries(folder: Path, extensions: tuple[str, ...] = (), show_hidden: bool = False) -> list[Entry]:
    """Folders first, then files whose suffix is in `extensions` (all files when empty), each sorted by name."""
    dirs, files = [], []
    try:
        with os.scandir(folder) as it:
            for e in it:
                if not show_hidden and e.name.startswith("."):
                    continue
                try:
                    if e.is_dir():
                        dirs.append(Entry(e.name, True, 0))
                    elif not extensions or e.name.lower().endswith(extensions):
                        files.append(Entry(e.name, False, e.stat().st_size))
                except OSError:
                    continue  # a broken link or a file that vanished
    except OSError:
        return []
    key = lambda e: e.name.lower()  # noqa: E731
    return sorted(dirs, key=key) + sorted(files, key=key)


def human_size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


class FileDialog:
    """mode "open": pick an existing file; "save": pick a file name to write (folder must exist)."""

    def __init__(self, title: str, mode: str = "open", extensions: tuple[str, ...] = (), default_ext: str = ""):
        self.title, self.mode = title, mode
        self.extensions = tuple(e.lower() for e in extensions)
        self.default_ext = default_ext
        self.folder = Path.cwd()
        self.name = ""
        self.all_files = not self.extensions
        self.error = ""
        self._want_open = False
        self._entries: list[Entry] | None = None

    # -- pure parts --------------------------------------------------------------------------------------
    def open(self, folder: str | os.PathLike | None = None, name: str = "") -> None:
        if folder is not None and Path(folder).is_dir():
            self.folder = Path(folder).resolve()
        self.name, self.error, self._entries = name, "", None
        self._want_open = True

    def navigate(self, folder: str | os.PathLike) -> None:
        p = Path(folder).expanduser()
        if not p.is_absolute():
            p = self.folder / p
        if p.is_dir():
            self.folder, self._entries, self.error = p.resolve(), None, ""
        else:
            self.error = f"{p}: no such folder"

    def accept(self, name: str) -> str | None:
        """The chosen path for `name` (relative to the folder, or absolute), or None with self.error set."""
        name = name.strip()
        if not name:
            self.error = "type a file name or pick one from the list"
            return None
        p = Path(name).expanduser()
        if not p.is_absolute():
            p = self.folder / p
        if p.is_dir():
            self.navigate(p)
            self.name = ""
            return None
        if self.mode == "open" and not p.is_file():
            self.error = f"{p}: no such file"
            return None
        if self.mode == "save":
            if not p.parent.is_dir():
                self.error = f"{p.parent}: no such folder"
                return None
            if self.default_ext and not p.suffix:
                p = p.with_suffix(self.default_ext)
        self.error = ""
        return str(p)

    def entries(self) -> list[Entry]:
        if self._entries is None:
            self._entries = list_entries(self.folder, () if self.all_files else self.extensions)
        return self._entries

    # -- drawing -----------------------------------------------------------------------------------------
    def draw(self) -> str | None:
        """Call every frame from the same place; returns the chosen path once, else None."""
        if self._want_open:
            imgui.open_popup(self.title)
            self._want_open = False
        imgui.set_next_window_size(hello_imgui.em_to_vec2(46, 28), imgui.Cond_.appearing)
        shown, _ = imgui.begin_popup_modal(self.title, None, 0)
        if not shown:
            return None
        chosen = None
        try:
            chosen = self._draw_body()
            if chosen is not None:
                imgui.close_current_popup()
        finally:
            imgui.end_popup()
        return chosen

    def _draw_body(self) -> str | None:
        chosen = None
        if imgui.button("Up"):
            self.navigate(self.folder.parent)
        imgui.same_line()
        imgui.set_next_item_width(-1)
        changed, folder = imgui.input_text("##folder", str(self.folder), imgui.InputTextFlags_.enter_returns_true)
        if changed:
            self.navigate(folder)
        list_h = imgui.get_content_region_avail().y - 4.6 * imgui.get_frame_height_with_spacing()
        imgui.begin_child("entries", imgui.ImVec2(0, max(list_h, 4 * imgui.get_text_line_height())), True)
        try:
            for i, e in enumerate(self.entries()):
                with imgui_ctx.push_id(str(i)):
                    label = f"{e.name}/" if e.is_dir else f"{e.name}    ({human_size(e.size)})"
                    clicked, _ = imgui.selectable(label, e.name == self.name, imgui.SelectableFlags_.allow_double_click)
                    if clicked:
                        if e.is_dir and imgui.is_mouse_double_clicked(0):
                            self.navigate(self.folder / e.name)
                            break
                        self.name = e.name
                        if not e.is_dir and imgui.is_mouse_double_clicked(0):
                            chosen = self.accept(e.name)
        finally:
            imgui.end_child()
        # A negative width leaves room for the label on the right (-1 would push it past the dialog's edge).
        style = imgui.get_style()
        imgui.set_next_item_width(-(imgui.calc_text_size("File name").x + style.item_inner_spacing.x + 1))
        entered, self.name = imgui.input_text("File name", self.name, imgui.InputTextFlags_.enter_returns_true)
        if entered:
            chosen = self.accept(self.name)
        if self.extensions:
            changed, self.all_files = imgui.checkbox("Show all files", self.all_files)
            if changed:
                self._entries = None
            imgui.same_line()
            imgui.text_disabled(" ".join(self.extensions))
        if self.error:
            error_text(self.error)
        if imgui.button("Open" if self.mode == "open" else "Save", hello_imgui.em_to_vec2(7, 0)):
            chosen = self.accept(self.name)
        imgui.same_line()
        if imgui.button("Cancel", hello_imgui.em_to_vec2(7, 0)) or imgui.is_key_pressed(imgui.Key.escape):
            imgui.close_current_popup()
        return chosen
