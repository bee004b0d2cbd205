"""The main window's menus, keyboard shortcuts and popups.

Menus: File, Edit, View (hello_imgui's), the features' menus (`app.menu_items`: Train, ...; a feature appends
`MenuItem`s from app/widgets/base.py), Help. Each function here draws one frame's worth for the StudioApp it is
given (app/main.py wires them into hello_imgui's callbacks) and acts through the app's public methods.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

SHORTCUTS = (
    "Space          play / pause",
    "Left / Right   step one playback frame",
    "Ctrl+Z         undo      Ctrl+Shift+Z / Ctrl+Y   redo",
    "Ctrl+O         open a checkpoint",
    "Ctrl+S         save the session",
    "Ctrl+wheel     zoom the viewport; wheel on the ruler zooms the timeline",
)
ABOUT = (
    "Continuous-time video generation with StyleGAN-V (Skorokhodov et al., CVPR 2022).",
    "Frames are computed at any real t; t = 10^6 costs what t = 0 costs.",
)


def draw_menus(app) -> None:
    from imgui_bundle import hello_imgui, imgui

    state = app.state
    if imgui.begin_menu("File"):
        try:
            _file_menu(app)
        finally:
            imgui.end_menu()
    if imgui.begin_menu("Edit"):
        try:
            undo, redo = state.undo.undo_label, state.undo.redo_label
            if imgui.menu_item_simple(f"Undo {undo or ''}".strip(), "Ctrl+Z", False, undo is not None):
                state.undo_edit()
            if imgui.menu_item_simple(f"Redo {redo or ''}".strip(), "Ctrl+Shift+Z", False, redo is not None):
                state.redo_edit()
        finally:
            imgui.end_menu()
    hello_imgui.show_view_menu(app.runner_params)
    for menu, items in app.menu_items.items():
        if imgui.begin_menu(menu):
            try:
                if not items:
                    imgui.menu_item_simple("(nothing here yet)", None, False, False)
                for item in items:
                    if imgui.menu_item_simple(item.label, item.shortcut or None, False, item.enabled()):
                        item.action()
            finally:
                imgui.end_menu()
    if imgui.begin_menu("Help"):
        try:
            if imgui.menu_item_simple("Keyboard shortcuts"):
                app.popup_request = "Keyboard shortcuts"
            if imgui.menu_item_simple("About StyleGAN-V Studio"):
                app.popup_request = "About StyleGAN-V Studio"
        finally:
            imgui.end_menu()


def _file_menu(app) -> None:
    from imgui_bundle import imgui

    if imgui.menu_item_simple("Open checkpoint...", "Ctrl+O"):
        app.show_open_model_dialog()
    if imgui.begin_menu("Open recent", bool(app.recent.items)):
        try:
            for path in app.recent.items:
                if imgui.menu_item_simple(path):
                    app.open_model(path)
        finally:
            imgui.end_menu()
    if imgui.menu_item_simple("Open bundled model"):
        app.open_model(None)
    imgui.separator()
    if imgui.menu_item_simple("Open session..."):
        app.session_open_dialog.open(Path(app.session_path).parent if app.session_path else Path.cwd())
    if imgui.menu_item_simple("Save session", "Ctrl+S"):
        save_session_clicked(app)
    if imgui.menu_item_simple("Save session as..."):
        app.session_save_dialog.open(Path.cwd(), "session.json")
    imgui.separator()
    if imgui.menu_item_simple("Export video..."):
        app.focus_panel("Export")
    imgui.separator()
    if imgui.menu_item_simple("Quit", "Alt+F4"):
        app.request_exit()


def save_session_clicked(app) -> None:
    """Ctrl+S / File › Save session: the session's own file, or ask for one."""
    if app.session_path:
        app.save_session(app.session_path)
    else:
        app.session_save_dialog.open(Path.cwd(), "session.json")


def handle_shortcuts(app) -> None:
    """The keys of SHORTCUTS (Ctrl+wheel belongs to the viewport and the ruler). Keys typed into a text
    field or while a widget is active stay with that widget."""
    from imgui_bundle import imgui

    from app.playback import frame_step

    io = imgui.get_io()
    tl = app.state.timeline
    if io.key_ctrl:
        if imgui.is_key_pressed(imgui.Key.z, False):
            app.state.redo_edit() if io.key_shift else app.state.undo_edit()
        elif imgui.is_key_pressed(imgui.Key.y, False):
            app.state.redo_edit()
        elif imgui.is_key_pressed(imgui.Key.o, False):
            app.show_open_model_dialog()
        elif imgui.is_key_pressed(imgui.Key.s, False):
            save_session_clicked(app)
        return
    if io.want_text_input or imgui.is_any_item_active():
        return
    if imgui.is_key_pressed(imgui.Key.space, False):
        tl.playing = not tl.playing
    native = app.view.model.native_fps if app.view.model else 25.0
    step = frame_step(tl.fps, native, tl.time_scale or 1.0)
    if imgui.is_key_pressed(imgui.Key.right_arrow):
        tl.playing = False
        tl.set_t(tl.t + step)
    if imgui.is_key_pressed(imgui.Key.left_arrow):
        tl.playing = False
        tl.set_t(tl.t - step)


def draw_dialogs(app) -> None:
    """The app-level file dialogs (open checkpoint, open / save session) and the popup a menu asked for."""
    from imgui_bundle import imgui

    chosen = app.model_dialog.draw()
    if chosen:
        app.open_model(chosen)
    chosen = app.sr_dialog.draw()  # Model panel > Open SR level...
    if chosen:
        app.open_sr(chosen)
    chosen = app.session_open_dialog.draw()
    if chosen:
        app.load_session(chosen)
    chosen = app.session_save_dialog.draw()
    if chosen:
        app.save_session(chosen)
    if app.popup_request:
        imgui.open_popup(app.popup_request)
        app.popup_request = None
    _help_popups()


def _help_popups() -> None:
    from imgui_bundle import imgui

    try:
        app_version = version("sgv-studio")
    except PackageNotFoundError:
        app_version = "(not installed)"
    for title, lines in (
        ("Keyboard shortcuts", SHORTCUTS),
        ("About StyleGAN-V Studio", (f"StyleGAN-V Studio {app_version}", *ABOUT)),
    ):
        if imgui.begin_popup(title):
            try:
                for line in lines:
                    imgui.text(line)
            finally:
                imgui.end_popup()
