"""Training runs as the app sees them: `sgv train` in a separate process, watched through its run folder.

The app never trains in its own process: a crash, an out-of-memory kill or a hung data loader in training
cannot take the app (and the user's unsaved edits) down. A run is a folder (engine/train: training_options.json,
log.jsonl, samples/, snapshots/, model-latest.safetensors); everything the panel shows is read from it, so a
run started in a terminal is watched the same way once its folder is opened ("attached").

- launch: `python -m engine.cli train ...` in its own session (process group), stdout+stderr appended to
  RUN/train-stderr.log, so Ctrl-C in the app's terminal does not reach it and a crash leaves its message.
- stop: SIGTERM to the trainer (it finishes the step, writes a snapshot, exits 0); after a timeout SIGKILL to
  its whole group. SIGTERM goes to the trainer only: its data-loader workers would die of it and turn a clean
  stop into a crash.
- crash: exit code != 0 → the one-line reason from the stderr log (the CLI's `sgv: ...` line, unwrapped
  when a data-loader worker's traceback is inside it). A process whose training loop has ended (it released
  the run lock) but which does not exit (seen after a data-loader error: a worker left waiting keeps the
  interpreter in its exit-time join) is killed after EXIT_GRACE_S and reported for what it printed.
- attached runs: the trainer's pid is in RUN/.lock (the engine's one-process-per-folder lock).

Starting, finding and signalling the process is app/run_process.py (psutil); the list of runs the app knows
is app/run_registry.py.

Short `sgv` commands (dataset prepare / info) and reading a failed command's stderr are in app/sgv_commands.py.
Nothing here imports imgui or torch; tests drive it directly (tests/test_training_runs.py).
"""

from __future__ import annotations

import enum
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.run_process import lock_holder, lock_is_held, signal_pid, spawn
from app.sgv_commands import DEFAULT_COMMAND, crash_message, signal_group, signal_process, terminal_lines
from engine.config import PRESETS
from engine.errors import SgvError
from engine.fileio import JsonlTail
from engine.train.options import TrainOptions, field_choices, flag_args

STDERR_LOG = "train-stderr.log"
STOP_TIMEOUT_S = 120.0  # a graceful stop finishes a step and writes a snapshot + samples; big models take a while
EXIT_GRACE_S = 15.0  # the training loop has ended (run lock released); still alive this much later = hung on exit
PLOT_KEYS = ("loss_G", "loss_D", "r1_penalty", "aug_p", "sec_per_kimg")
_GRID_RE = re.compile(r"^grid-(\d+)\.png$")
_MODEL_RE = re.compile(r"^model-(\d+)\.safetensors$")
_STATE_RE = re.compile(r"^state-(\d+)\.pt$")


class TrainingRunError(SgvError):
    """A run that cannot be launched, resumed or attached (one line naming the folder)."""


# ----------------------------------------------------------------------------------------------------
# Pure helpers


_DEFAULTS = TrainOptions()


@dataclass(frozen=True)
class RunSpec:
    """What Train > New run... asks for; defaults, checks and flags are TrainOptions' (engine/train/options.py).
    `args()` is the `sgv train` command line."""

    data: str
    outdir: str
    preset: str = _DEFAULTS.preset
    resolution: int | None = _DEFAULTS.resolution  # None = the preset's
    kimg: float = _DEFAULTS.total_kimg
    batch: int = _DEFAULTS.batch
    gamma: float | None = _DEFAULTS.gamma  # None = auto_gamma(res, batch)
    gpus: int = _DEFAULTS.gpus
    tick_kimg: float | None = None  # None = the trainer's default
    snap_kimg: float | None = None  # None = the trainer's default (SNAP_KIMG)
    seed: int | None = None  # None = the trainer's default
    compile: str | None = None  # None = the trainer's default (off)
    data_on_device: bool | None = None  # None = the trainer's default (off)

    def options(self) -> TrainOptions:
        changes = dict(
            tick_kimg=self.tick_kimg, seed=self.seed, compile=self.compile, data_on_device=self.data_on_device
        )
        return TrainOptions(
            data=self.data,
            outdir=self.outdir,
            preset=self.preset,
            resolution=self.resolution,
            total_kimg=self.kimg,
            batch=self.batch,
            gamma=self.gamma,
            gpus=self.gpus,
            **{k: v for k, v in changes.items() if v is not None},
        )

    def problems(self) -> list[str]:
        """What is wrong with the options, each one line (empty: ready to start)."""
        out = self.options().problems()
        if self.outdir and any((Path(self.outdir) / n).exists() for n in ("log.jsonl", "snapshots")):
            out.insert(0, f"{self.outdir}: already holds a run (open it with Train > Open run folder... to resume)")
        if self.snap_kimg is not None and not self.snap_kimg > 0:
            out.append("--snap-kimg must be positive")
        return out

    def args(self) -> list[str]:
        opts = self.options()
        a = ["train", "--data", str(Path(self.data).expanduser().resolve()), "--outdir", _abs(self.outdir)]
        a += flag_args(opts, ["preset", "total_kimg", "batch", "gpus", "resolution", "gamma"])
        optional = ("tick_kimg", "seed", "compile", "data_on_device")
        a += flag_args(opts, [name for name in optional if getattr(self, name) is not None])
        if self.snap_kimg is not None:
            a += ["--snap-kimg", f"{self.snap_kimg:g}"]
        return a + ["--quiet"]  # no tqdm bar: it would fill train-stderr.log with carriage returns


def resume_args(run_dir: str | os.PathLike, kimg: float | None = None) -> list[str]:
    """`sgv train --resume latest` on a run folder; `kimg` extends (or shortens) the run's length."""
    a = ["train", "--outdir", _abs(run_dir), "--resume", "latest"]
    if kimg is not None:
        a += ["--kimg", f"{kimg:g}"]
    return a + ["--quiet"]


def _abs(p: str | os.PathLike) -> str:
    return str(Path(p).expanduser().absolute())


def preset_names() -> tuple[str, ...]:
    return field_choices("preset")


def preset_resolution(name: str) -> int | None:
    factory = PRESETS.get(name)
    return factory().generator.synthesis.img_resolution if factory else None


def format_duration(seconds: float | None) -> str:
    if seconds is None or not np.isfinite(seconds):
        return "-"
    s = int(round(max(seconds, 0.0)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86400} d {s % 86400 // 3600} h"


def tick_line(tick: dict) -> str:
    """A log.jsonl tick as one readable line (the panel's log tail)."""

    def fmt(key: str, spec: str = ".3f") -> str:
        v = tick.get(key)
        return "-" if v is None or not np.isfinite(v) else format(v, spec)

    line = (
        f"kimg {tick.get('kimg', 0):9.3f}  G {fmt('loss_G')}  D {fmt('loss_D')}  R1 {fmt('r1_penalty', '.3g')}  "
        f"p {fmt('aug_p', '.3f')}  {fmt('sec_per_kimg', '.1f')} s/kimg"
    )
    if tick.get("snapshot"):
        line += f"  snapshot {Path(tick['snapshot']).name}"
    return line


def newest(folder: Path, pattern: re.Pattern) -> Path | None:
    """The file in `folder` matching `pattern` with the largest number (nimg is zero-padded, but be sure)."""
    try:
        names = [(int(m.group(1)), n) for n in os.listdir(folder) if (m := pattern.match(n))]
    except OSError:
        return None
    return folder / max(names)[1] if names else None


# ----------------------------------------------------------------------------------------------------
# One run


class RunStatus(enum.Enum):
    STARTING = "starting"  # launched; no tick logged by this process yet (loading data, building the model)
    RUNNING = "running"
    STOPPING = "stopping"  # SIGTERM sent; it is finishing the step and writing a snapshot
    STOPPED = "stopped"  # exited cleanly before total_kimg (or an attached run with no process)
    FINISHED = "finished"  # reached total_kimg
    CRASHED = "crashed"  # exited with an error; `error` says why
    EMPTY = "not started"  # a folder with no ticks, no process

    @property
    def active(self) -> bool:
        return self in (RunStatus.STARTING, RunStatus.RUNNING, RunStatus.STOPPING)


class TrainingRun:
    """A run folder and, while one runs, its training process (ours, or another's found through RUN/.lock).

    `poll()` (the monitor thread) reads what changed; everything the UI reads is replaced, never mutated in
    place, so a widget can use it without the lock. Process control (launch/stop/kill) takes the lock.
    """

    def __init__(self, run_dir: str | os.PathLike, command: Sequence[str] = DEFAULT_COMMAND):
        self.run_dir = Path(run_dir).expanduser().absolute()
        self.name = self.run_dir.name
        self.command = tuple(command)
        self._lock = threading.RLock()
        self.proc: subprocess.Popen | None = None
        self.pid: int | None = None  # the training process's pid (ours or an attached one)
        self.external = False  # the process was not started by this app
        self.status = RunStatus.EMPTY
        self.error: str | None = None  # why the last process crashed
        self.note = ""  # extra words on the status ("killed after 120 s", "stopped from the app")
        self.exit_code: int | None = None
        self.ticks: list[dict] = []
        self.series: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # key → (kimg, value), finite points only
        self.options: dict = {}
        self.grid_path: Path | None = None
        self.grid_image: np.ndarray | None = None  # uint8 [H, W, 3] of grid_path
        self.latest_model: Path | None = None
        self.has_state = False
        self.stderr_tail: list[str] = []
        self.version = 0  # bumped whenever anything above changes
        self.events: deque[tuple[str, str]] = deque(maxlen=50)  # ("error"|"info", message) for the status bar
        self._log = JsonlTail(self.run_dir / "log.jsonl")
        self._launched_at: float | None = None  # time.time() of our launch; ticks after it mean "running"
        self._stderr_offset = 0
        self._stderr_size = -1
        self._stop_deadline: float | None = None
        self._stop_timeout_s = STOP_TIMEOUT_S
        self.exit_grace_s = EXIT_GRACE_S
        self._killed = False
        self._lock_seen = False  # our process has held the run lock (its training loop started)
        self._loop_ended_at: float | None = None  # monotonic time the lock was released with the process alive
        self._hung = False  # killed because it did not exit after its loop ended
        self._options_mtime = None

    # -- what the panel shows ----------------------------------------------------------------------------
    @property
    def kimg(self) -> float:
        return float(self.ticks[-1]["kimg"]) if self.ticks else 0.0

    @property
    def total_kimg(self) -> float | None:
        if self.ticks and self.ticks[-1].get("total_kimg"):
            return float(self.ticks[-1]["total_kimg"])
        v = self.options.get("total_kimg")
        return float(v) if v else None

    @property
    def fraction(self) -> float:
        total = self.total_kimg
        return min(self.kimg / total, 1.0) if total else 0.0

    def eta_s(self, now: float | None = None) -> float | None:
        """Seconds left: the last tick's estimate, counted down since that tick while the run is active."""
        if not self.ticks or self.ticks[-1].get("eta_sec") is None:
            return None
        eta = float(self.ticks[-1]["eta_sec"])
        if self.status.active and self.ticks[-1].get("timestamp"):
            eta -= (now if now is not None else time.time()) - float(self.ticks[-1]["timestamp"])
        return max(eta, 0.0)

    @property
    def can_resume(self) -> bool:
        return not self.status.active and self.has_state

    @property
    def status_text(self) -> str:
        text = self.status.value
        if self.status.active and self.pid:
            text += f" (pid {self.pid}{', started outside the app' if self.external else ''})"
        return text + (f"; {self.note}" if self.note else "")

    # -- process control ---------------------------------------------------------------------------------
    def launch(self, args: Sequence[str]) -> None:
        """Start `sgv ARGS` for this folder (a new run or a resume). TrainingRunError when one already runs."""
        with self._lock:
            if self.status.active:
                raise TrainingRunError(f"{self.run_dir}: this run is already {self.status.value}")
            holder = lock_holder(self.run_dir)
            if holder is not None:
                raise TrainingRunError(f"{self.run_dir}: a training process (pid {holder}) is using this folder")
            try:
                self.run_dir.mkdir(parents=True, exist_ok=True)
                self.proc, self._stderr_offset = spawn(self.command, args, self.run_dir / STDERR_LOG)
            except OSError as e:
                raise TrainingRunError(f"{self.run_dir}: cannot start training ({e})") from None
            self.pid, self.external = self.proc.pid, False
            self.status, self.error, self.note, self.exit_code = RunStatus.STARTING, None, "", None
            self._launched_at, self._stop_deadline, self._killed = time.time(), None, False
            self._lock_seen, self._loop_ended_at, self._hung = False, None, False
            self.stderr_tail, self._stderr_size = [], -1
            self.version += 1

    def resume(self, kimg: float | None = None) -> None:
        if not self.has_state:
            raise TrainingRunError(f"{self.run_dir}: no training state to resume from (snapshots/state-*.pt)")
        args = resume_args(self.run_dir, kimg)
        if self.options.get("kind") == "cascade-sr":  # an SR level's run (app/sr_runs.py) resumes with train-sr
            args[0] = "train-sr"
        self.launch(args)

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """Ask the trainer to snapshot and exit (SIGTERM); poll() sends SIGKILL after `timeout_s`."""
        with self._lock:
            if not self.status.active or self.status is RunStatus.STOPPING:
                return
            if self.proc is not None:
                signal_process(self.proc, signal.SIGTERM)
            elif self.pid is not None:
                reason = signal_pid(self.pid, signal.SIGTERM)
                if reason:
                    self.events.append(("error", f"{self.name}: cannot stop pid {self.pid} ({reason})"))
                    return
            self.status, self._stop_timeout_s = RunStatus.STOPPING, timeout_s
            self._stop_deadline = time.monotonic() + timeout_s
            self.version += 1

    def kill(self) -> None:
        """Stop at once (SIGKILL to the process group): the last snapshot on disk stays whole."""
        with self._lock:
            if self.proc is not None and self.proc.poll() is None:
                signal_group(self.proc, signal.SIGKILL)
            elif self.pid is not None and self.external:
                signal_pid(self.pid, signal.SIGKILL)
            self._killed = True

    # -- monitoring --------------------------------------------------------------------------------------
    def poll(self) -> bool:
        """Read what changed in the folder and the process; True if anything did."""
        with self._lock:
            before = self.version
            self._read_options()
            self._read_log()
            self._scan_files()
            self._read_stderr()
            self._check_process()
            return self.version != before

    def _read_options(self) -> None:
        path = self.run_dir / "training_options.json"
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            return
        if mtime == self._options_mtime:
            return
        try:
            options = json.loads(path.read_text())
        except (OSError, ValueError):
            return  # written atomically, so this is a folder someone edited by hand; try again next time
        self._options_mtime, self.options = mtime, options if isinstance(options, dict) else {}
        self.version += 1

    def _read_log(self) -> None:
        new, reset = self._log.read_new()
        if not new and not reset:
            return
        self.ticks = new if reset else self.ticks + new  # a new list: readers never see it change
        self.series = _series(self.ticks)
        if self.status is RunStatus.STARTING and self._launched_at is not None:
            if any(float(t.get("timestamp", 0)) >= self._launched_at for t in new):
                self.status = RunStatus.RUNNING
        self.version += 1

    def _scan_files(self) -> None:
        grid = newest(self.run_dir / "samples", _GRID_RE)
        model = newest(self.run_dir / "snapshots", _MODEL_RE)
        has_state = newest(self.run_dir / "snapshots", _STATE_RE) is not None
        if model != self.latest_model or has_state != self.has_state:
            self.latest_model, self.has_state = model, has_state
            self.version += 1
        if grid != self.grid_path and grid is not None:
            image = _read_png(grid)
            if image is not None:  # written atomically; None only for a file someone damaged
                self.grid_path, self.grid_image = grid, image
                self.version += 1

    def _check_process(self) -> None:
        if self.proc is not None:
            rc = self.proc.poll()
            if rc is None:
                now = time.monotonic()
                if self._stop_deadline is not None and now > self._stop_deadline and not self._killed:
                    signal_group(self.proc, signal.SIGKILL)
                    self._killed = True
                    self.note = f"killed after {self._stop_timeout_s:g} s without exiting; the last snapshot is kept"
                    self.version += 1
                else:
                    self._watch_exit(now)
                return
            self._finished(rc)
            self.proc = None
            return
        holder = lock_holder(self.run_dir)
        if holder is not None:
            if not self.status.active or self.pid != holder:
                self.pid, self.external = holder, True
                self.status = RunStatus.STOPPING if self.status is RunStatus.STOPPING else RunStatus.RUNNING
                self.error, self.note = None, ""
                self.version += 1
            return
        if self.status.active:  # an attached process went away; its exit status is not ours to know
            self.pid = None
            self.status = self._idle_status()
            self.events.append(("info", f"{self.name}: the training process exited ({self.status.value})"))
            self.version += 1
        elif self.status is RunStatus.EMPTY and (self.ticks or self.has_state):
            self.status = self._idle_status()
            self.version += 1

    def _watch_exit(self, now: float) -> None:
        """Kill a process that outlives its training loop by EXIT_GRACE_S (see the module docstring)."""
        held = lock_is_held(self.run_dir)
        if held is None:
            return  # no /proc/locks (not Linux): rely on the exit status alone
        if held:
            self._lock_seen, self._loop_ended_at = True, None
        elif self._lock_seen and self._loop_ended_at is None:
            self._loop_ended_at = now
        elif self._loop_ended_at is not None and now - self._loop_ended_at > self.exit_grace_s and not self._hung:
            signal_group(self.proc, signal.SIGKILL)
            self._hung = True

    def _finished(self, rc: int) -> None:
        self.exit_code, self.pid = rc, None
        self._read_log()  # the final tick may have landed just before the exit
        text = self._stderr_since_launch()
        if self._hung:  # judged by what it printed before it hung
            ended = any(ln.startswith(("sgv train: finished", "sgv train: stopped")) for ln in terminal_lines(text))
            rc = 0 if ended else rc
            self.note = f"its training loop had ended but it did not exit within {self.exit_grace_s:g} s; killed"
        if rc == 0:
            self.status = self._idle_status()
            self.events.append(("info", f"{self.name}: training {self.status.value} at {self.kimg:.3f} kimg"))
        elif self._killed or (self.status is RunStatus.STOPPING and rc < 0):
            # rc < 0 while stopping: SIGTERM arrived before the trainer installed its handler (still importing)
            self.status = RunStatus.STOPPED
            if not self.note:
                self.note = "stopped before its first step" if rc == -signal.SIGTERM else "killed"
            self.events.append(("info", f"{self.name}: training killed at {self.kimg:.3f} kimg"))
        else:
            self.status = RunStatus.CRASHED
            self.error = crash_message(text, rc)
            self.events.append(("error", f"{self.name}: training crashed: {self.error}"))
        self.version += 1

    def _idle_status(self) -> RunStatus:
        total = self.total_kimg
        if self.ticks and total and self.kimg >= total - 1e-9:
            return RunStatus.FINISHED
        return RunStatus.STOPPED if self.ticks or self.has_state else RunStatus.EMPTY

    def _stderr_since_launch(self, limit: int = 256 * 1024) -> str:
        path = self.run_dir / STDERR_LOG
        try:
            with open(path, "rb") as f:
                size = f.seek(0, os.SEEK_END)
                f.seek(max(self._stderr_offset, size - limit))
                return f.read().decode(errors="replace")
        except OSError:
            return ""

    def _read_stderr(self) -> None:
        try:  # an attached run started in a terminal has no such file: its output went to the terminal
            size = (self.run_dir / STDERR_LOG).stat().st_size
        except OSError:
            return
        if size == self._stderr_size:
            return
        self._stderr_size = size
        self.stderr_tail = [ln for ln in terminal_lines(self._stderr_since_launch(64 * 1024)) if ln.strip()][-200:]
        self.version += 1


def _series(ticks: list[dict]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    kimg = np.array([float(t.get("kimg", 0.0)) for t in ticks], dtype=np.float64)
    out = {}
    for key in PLOT_KEYS:
        y = np.array([np.nan if t.get(key) is None else float(t[key]) for t in ticks], dtype=np.float64)
        keep = np.isfinite(y)
        out[key] = (kimg[keep], y[keep])
    return out


def _read_png(path: Path) -> np.ndarray | None:
    from PIL import Image

    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError):
        return None
