"""Small file helpers every part shares: atomic writes, JSON lines, file hashes.

Atomic writes: a reader (or a crash, or Ctrl-C) never sees a half-written file. Write to a temp file in the
destination's directory, fsync, then os.replace over the target, so the previous good file stays intact until
the new one is complete.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temp path next to `path`; on success it replaces `path`, on any exception it is removed.

    The temp name keeps the final suffix (or `suffix`) so tools that infer a format from it still work.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.tmp-", suffix=suffix if suffix is not None else path.suffix, dir=path.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; a user's file gets the usual permissions
        _fsync(tmp_path)
        os.replace(tmp_path, path)
        _fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def _umask() -> int:
    # Read, not set-and-restore: os.umask() would change it for every thread for a moment.
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    except (OSError, ValueError):  # no /proc (macOS, Windows): assume the common default
        pass
    return 0o022


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems refuse directory fsync; the rename itself is still atomic
    finally:
        os.close(fd)


def append_jsonl(path: str | os.PathLike, record: dict, sort_keys: bool = False) -> None:
    """Append one JSON object as one line, with one write() on an O_APPEND file and fsync: concurrent writers
    never interleave, and a kill mid-write leaves at most a torn last line (read_jsonl skips it). NaN/inf
    become null (JSON has none); other non-JSON values (paths) become strings."""
    clean = json.loads(json.dumps(record, default=str), parse_constant=lambda _: None)
    line = (json.dumps(clean, allow_nan=False, sort_keys=sort_keys) + "\n").encode()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_jsonl(path: str | os.PathLike) -> list[dict]:
    """Every complete line of a JSON-lines file (a torn last line is skipped); [] if it does not exist."""
    out = []
    try:
        text = Path(path).read_text(errors="replace")  # a torn last line may end inside a UTF-8 sequence
    except FileNotFoundError:
        return out
    for raw in text.splitlines():
        try:
            out.append(json.loads(raw))
        except json.JSONDecodeError:
            continue
    return out


class JsonlTail:
    """Incremental reader of a JSON-lines file another process appends to (a run's log.jsonl): each call returns
    the complete new lines only, and starts over when the file is replaced (a resumed run rewrites its log)."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._ino: int | None = None
        self._offset = 0

    def read_new(self) -> tuple[list[dict], bool]:
        """(new objects, whether the file was replaced or removed since the last call)."""
        try:
            st = self.path.stat()
        except OSError:
            reset = self._ino is not None
            self._ino, self._offset = None, 0
            return [], reset
        reset = st.st_ino != self._ino or st.st_size < self._offset
        if reset:
            self._ino, self._offset = st.st_ino, 0
        if st.st_size == self._offset:
            return [], reset
        try:
            with open(self.path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except OSError:
            return [], False
        end = data.rfind(b"\n") + 1  # a torn last line waits for its newline
        out = []
        for raw in data[:end].splitlines():
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            if isinstance(obj, dict):
                out.append(obj)
        self._offset += end
        return out, reset


def sha256_file(path: str | os.PathLike, chunk_bytes: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in chunks (weights files are hundreds of MiB)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk_bytes):
            h.update(block)
    return h.hexdigest()
