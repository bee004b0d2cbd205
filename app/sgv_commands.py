"""`sgv` subcommands the app runs in a subprocess: dataset prepare/info with progress and cancel, and how
a failed command's stderr becomes one line for the UI (also used for crashed training runs).

Nothing here imports imgui or torch.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from engine.errors import SgvError

DEFAULT_COMMAND: tuple[str, ...] = (sys.executable, "-m", "engine.cli")  # `sgv` without relying on PATH
_TQDM_RE = re.compile(r"\|\s*(\d+)/(\d+)\s*\[")


class SgvCommandError(SgvError):
    """An `sgv` subcommand run by the app failed; the message is its one-line error."""


def parse_tqdm(text: str) -> tuple[int, int] | None:
    """(done, total) of the newest tqdm update in `text` (updates are separated by carriage returns)."""
    for segment in reversed(re.split(r"[\r\n]", text)):
        m = _TQDM_RE.search(segment)
        if m:
            return int(m.group(1)), int(m.group(2))
    return None


def terminal_lines(text: str) -> list[str]:
    """Lines as a terminal would show them: a carriage return overwrites the line (progress bars)."""
    return [line.split("\r")[-1].rstrip() for line in text.replace("\r\n", "\n").split("\n")]


def crash_message(text: str, returncode: int | None) -> str:
    """The one-line reason a command failed, from its stderr.

    Preference: the CLI's own `sgv: ...` line; when that wraps a data-loader worker's traceback ("Caught X
    in DataLoader worker ... Original Traceback"), the traceback's last line, which holds the real message;
    else the last line of a Python traceback; else the last line printed; else the exit status.
    """
    lines = [ln for ln in terminal_lines(text) if ln.strip()]
    start = max((i for i, ln in enumerate(lines) if ln.startswith("sgv: ") or ln.startswith("sgv train: error")),
                default=None)  # fmt: skip
    if start is not None:
        block = lines[start:]
        if len(block) > 1 and any("Traceback" in ln for ln in block):
            return _exception_line(block[-1])
        return block[0].removeprefix("sgv: ")
    if lines:
        return _exception_line(lines[-1])
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return f"killed by {name}" + (" (out of memory?)" if returncode == -signal.SIGKILL else "")
    return f"exited with status {returncode}"


def _exception_line(line: str) -> str:
    """'engine.data.base.DatasetError: x.png: damaged' → 'x.png: damaged' (the class name says nothing to a user)."""
    m = re.match(r"^([A-Za-z_][\w.]*(?:Error|Exception|Interrupt)):\s*(.+)$", line.strip())
    return m.group(2) if m else line.strip()


def summarize_dataset(info: dict) -> str:
    """One line from `sgv dataset info --json`: what a user checks before training on it."""
    n = info.get("videos", 0)
    text = f"{n} video{'s' if n != 1 else ''}, {info.get('frames', 0)} frames"
    if n:
        lo, med, hi = info.get("min_frames", 0), info.get("median_frames", 0), info.get("max_frames", 0)
        text += f" ({lo}" + (f"-{hi}, median {med:g}" if lo != hi else "") + " per video)"
    fps = info.get("fps")
    text += f", {fps:g} fps" if fps else ", fps unknown"
    if info.get("resolution"):
        text += f", {info['resolution']}x{info['resolution']}"
        if info.get("stored_size") and info["stored_size"] != f"{info['resolution']}x{info['resolution']}":
            text += f" (stored {info['stored_size']})"
    elif info.get("sizes"):
        text += f", {', '.join(info['sizes'])}"
    skipped = info.get("skipped")
    n_skipped = len(skipped) if isinstance(skipped, list) else int(skipped or 0)
    if n_skipped:
        text += f"; {n_skipped} file{'s' if n_skipped != 1 else ''} skipped"
    return f"{info.get('format', 'dataset')}: {text}"


# ----------------------------------------------------------------------------------------------------
# Short `sgv` commands (dataset prepare / info) with progress and cancel


@dataclass
class CommandResult:
    returncode: int | None
    stdout: str
    stderr: str
    cancelled: bool


def run_sgv(
    args: Sequence[str],
    command: Sequence[str] = DEFAULT_COMMAND,
    on_stderr: Callable[[str], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    stop_timeout_s: float = 10.0,
) -> CommandResult:
    """Run `sgv ARGS` to completion. `on_stderr(all_so_far)` sees its stderr as it arrives (progress bars);
    when `cancelled()` turns true the command gets SIGTERM, then SIGKILL after `stop_timeout_s`."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [*command, *args], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True, env=env,
    )  # fmt: skip
    out, err = bytearray(), bytearray()
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, out)
    sel.register(proc.stderr, selectors.EVENT_READ, err)
    was_cancelled, term_at = False, None
    try:
        while sel.get_map():
            for key, _ in sel.select(timeout=0.1):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    continue
                key.data.extend(chunk)
                if key.data is err and on_stderr is not None:
                    on_stderr(err.decode(errors="replace"))
            if cancelled is not None and not was_cancelled and cancelled():
                was_cancelled, term_at = True, time.monotonic()
                signal_process(proc, signal.SIGTERM)
            if term_at is not None and time.monotonic() - term_at > stop_timeout_s:
                signal_group(proc, signal.SIGKILL)
                term_at = None
        proc.wait()
    finally:
        sel.close()
        proc.stdout.close()
        proc.stderr.close()
        if proc.poll() is None:  # an exception in a callback: do not leave the command behind
            signal_group(proc, signal.SIGKILL)
            proc.wait()
    return CommandResult(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"), was_cancelled)


def signal_process(proc: subprocess.Popen, sig: int) -> None:
    try:
        proc.send_signal(sig)
    except (ProcessLookupError, OSError):
        pass


def signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)  # start_new_session: the group id is the leader's pid
    except (ProcessLookupError, PermissionError, OSError):
        signal_process(proc, sig)


def dataset_info(path: str | os.PathLike, command: Sequence[str] = DEFAULT_COMMAND, **kw) -> dict:
    """`sgv dataset info PATH --json` (in a subprocess, like training will read it); SgvCommandError on failure."""
    r = run_sgv(["dataset", "info", str(Path(path).expanduser()), "--json"], command, **kw)
    if r.cancelled:
        raise SgvCommandError(f"{path}: dataset check cancelled")
    if r.returncode != 0:
        raise SgvCommandError(crash_message(r.stderr, r.returncode))
    try:
        return json.loads(r.stdout)
    except json.JSONDecodeError:
        raise SgvCommandError(f"{path}: sgv dataset info printed no JSON ({r.stdout.strip()[:200]!r})") from None


def prepare_dataset(
    src: str | os.PathLike,
    out: str | os.PathLike,
    resolution: int,
    fps: float | None = None,
    progress: Callable[..., None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    command: Sequence[str] = DEFAULT_COMMAND,
) -> dict:
    """`sgv dataset prepare SRC --out OUT --res R [--fps F]`, then `sgv dataset info OUT --json`.

    progress(done, total, message) follows the videos converted. Returns {"out", "summary" (prepare's own
    summary line), "info" (the info dict)}. Cancelled: the command stops (it is resumable: the same call later
    continues where it stopped) and SgvCommandError is raised."""
    args = ["dataset", "prepare", str(Path(src).expanduser()), "--out", str(Path(out).expanduser())]
    args += ["--res", str(int(resolution))] + (["--fps", f"{fps:g}"] if fps else [])

    def on_stderr(text: str) -> None:
        if progress is not None and (p := parse_tqdm(text)) is not None:
            progress(p[0], p[1], f"{p[0]} / {p[1]} videos")

    r = run_sgv(args, command, on_stderr=on_stderr, cancelled=cancelled)
    if r.cancelled:
        raise SgvCommandError(f"{src}: preparing stopped (run it again to continue; finished videos are kept)")
    if r.returncode != 0:
        raise SgvCommandError(crash_message(r.stderr, r.returncode))
    summary = next((ln[5:] for ln in reversed(terminal_lines(r.stderr)) if ln.startswith("sgv: ")), "")
    written = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else str(out)
    if progress is not None:
        progress(1.0, None, "reading the dataset back")
    info = dataset_info(written, command, cancelled=cancelled)
    return {"out": written, "summary": summary, "info": info}
