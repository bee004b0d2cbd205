"""Where sgv keeps what it can rebuild: one user cache folder with a subfolder per kind.

    $XDG_CACHE_HOME/sgv-studio/ (default ~/.cache/sgv-studio/)
        datasets/   frame caches of video folders (engine.data.opener)
        metrics/    real-data statistics (engine.metrics.cache; $SGV_CACHE_DIR/metrics when that is set)
        weights/    external networks (engine.weights; $SGV_WEIGHTS_DIR when that is set)
        ...         the app's caches (app.paths)

Never the repository or the working directory.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_DIR_NAME = "sgv-studio"


def cache_root(env: str | None = None) -> Path:
    """$`env` when it is given and set, else $XDG_CACHE_HOME/sgv-studio, else ~/.cache/sgv-studio."""
    if env and os.environ.get(env):
        return Path(os.environ[env]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / APP_DIR_NAME
