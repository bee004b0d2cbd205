"""The job half that the Project and Edit panels share: each runs one engine step iterator as a model job
(app/edit_jobs.py), follows its newest step and loss curve while it runs, and checks that the viewer still
shows the model a finished result belongs to before accepting it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.edit_jobs import StepInfo, Stop
from app.gui.layout import Layout
from app.gui.style import disabled, note_text
from app.jobs import Job, JobState
from app.widgets.base import Frame


class StepJobs:
    """Mixin for a panel with `job`, `stop`, `live` (newest StepInfo), `losses` and `result` attributes, and
    `poll()`, `_inputs(f, lay)` and `_draw_job(f, lay)` methods."""

    job: Job | None
    stop: Stop | None
    live: StepInfo | None
    losses: list[float]
    result: Any

    @property
    def running(self) -> bool:
        return self.job is not None and not self.job.finished

    def draw(self, f: Frame) -> None:
        """Follow the job; draw the inputs (locked while a job runs), then the panel's start button, progress
        and result (`_draw_job`)."""
        lay = Layout.current()
        self.poll()
        with disabled(self.running):
            self._inputs(f, lay)
        self._draw_job(f, lay)

    def start_steps(self, f: Frame, name: str, kind: str, make: Callable, stop: Stop) -> None:
        """Start the model job; a started job resets the live step and the loss curve."""
        job = f.actions.start_model_job(name, kind, make)
        if job is not None:
            self.job, self.stop, self.live, self.losses = job, stop, None, []

    def step_loss(self, info: StepInfo) -> float:
        """The value the loss curve plots for a step."""
        return info.loss

    def poll_steps(self) -> Job | None:
        """Take the running job's newest step (one loss per step); the job once it has finished with a result."""
        job = self.job
        if job is None:
            return None
        info = job.progress.preview
        if isinstance(info, StepInfo) and info is not self.live:
            self.live = info
            if info.step > 0 and len(self.losses) < info.step:
                self.losses.append(self.step_loss(info))
        return job if job.finished and job.state == JobState.DONE else None

    def result_stale(self, f: Frame, note: str) -> bool:
        """The result was made with another model than the viewer's (or none is open): shows `note`, True."""
        model = f.view.model
        stale = model is None or model.fingerprint != self.result.fingerprint
        if stale:
            note_text(note)
        return stale

    def result_fits(self, f: Frame, refused: str) -> bool:
        """There is a result and the viewer shows the model it was made with; else False (and `refused`
        notified when the model changed)."""
        model = f.view.model
        if self.result is None or model is None:
            return False
        if model.fingerprint != self.result.fingerprint:
            f.actions.notify(refused, error=True)
            return False
        return True
