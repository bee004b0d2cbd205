"""Latents files: one video's content codes (W+), its motion and where they came from, as a plain `.npz`.

The file is numpy's zip of arrays, read with `allow_pickle=False` (loading never runs code):

    format          "sgv-studio.latents"            format_version  1
    ws              float32 [L, D]                  content codes (W+), L = G.num_ws, D = G.w_dim
    motion_kind     "seed" | "noise"                motion_seed int64 (seed kind) | motion_noise float32 [P, Z]
    override_anchors int64 [K]                      override_codes float32 [K, V]   (per-anchor motion edits)
    c               float32 [c_dim]                 only for conditional models
    fingerprint     str                             engine.generator_fingerprint of the model ("" unknown)
    provenance      str (JSON)                      e.g. {"source": "projection", "image": ..., "loss": ...}

The app keeps its content history in this format; `sgv project` and `sgv edit` write it.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from engine.errors import SgvError
from engine.fileio import atomic_path
from engine.motion_codes import MotionCodes

FORMAT = "sgv-studio.latents"
FORMAT_VERSION = 1


class LatentsError(SgvError):
    """A latents file that is missing, damaged, foreign, or does not fit the model."""


class LatentsWarning(UserWarning):
    """Latents made with another model (fingerprint mismatch): legal, usually a mistake."""


@dataclass(frozen=True, eq=False)
class Latents:
    ws: torch.Tensor  # [L, D] float32 content codes (W+), on the CPU
    motion: MotionCodes = field(default_factory=MotionCodes)
    c: torch.Tensor | None = None  # [c_dim] label of a conditional model
    fingerprint: str = ""  # model the codes belong to ("" = unknown)
    provenance: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        ws = torch.as_tensor(self.ws).detach().to("cpu", torch.float32)
        if ws.ndim == 3 and ws.shape[0] == 1:
            ws = ws[0]
        if ws.ndim != 2:
            raise LatentsError(f"content codes must be [L, D] (W+), got {list(ws.shape)}")
        object.__setattr__(self, "ws", ws.contiguous())
        if self.c is not None:
            object.__setattr__(self, "c", torch.as_tensor(self.c).detach().to("cpu", torch.float32).reshape(-1))

    def replace(self, **changes) -> Latents:
        import dataclasses

        return dataclasses.replace(self, **changes)

    def ws_batch(self, device: torch.device | str = "cpu") -> torch.Tensor:
        """[1, L, D] on `device`, as G.synthesis and engine.Video take it."""
        return self.ws.unsqueeze(0).to(device)


def from_seed(G, seed: int, motion: MotionCodes | int = 0, psi: float = 1.0, c=None) -> Latents:
    """The latents of content seed `seed` (the same codes `sgv generate --seeds` renders)."""
    from engine.checkpoint import generator_fingerprint
    from engine.video import class_vector, content_z

    cv = class_vector(c, G.c_dim)
    with torch.no_grad():
        ws = G.mapping(content_z(int(seed), G.z_dim).to(G.device), cv.to(G.device) if cv is not None else None, psi)
    motion = motion if isinstance(motion, MotionCodes) else MotionCodes(seed=int(motion))
    return Latents(
        ws=ws[0],
        motion=motion,
        c=cv[0] if cv is not None else None,
        fingerprint=generator_fingerprint(G),
        provenance={"source": "seed", "seed": int(seed), "psi": float(psi)},
    )


# ----------------------------------------------------------------------------------------------------
# Writing


def _motion_arrays(m: MotionCodes) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    if m.noise is not None:
        out["motion_kind"] = np.array("noise")
        out["motion_noise"] = m.noise.detach().cpu().numpy().astype(np.float32)
    else:
        out["motion_kind"] = np.array("seed")
        out["motion_seed"] = np.array(int(m.seed), dtype=np.int64)
    anchors = sorted(m.overrides)
    out["override_anchors"] = np.array(anchors, dtype=np.int64)
    if anchors:
        out["override_codes"] = np.stack([m.overrides[i].cpu().numpy().astype(np.float32) for i in anchors])
    return out


def write_npz(path: str | os.PathLike, what: str, format_id: str, version: int, arrays: dict) -> Path:
    """Write `arrays` after a format header (`format` = format_id, `format_version`) to a .npz, atomically (temp file +
    rename: a crash or Ctrl-C leaves any previous file intact). LatentsError naming `what` ("latents",
    "direction") for another file name or a failed write."""
    path = Path(path)
    if path.suffix.lower() != ".npz":
        raise LatentsError(f"{path}: {what} files end in .npz")
    header = {"format": np.array(format_id), "format_version": np.array(version, dtype=np.int64)}
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, **header, **arrays)  # a file object: np.savez would append ".npz" to a temp name
    except OSError as e:
        raise LatentsError(f"{path}: cannot write {what} ({e.strerror or e})") from None
    return path


def save_latents(path: str | os.PathLike, latents: Latents) -> Path:
    """Write atomically (temp file + rename): a crash or Ctrl-C leaves any previous file intact."""
    arrays = {
        "ws": latents.ws.numpy().astype(np.float32),
        "fingerprint": np.array(latents.fingerprint or ""),
        "provenance": np.array(json.dumps(latents.provenance, sort_keys=True, default=str)),
        **_motion_arrays(latents.motion),
    }
    if latents.c is not None:
        arrays["c"] = latents.c.numpy().astype(np.float32)
    return write_npz(path, "latents", FORMAT, FORMAT_VERSION, arrays)


# ----------------------------------------------------------------------------------------------------
# Reading


def _str(data, key: str, path: Path) -> str:
    a = data[key]
    if a.dtype.kind != "U" or a.ndim != 0:
        raise LatentsError(f"{path}: field '{key}' is not a string")
    return str(a)


def _array(data, key: str, path: Path, ndim: int, kind: str = "f") -> np.ndarray:
    if key not in data.files:
        raise LatentsError(f"{path}: latents file has no '{key}' field")
    a = data[key]
    if a.ndim != ndim or a.dtype.kind not in (kind if kind != "f" else "f"):
        raise LatentsError(f"{path}: field '{key}' has dtype {a.dtype} and shape {list(a.shape)}")
    if a.dtype.kind == "f" and not np.isfinite(a).all():
        raise LatentsError(f"{path}: field '{key}' holds NaN or infinite values")
    return a


def load_latents(path: str | os.PathLike, G=None, on_mismatch: str = "warn") -> Latents:
    """Read a latents file; with `G`, also check that it fits the model (see `check_model`; with "warn" a
    fingerprint mismatch is reported as a LatentsWarning)."""
    path = Path(path)
    if not path.exists():
        raise LatentsError(f"{path}: no such latents file")
    if path.is_dir():
        raise LatentsError(f"{path}: is a folder, not a latents file")
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as e:
        reason = "empty" if path.stat().st_size == 0 else f"not a readable .npz ({type(e).__name__})"
        raise LatentsError(f"{path}: {reason}") from None
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise LatentsError(f"{path}: a single .npy array, not a latents .npz file")
    try:
        with data:
            return _parse(data, path, G, on_mismatch)
    except LatentsError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, EOFError, KeyError) as e:
        # Object arrays (allow_pickle=False refuses them) and damaged members land here.
        raise LatentsError(f"{path}: damaged or unsupported latents file ({type(e).__name__}: {e})") from None


def _parse(data, path: Path, G, on_mismatch: str) -> Latents:
    if "format" not in data.files or _str(data, "format", path) != FORMAT:
        raise LatentsError(f"{path}: not an sgv-studio latents file")
    version = int(_array(data, "format_version", path, 0, "iu"))
    if version > FORMAT_VERSION:
        raise LatentsError(f"{path}: latents format version {version} is newer than this program ({FORMAT_VERSION})")
    ws = _array(data, "ws", path, 2)
    kind = _str(data, "motion_kind", path)
    if kind == "seed":
        motion = MotionCodes(seed=int(_array(data, "motion_seed", path, 0, "iu")))
    elif kind == "noise":
        motion = MotionCodes.from_noise(torch.from_numpy(_array(data, "motion_noise", path, 2).copy()))
    else:
        raise LatentsError(f"{path}: unknown motion kind '{kind}'")
    anchors = _array(data, "override_anchors", path, 1, "iu")
    if len(anchors):
        codes = _array(data, "override_codes", path, 2)
        if codes.shape[0] != len(anchors):
            raise LatentsError(f"{path}: {len(anchors)} override anchors but {codes.shape[0]} override codes")
        for i, u in zip(anchors.tolist(), codes, strict=True):
            motion = motion.with_override(i, torch.from_numpy(u.copy()))
    c = torch.from_numpy(_array(data, "c", path, 1).copy()) if "c" in data.files else None
    try:
        provenance = json.loads(_str(data, "provenance", path)) if "provenance" in data.files else {}
    except json.JSONDecodeError:
        raise LatentsError(f"{path}: provenance is not valid JSON") from None
    fp = _str(data, "fingerprint", path) if "fingerprint" in data.files else ""
    latents = Latents(ws=torch.from_numpy(ws.copy()), motion=motion, c=c, fingerprint=fp, provenance=provenance)
    if G is not None:
        msg = check_model(latents, G, on_mismatch=on_mismatch, where=str(path))
        if msg:
            import warnings

            warnings.warn(msg, LatentsWarning, stacklevel=3)
    return latents


def check_model(latents: Latents, G, on_mismatch: str = "warn", where: str = "latents") -> str | None:
    """Shapes must fit G (else LatentsError). A different model fingerprint is legal (codes of one model can be
    tried on a fine-tuned one) but usually a mistake: `on_mismatch` "error" raises, "warn" returns the one-line
    message for the caller to show, "ignore" returns None."""
    if on_mismatch not in ("warn", "error", "ignore"):
        raise ValueError(f"on_mismatch must be warn, error or ignore, not {on_mismatch!r}")
    L, D = latents.ws.shape
    if (L, D) != (G.num_ws, G.w_dim):
        raise LatentsError(f"{where}: content codes are [{L}, {D}], this model needs [{G.num_ws}, {G.w_dim}]")
    if G.c_dim and (latents.c is None or latents.c.numel() != G.c_dim):
        raise LatentsError(f"{where}: this model is conditional ({G.c_dim} classes) but the latents have no label")
    mcfg = G.config.motion
    noise = latents.motion.noise
    if noise is not None and noise.shape[1] < mcfg.z_dim:
        raise LatentsError(f"{where}: motion noise has {noise.shape[1]} dims, this model needs {mcfg.z_dim}")
    for i, u in latents.motion.overrides.items():
        if u.numel() != mcfg.v_dim:
            raise LatentsError(f"{where}: motion override at anchor {i} has {u.numel()} values, needs {mcfg.v_dim}")
    if on_mismatch == "ignore" or not latents.fingerprint:
        return None
    from engine.checkpoint import generator_fingerprint

    fp = generator_fingerprint(G)
    if fp == latents.fingerprint:
        return None
    msg = f"{where}: made with model {latents.fingerprint}, this model is {fp}; results will differ"
    if on_mismatch == "error":
        raise LatentsError(msg)
    return msg
