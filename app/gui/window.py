"""The main window: hello_imgui's runner parameters, the docking layout and the dockable panel windows.

The layout is data (`DOCK_SPLITS`): side columns take the full height, the timeline sits under the viewport.
hello_imgui keeps the user's arrangement in `layout.ini` in the user's config dir (app/paths.py), never in the
repository or the working directory. No torch here, no app state: app/main.py passes in what it owns.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

WINDOW_TITLE = "StyleGAN-V Studio"

# (dock space to split, new dock space, side, fraction of the split space)
DOCK_SPLITS = (
    ("MainDockSpace", "LeftSpace", "left", 0.22),
    ("MainDockSpace", "RightSpace", "right", 0.33),
    ("MainDockSpace", "TimelineSpace", "down", 0.25),
    ("LeftSpace", "LeftBottomSpace", "down", 0.52),
    ("RightSpace", "RightBottomSpace", "down", 0.45),
)


def has_display() -> bool:
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def runner_params(
    window_size: str, layout_ini: Path, panels: Sequence, draw_panel: Callable, callbacks: dict[str, Callable]
):
    """hello_imgui.RunnerParams of the main window: its size ("1600x1000"), menu and status bars, the docking
    layout, one dockable window per panel (drawn by `draw_panel(panel)`; only the Viewport cannot be closed),
    and `callbacks` by hello_imgui's names (post_init, pre_new_frame, show_gui, show_menus, ...)."""
    from imgui_bundle import hello_imgui, imgui

    rp = hello_imgui.RunnerParams()
    rp.app_window_params.window_title = WINDOW_TITLE
    w, h = (int(v) for v in window_size.lower().split("x"))
    rp.app_window_params.window_geometry.size = (w, h)
    rp.app_window_params.restore_previous_geometry = True
    rp.imgui_window_params.default_imgui_window_type = hello_imgui.DefaultImGuiWindowType.provide_full_screen_dock_space
    rp.imgui_window_params.show_menu_bar = True
    rp.imgui_window_params.show_menu_app = False
    rp.imgui_window_params.show_menu_view = False
    rp.imgui_window_params.show_status_bar = True
    rp.imgui_window_params.show_status_fps = False
    rp.ini_folder_type = hello_imgui.IniFolderType.absolute_path
    rp.ini_filename = str(layout_ini)
    for name, fn in callbacks.items():
        setattr(rp.callbacks, name, fn)

    sides = {"left": imgui.Dir.left, "right": imgui.Dir.right, "down": imgui.Dir.down, "up": imgui.Dir.up}
    splits = []
    for initial, new, side, ratio in DOCK_SPLITS:
        s = hello_imgui.DockingSplit()
        s.initial_dock, s.new_dock, s.direction, s.ratio = initial, new, sides[side], ratio
        splits.append(s)
    rp.docking_params.docking_splits = splits
    windows = []
    for panel in panels:
        win = hello_imgui.DockableWindow()
        win.label, win.dock_space_name = panel.name, panel.dock
        win.gui_function = lambda panel=panel: draw_panel(panel)
        win.can_be_closed = panel.name != "Viewport"
        windows.append(win)
    rp.docking_params.dockable_windows = windows
    return rp


def dockable(rp, name: str):
    """The dockable window titled `name`, or None."""
    for w in rp.docking_params.dockable_windows:
        if w.label == name:
            return w
    return None


def focus_window(rp, name: str) -> None:
    """Show the dockable window `name` and bring it to the front at the next frame."""
    w = dockable(rp, name)
    if w is not None:
        w.is_visible = True
        w.focus_window_at_next_frame = True


def save_screenshot(path: str) -> None:
    """The last frame of the window as a PNG (`sgv-studio --screenshot`)."""
    from imgui_bundle import hello_imgui
    from PIL import Image

    image = hello_imgui.final_app_window_screenshot()
    if image is None or image.size == 0:
        print(f"sgv-studio: {path}: no frame to save", file=sys.stderr)
        return
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(path)
    print(f"sgv-studio: wrote {path} ({image.shape[1]}x{image.shape[0]})")
