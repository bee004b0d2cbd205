"""The widget contract: one class per panel, UI state on the widget, two methods.

- `emit(f)` runs every frame, visible or not, and writes the panel's slice of `f.args` (RenderArgs) from
  the state. Pure: tests call it without a window.
- `draw(f)` runs when the panel's window is visible: draws imgui widgets, edits `f.state` (through its
  methods, so edits are undoable) and asks the app for things through `f.actions`. It reads renderer
  results from `f.view` and never changes them.

Widgets never import torch or the engine's networks (tests/test_app_units.py checks it).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from app.jobs import Job, JobFn, JobManager
from app.render_types import ExportSpec, RenderArgs, RendererStats
from app.state import AppState
from app.view import RenderView


class Actions(Protocol):
    """What widgets may ask of the app (implemented by app.main.StudioApp)."""

    def open_model(self, path: str | None) -> None: ...
    def show_open_model_dialog(self) -> None: ...
    def open_sr(self, path: str | None) -> None: ...
    def show_open_sr_dialog(self) -> None: ...
    def start_export(self, spec: ExportSpec) -> None: ...
    def start_model_job(self, name: str, kind: str, make: Callable[[Any], JobFn]) -> Job | None: ...
    def notify(self, message: str, error: bool = False) -> None: ...
    @property
    def recent_models(self) -> list[str]: ...
    @property
    def model_loading(self) -> bool: ...
    @property
    def drops_supported(self) -> bool: ...
    def renderer_stats(self) -> RendererStats: ...
    def focus_panel(self, name: str) -> None: ...
    @property
    def panels(self) -> list[Panel]: ...


@dataclass
class MenuItem:
    """An entry a feature adds to a main-menu menu: app.menu_items["Train"].append(MenuItem("Train...", fn))."""

    label: str
    action: Callable[[], None]
    shortcut: str = ""
    enabled: Callable[[], bool] = lambda: True


@dataclass
class Frame:
    """Everything a widget sees during one UI frame."""

    state: AppState
    view: RenderView
    args: RenderArgs
    actions: Actions
    jobs: JobManager
    now: float  # perf_counter at the start of the frame
    ui_ms: float = 0.0  # interval since the previous UI frame started
    app_ms: float = 0.0  # time this frame spent in the app's code (set at the end of the frame)


class Panel:
    name = "Panel"  # window title; unique; tests find widgets by it ("//Timeline/ruler")
    dock = "MainDockSpace"  # hello_imgui dock space it starts in

    def emit(self, f: Frame) -> None:
        """Write this panel's part of f.args. Called every frame, even when the window is hidden."""

    def draw(self, f: Frame) -> None:
        raise NotImplementedError
