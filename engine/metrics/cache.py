"""Cached real-data statistics, one .npz per (dataset, detector file, protocol, seed).

Upstream keys its cache on an md5 of the dataset kwargs and the detector URL (`~/.cache/dnnlib/
gan-metrics`). Here the key also covers what the dataset holds (every video's name and length, the
archive's size and mtime) and the detector file's sha256, so a changed dataset or detector never reuses
stale statistics. Files are written atomically and read with allow_pickle=False; an unreadable or
mismatched file is treated as a miss and overwritten.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path

import numpy as np

from engine.fileio import atomic_write_bytes
from engine.paths import cache_root

FORMAT = "sgv-studio.metric-stats"
FORMAT_VERSION = 1


def default_cache_dir() -> Path:
    """$SGV_CACHE_DIR/metrics, else $XDG_CACHE_HOME/sgv-studio/metrics, else ~/.cache/sgv-studio/metrics."""
    return cache_root("SGV_CACHE_DIR") / "metrics"


def dataset_fingerprint(ds) -> dict:
    """What identifies a dataset's content cheaply: path, resolution, and every video's name and length."""
    h = hashlib.sha256()
    for i in range(len(ds)):
        h.update(f"{ds.video_name(i)}\t{ds.num_frames(i)}\n".encode())
    path = Path(str(ds.path)).expanduser()
    stat = {}
    try:
        st = path.stat()
        stat = {"size": st.st_size if path.is_file() else None, "mtime_ns": st.st_mtime_ns}
    except OSError:  # unreadable path: the names and lengths above still identify the content
        pass
    return {
        "path": str(path.resolve()) if path.exists() else str(ds.path),
        "resolution": int(ds.resolution),
        "num_videos": len(ds),
        "videos_sha256": h.hexdigest(),
        **stat,
    }


def cache_file(cache_dir: Path, key: dict) -> Path:
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(key["dataset"]["path"]).name) or "dataset"
    return Path(cache_dir) / f"{name}-{key['detector']['kind']}-{key['protocol']['name']}-{digest}.npz"


def load(path: Path, key: dict) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(μ, Σ, number of items) if `path` holds statistics for exactly `key`, else None."""
    try:
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            if meta.get("format") != FORMAT or meta.get("key") != json.loads(json.dumps(key)):
                return None
            return f["mu"].astype(np.float64), f["sigma"].astype(np.float64), int(meta["num_items"])
    except (OSError, ValueError, KeyError, json.JSONDecodeError):
        return None


def save(path: Path, key: dict, mu: np.ndarray, sigma: np.ndarray, num_items: int) -> None:
    meta = {"format": FORMAT, "format_version": FORMAT_VERSION, "key": key, "num_items": int(num_items)}
    buf = io.BytesIO()
    np.savez(buf, mu=mu.astype(np.float64), sigma=sigma.astype(np.float64), meta=np.array(json.dumps(meta)))
    atomic_write_bytes(path, buf.getvalue())
