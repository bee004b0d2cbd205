"""Background jobs with progress, cancel, a result or an error: export now; projection, CLIP edits, metrics later.

A job is a callable `fn(ctx: JobContext)` that either
- does the work and returns the result, reporting with ctx.progress(...) and polling ctx.cancelled, or
- returns a step iterator (the engine's `Projector(...).step()` style, e.g. `lambda ctx: projector.steps()`):
  each yielded value is a Progress (or a float fraction), the generator's return value is the result,
  and cancel is checked between steps.
Both run on their own thread. SgvError becomes a one-line error; anything else is a bug and keeps its
traceback on stderr while the job shows "internal error".

Training runs as a separate process (a job whose step iterator watches the run folder), so a crash
there cannot take the app down.
"""

from __future__ import annotations

import enum
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from engine.errors import SgvError


class JobState(enum.Enum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Progress:
    fraction: float | None = None  # 0..1; None = indeterminate
    message: str = ""
    preview: Any = None  # e.g. a uint8 [H, W, 3] image a widget may show


class JobCancelled(SgvError):
    """Raised by ctx.check_cancel() inside a job that was asked to stop."""


class JobContext:
    """What a running job sees: report progress, check for cancel."""

    def __init__(self, job: Job):
        self._job = job

    @property
    def cancelled(self) -> bool:
        return self._job._cancel.is_set()

    def check_cancel(self) -> None:
        if self.cancelled:
            raise JobCancelled(f"{self._job.name}: cancelled")

    def progress(self, done: float, total: float | None = None, message: str = "", preview: Any = None) -> None:
        fraction = done if total is None else (done / total if total else 1.0)
        self._job._report(Progress(min(max(fraction, 0.0), 1.0), message, preview))


JobFn = Callable[[JobContext], Any]


class Job:
    def __init__(self, name: str, fn: JobFn, kind: str = "job"):
        self.name, self.kind = name, kind
        self._fn = fn
        self._cancel = threading.Event()
        self._lock = threading.Lock()
        self.state = JobState.QUEUED
        self.progress = Progress(0.0)
        self.result: Any = None
        self.error: str | None = None
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self._thread = threading.Thread(target=self._run, name=f"job-{name}", daemon=True)

    # -- control (UI thread) -----------------------------------------------------------------------------
    def start(self) -> Job:
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def finished(self) -> bool:
        return self.state in (JobState.DONE, JobState.FAILED, JobState.CANCELLED)

    @property
    def elapsed_s(self) -> float:
        if self.started_at is None:
            return 0.0
        return (self.finished_at or time.perf_counter()) - self.started_at

    # -- worker ------------------------------------------------------------------------------------------
    def _report(self, p: Progress) -> None:
        with self._lock:
            self.progress = p

    def _run(self) -> None:
        self.started_at = time.perf_counter()
        self.state = JobState.RUNNING
        ctx = JobContext(self)
        try:
            self.result = self._call(ctx)
            self.state = JobState.CANCELLED if self._cancel.is_set() else JobState.DONE
        except SgvError as e:
            self.error = str(e)
            self.state = JobState.CANCELLED if self._cancel.is_set() else JobState.FAILED
        except Exception as e:  # a bug: keep the traceback for the terminal, one line for the UI
            traceback.print_exc()
            self.error = f"internal error in {self.name}: {type(e).__name__}: {e}"
            self.state = JobState.FAILED
        finally:
            self.finished_at = time.perf_counter()

    def _call(self, ctx: JobContext) -> Any:
        out = self._fn(ctx)
        if not isinstance(out, Iterator):
            return out
        while True:
            ctx.check_cancel()
            try:
                step = next(out)
            except StopIteration as stop:
                return stop.value
            self._report(step if isinstance(step, Progress) else Progress(float(step)))


class JobManager:
    """The app's jobs, newest last. The UI polls `jobs` each frame; nothing here blocks."""

    def __init__(self, keep_finished: int = 20):
        self.jobs: list[Job] = []
        self.keep_finished = keep_finished

    def submit(self, name: str, fn: JobFn, kind: str = "job") -> Job:
        job = Job(name, fn, kind).start()
        self.jobs.append(job)
        finished = [j for j in self.jobs if j.finished]
        for j in finished[: max(0, len(finished) - self.keep_finished)]:
            self.jobs.remove(j)
        return job

    def running(self, kind: str | None = None) -> list[Job]:
        return [j for j in self.jobs if not j.finished and (kind is None or j.kind == kind)]

    def latest(self, kind: str) -> Job | None:
        for j in reversed(self.jobs):
            if j.kind == kind:
                return j
        return None

    def cancel_all(self) -> None:
        for j in self.jobs:
            j.cancel()
