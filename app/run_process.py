"""The trainer process seen from the app: start it, find it again through its run folder, signal it.

Process facts come from psutil (Linux, macOS, Windows) rather than /proc. Only "is the run's flock still held"
reads /proc/locks (there is no portable way to ask without taking the lock, which could make a trainer starting
at that moment fail); elsewhere it answers None and the app relies on the exit status alone.
Nothing here imports imgui or torch.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

import psutil


def spawn(command: Sequence[str], args: Sequence[str], log_path: Path) -> tuple[subprocess.Popen, int]:
    """Start `command ARGS` in its own session (Ctrl-C in the app's terminal does not reach it), stdout and
    stderr appended to log_path after a header line; returns the process and where its output starts."""
    with open(log_path, "ab") as log:
        log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')}  sgv {' '.join(args)}\n".encode())
        log.flush()
        offset = log.tell()
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        proc = subprocess.Popen(
            [*command, *args], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, env=env,
        )  # fmt: skip
    return proc, offset


def lock_holder(run_dir: Path) -> int | None:
    """The pid of a live training process holding RUN/.lock (the engine writes its pid there), else None."""
    try:
        pid = int((Path(run_dir) / ".lock").read_text().strip() or 0)
    except (OSError, ValueError):
        return None
    if pid <= 0 or pid == os.getpid():
        return None
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        # A recycled pid: neither it nor its parent (spawned ranks) is a training command.
        if not (_is_training(proc) or _is_training(proc.parent())):
            return None
    except psutil.NoSuchProcess:
        return None
    except psutil.AccessDenied:
        return pid  # alive, another user's
    return pid


def _is_training(proc: psutil.Process | None) -> bool:
    if proc is None:
        return False
    try:
        return any("train" in part for part in proc.cmdline())
    except psutil.AccessDenied:
        return True  # cannot tell: do not declare a live process gone
    except psutil.NoSuchProcess:
        return False


def lock_is_held(run_dir: Path) -> bool | None:
    """Whether some process holds the flock on RUN/.lock, from /proc/locks; None where that does not exist."""
    try:
        ino = (Path(run_dir) / ".lock").stat().st_ino
    except OSError:
        return False
    try:
        text = Path("/proc/locks").read_text()
    except OSError:
        return None
    # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" (major:minor:inode). The inode alone may match a file
    # on another device: then a hung exit goes unnoticed, which is the harmless direction.
    suffix = f":{ino}"
    return any(ln.split()[1:2] == ["FLOCK"] and any(f.endswith(suffix) for f in ln.split()) for ln in text.splitlines())


def signal_pid(pid: int, sig: int = signal.SIGTERM) -> str | None:
    """Send sig to a process this app did not start; the reason it could not, or None."""
    try:
        psutil.Process(pid).send_signal(sig)
    except psutil.NoSuchProcess:
        return "no such process"
    except psutil.AccessDenied as e:
        return f"permission denied ({e})"
    return None
