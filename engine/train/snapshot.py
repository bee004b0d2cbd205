"""Run-folder files that let training stop at any moment and continue exactly.

    <run>/snapshots/model-<nimg>.safetensors   G_ema as a model file (engine.load_generator reads it)
    <run>/snapshots/state-<nimg>.pt            G, D, G_ema, optimizers, augment p, counters
    <run>/model-latest.safetensors             a copy of the newest model snapshot

`<nimg>` is the number of real frames shown so far (10 digits). Each file is written atomically, the
model before the state, so after a kill -9 the newest *state* always has its model beside it and
`--resume latest` finds the newest complete state. The state file holds only tensors and plain Python
values: `torch.load(path, weights_only=True)` reads it.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import torch

from engine.checkpoint import save_generator
from engine.fileio import atomic_path
from engine.train.options import TrainingError

STATE_FORMAT = "sgv-studio.train-state"
STATE_VERSION = 1
_STATE_RE = re.compile(r"^state-(\d{10})\.pt$")


def snapshot_dir(run_dir: Path) -> Path:
    return Path(run_dir) / "snapshots"


def model_path(run_dir: Path, nimg: int) -> Path:
    return snapshot_dir(run_dir) / f"model-{nimg:010d}.safetensors"


def state_path(run_dir: Path, nimg: int) -> Path:
    return snapshot_dir(run_dir) / f"state-{nimg:010d}.pt"


def write_snapshot(
    run_dir: Path, nimg: int, G_ema, state: dict, provenance: dict, keep_states: int, save_model=save_generator
) -> Path:
    """Model, then state, then model-latest; older states beyond `keep_states` are removed last.
    `save_model(G_ema, path, provenance=...)` writes the model file (a cascade SR run passes its own)."""
    run_dir = Path(run_dir)
    model = model_path(run_dir, nimg)
    save_model(G_ema, model, provenance=provenance)
    with atomic_path(state_path(run_dir, nimg)) as tmp:
        torch.save({"format": STATE_FORMAT, "format_version": STATE_VERSION, **state}, tmp)
    with atomic_path(run_dir / "model-latest.safetensors") as tmp:
        shutil.copyfile(model, tmp)
    if keep_states > 0:
        for old in list_states(run_dir)[:-keep_states]:
            old.unlink(missing_ok=True)
    return model


def list_states(run_dir: Path) -> list[Path]:
    """State files, oldest first."""
    d = snapshot_dir(run_dir)
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if _STATE_RE.match(p.name))


def load_state(path: Path) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds for truncated/corrupt files
        raise TrainingError(f"{path}: not a readable training state ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict) or state.get("format") != STATE_FORMAT:
        raise TrainingError(f"{path}: not an sgv-studio training state")
    if int(state.get("format_version", 0)) > STATE_VERSION:
        raise TrainingError(f"{path}: training state version {state['format_version']} is newer than this sgv")
    return state


def find_latest(run_dir: Path) -> tuple[Path, dict] | None:
    """The newest state that loads (a damaged newer one is skipped with its reason kept)."""
    errors = []
    for path in reversed(list_states(run_dir)):
        try:
            return path, load_state(path)
        except TrainingError as e:
            errors.append(str(e))
    if errors:
        raise TrainingError(f"{run_dir}: no loadable training state ({'; '.join(errors)})")
    return None


def resolve_resume(resume: str | None, run_dir: Path) -> tuple[Path, dict] | None:
    """`--resume latest` → newest state in the run folder (None for a new run); a path → that state
    file, or the newest state of that run folder."""
    if not resume:
        return None
    if resume == "latest":
        return find_latest(run_dir)
    p = Path(resume)
    if p.is_dir():
        found = find_latest(p)
        if found is None:
            raise TrainingError(f"{p}: no training state to resume from (snapshots/state-*.pt)")
        return found
    if not p.exists():
        raise TrainingError(f"{p}: no such training state")
    return p, load_state(p)
