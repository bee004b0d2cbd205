"""The panel registry: one widget object per dockable window, in the order they are emitted and listed.

To add a panel: write `app/widgets/<name>.py` with a Panel subclass (name, dock, emit, draw; see
base.py) and add an instance below. The app builds its dockable windows and View menu from this list.
"""

from __future__ import annotations

from app.widgets.base import Frame, Panel
from app.widgets.content import ContentPanel
from app.widgets.edit import EditPanel
from app.widgets.export import ExportPanel
from app.widgets.mix import MixPanel
from app.widgets.model import ModelPanel
from app.widgets.motion import MotionPanel
from app.widgets.performance import PerformancePanel
from app.widgets.project import ProjectPanel
from app.widgets.timeline import TimelinePanel
from app.widgets.training import TrainingPanel
from app.widgets.viewport import ViewportPanel

__all__ = ["Frame", "Panel", "default_panels"]


def default_panels() -> list[Panel]:
    return [
        ViewportPanel(),
        TimelinePanel(),
        ContentPanel(),
        MotionPanel(),
        MixPanel(),
        ModelPanel(),
        ExportPanel(),
        PerformancePanel(),
        ProjectPanel(),
        EditPanel(),
        TrainingPanel(),
    ]
