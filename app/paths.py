"""Where the app keeps the user's things: config (docking layout, recent files) and cache (motion directions).

Never the repository or the working directory. XDG variables are honoured so tests can point them at a
temp folder.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from engine.fileio import atomic_write_text
from engine.paths import APP_DIR_NAME, cache_root

MAX_RECENT = 10


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / APP_DIR_NAME


def cache_dir() -> Path:
    return cache_root()


class RecentFiles:
    """Most recently opened files of one kind, newest first, kept in config_dir()/<name>.json."""

    def __init__(self, path: Path, limit: int = MAX_RECENT):
        self.path, self.limit = path, limit
        self.items: list[str] = self._read()

    def _read(self) -> list[str]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return []  # a missing or damaged list is not worth an error: it is rebuilt as files are opened
        return [str(p) for p in data if isinstance(p, str)][: self.limit] if isinstance(data, list) else []

    def add(self, path: str | os.PathLike) -> None:
        p = str(Path(path).expanduser().resolve())
        self.items = [p] + [q for q in self.items if q != p][: self.limit - 1]
        try:
            atomic_write_text(self.path, json.dumps(self.items, indent=1))
        except OSError:
            pass  # a read-only config dir must not stop the user from opening the file
