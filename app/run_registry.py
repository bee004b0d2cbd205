"""The runs the app knows (Train panel): launched here or attached, polled by a monitor thread, remembered
between sessions. One run (its folder and its process) is app/training_runs.py; the process itself,
app/run_process.py. Nothing here imports imgui or torch."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from app.sgv_commands import DEFAULT_COMMAND
from app.training_runs import RunSpec, TrainingRun, TrainingRunError
from engine.fileio import atomic_write_text


class TrainingRuns:
    """Runs the app knows: launched here or attached. A monitor thread polls them; the list of folders is
    remembered in `remember` (JSON) so the next app session lists them again (runs keep training when the
    app closes; reopening finds them through their lock file)."""

    def __init__(self, command: Sequence[str] = DEFAULT_COMMAND, remember: Path | None = None):
        self.command = tuple(command)
        self.remember = remember
        self.runs: list[TrainingRun] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self.interval_s = 0.5
        if remember is not None:
            for folder in _read_json_list(remember):
                if Path(folder).is_dir():
                    self._add(TrainingRun(folder, self.command))

    def find(self, run_dir: str | os.PathLike) -> TrainingRun | None:
        p = Path(run_dir).expanduser().absolute()
        return next((r for r in self.runs if r.run_dir == p), None)

    def launch(self, spec: RunSpec) -> TrainingRun:
        problems = spec.problems()
        if problems:
            raise TrainingRunError("; ".join(problems))
        run = self.find(spec.outdir) or TrainingRun(spec.outdir, self.command)
        run.launch(spec.args())
        self._add(run)
        return run

    def attach(self, run_dir: str | os.PathLike) -> TrainingRun:
        """Watch a run folder (e.g. a run started with `sgv train` in a terminal)."""
        p = Path(run_dir).expanduser()
        if p.is_file():  # a file inside the run (log.jsonl, training_options.json, a snapshot) is fine too
            p = p.parent.parent if p.parent.name in ("snapshots", "samples") else p.parent
        if not p.is_dir():
            raise TrainingRunError(f"{p}: no such folder")
        if not any((p / n).exists() for n in ("training_options.json", "log.jsonl", ".lock")):
            raise TrainingRunError(f"{p}: not a training run folder (no training_options.json or log.jsonl)")
        run = self.find(p)
        if run is None:
            run = TrainingRun(p, self.command)
            self._add(run)
        run.poll()
        return run

    def remove(self, run: TrainingRun) -> None:
        """Forget a run (its folder and any process are left alone)."""
        with self._lock:
            if run in self.runs:
                self.runs.remove(run)
        self._save()

    def _add(self, run: TrainingRun) -> None:
        with self._lock:
            if run not in self.runs:
                self.runs = [*self.runs, run]
        self._save()

    def _save(self) -> None:
        if self.remember is None:
            return
        try:
            atomic_write_text(self.remember, json.dumps([str(r.run_dir) for r in self.runs], indent=1))
        except OSError:
            pass  # a read-only config dir only costs the list next session

    def poll(self) -> bool:
        changed = False
        for run in list(self.runs):
            try:
                changed |= run.poll()
            except Exception as e:  # a monitor bug must not stop the other runs being watched
                run.events.append(("error", f"{run.name}: cannot read the run folder ({type(e).__name__}: {e})"))
        return changed

    def take_events(self) -> list[tuple[TrainingRun, str, str]]:
        out = []
        for run in list(self.runs):
            while run.events:
                kind, message = run.events.popleft()
                out.append((run, kind, message))
        return out

    def start_monitor(self, interval_s: float = 0.5, on_change: Callable[[], None] | None = None) -> None:
        if self._thread is not None:
            return
        self.interval_s = interval_s

        def loop() -> None:
            while not self._stop.wait(self.interval_s):
                if self.poll() and on_change is not None:
                    on_change()

        self.poll()
        self._thread = threading.Thread(target=loop, name="sgv-training-monitor", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Stop watching (processes keep running)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None


def _read_json_list(path: Path) -> list[str]:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return []
    return [str(x) for x in data if isinstance(x, str)] if isinstance(data, list) else []
