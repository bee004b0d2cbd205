"""Typed app state: the content and motion the user holds, the timeline, favourites, and undo/redo.

Content and Motion are immutable values: an edit makes a new one, so an undo snapshot is a reference and
undo restores the exact latents (bit for bit) that were current. Each value carries a `key` computed from
its data (seed, ψ, a digest of its codes), which the renderer uses to cache frames: undoing to an
earlier motion finds its frames still cached.

Sessions are a JSON file (settings, seeds, labels) plus a `.npz` next to it (codes), both written
atomically; the JSON names the .npz and its sha256 so a mismatched pair is refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from engine.errors import SgvError
from engine.fileio import atomic_path, atomic_write_text, sha256_file

SESSION_FORMAT = "sgv-studio.session"
SESSION_VERSION = 1
HISTORY_LIMIT = 50
UNDO_LIMIT = 500


class SessionError(SgvError):
    """A session file that is missing, damaged or does not belong to its .npz."""


def _frozen_array(a: np.ndarray, dtype=np.float32) -> np.ndarray:
    a = np.array(a, dtype=dtype, copy=True)
    a.flags.writeable = False
    return a


def _digest(*parts: bytes) -> str:
    h = hashlib.sha1()
    for p in parts:
        h.update(p)
    return h.hexdigest()[:16]


# ----------------------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True, eq=False)
class Content:
    """What the video shows: W+ codes, from a seed (mapped by the model) or explicit (projection, edit, file).

    When `ws` is given it is used as is and `seed`/`psi` are only provenance; otherwise the renderer maps
    the seed's z with truncation ψ.
    """

    seed: int | None = 0
    psi: float = 1.0
    ws: np.ndarray | None = None  # [L, D] float32 W+ codes, read-only
    c: int | None = None  # class index of a conditional model; None = unconditional (or class 0)
    label: str = ""  # shown in history lists: "seed 3, ψ 0.70", "projection of cat.png"
    provenance: Mapping[str, str] = field(default_factory=dict)
    key: tuple = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.seed is None and self.ws is None:
            raise ValueError("Content needs a seed or explicit W+ codes")
        if self.ws is not None:
            ws = _frozen_array(self.ws)
            if ws.ndim == 3 and ws.shape[0] == 1:
                ws = _frozen_array(ws[0])
            if ws.ndim != 2:
                raise ValueError(f"W+ codes must be [L, D], got {list(ws.shape)}")
            object.__setattr__(self, "ws", ws)
            key = ("ws", _digest(str(ws.shape).encode(), ws.tobytes()), self.c)
        else:
            object.__setattr__(self, "seed", int(self.seed))
            key = ("seed", self.seed, round(float(self.psi), 6), self.c)
        object.__setattr__(self, "psi", float(self.psi))
        object.__setattr__(self, "provenance", MappingProxyType(dict(self.provenance)))
        object.__setattr__(self, "key", key)
        if not self.label:
            object.__setattr__(self, "label", self.describe())

    @classmethod
    def from_seed(cls, seed: int, psi: float = 1.0, c: int | None = None) -> Content:
        return cls(seed=int(seed), psi=float(psi), c=c)

    @classmethod
    def from_codes(cls, ws: np.ndarray, label: str, c: int | None = None, **provenance: str) -> Content:
        return cls(seed=None, ws=ws, c=c, label=label, provenance=provenance)

    def with_codes(self, ws: np.ndarray) -> Content:
        """The same content pinned to explicit codes (e.g. a seed's codes resolved by one model, for a session)."""
        return dataclasses.replace(self, ws=ws, label=self.label)

    def describe(self) -> str:
        if self.ws is not None and self.seed is None:
            return "explicit codes"
        cls = f", class {self.c}" if self.c is not None else ""
        return f"seed {self.seed}, ψ {self.psi:.2f}{cls}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Content) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)


@dataclass(frozen=True, eq=False)
class Motion:
    """How the video moves: a motion seed plus edited anchor codes u (engine.MotionCodes without torch)."""

    seed: int = 0
    overrides: Mapping[int, np.ndarray] = field(default_factory=dict)  # anchor index → u [V] float32
    key: tuple = field(init=False, repr=False)

    def __post_init__(self) -> None:
        edits = {int(i): _frozen_array(u).reshape(-1) for i, u in sorted(self.overrides.items())}
        object.__setattr__(self, "seed", int(self.seed))
        object.__setattr__(self, "overrides", MappingProxyType(edits))
        parts = [f"{i}:{u.shape[0]}".encode() + u.tobytes() for i, u in edits.items()]
        object.__setattr__(self, "key", (self.seed, _digest(*parts) if parts else None))

    def with_override(self, anchor: int, u: np.ndarray) -> Motion:
        edits = dict(self.overrides)
        edits[int(anchor)] = u
        return Motion(self.seed, edits)

    def with_overrides(self, codes: Mapping[int, np.ndarray]) -> Motion:
        edits = dict(self.overrides)
        edits.update({int(i): u for i, u in codes.items()})
        return Motion(self.seed, edits)

    def without_override(self, anchor: int) -> Motion:
        return Motion(self.seed, {i: u for i, u in self.overrides.items() if i != int(anchor)})

    def without_overrides(self) -> Motion:
        return Motion(self.seed)

    @property
    def edited_anchors(self) -> list[int]:
        return sorted(self.overrides)

    def describe(self) -> str:
        n = len(self.overrides)
        return f"motion {self.seed}" + (f" ({n} edited anchor{'s' if n != 1 else ''})" if n else "")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Motion) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)


def affected_time_range(anchors: list[int] | tuple[int, ...], delta_z: float) -> tuple[float, float] | None:
    """Open interval of t whose frames change when these anchors' codes change (engine.nets.motion)."""
    if not anchors:
        return None
    return (min(anchors) - 1) * delta_z, (max(anchors) + 1) * delta_z


@dataclass(frozen=True)
class Favourite:
    name: str
    content: Content
    motion: Motion


@dataclass(frozen=True)
class Document:
    """Everything undo/redo covers."""

    content: Content = field(default_factory=Content)
    motion: Motion = field(default_factory=Motion)
    favourites: tuple[Favourite, ...] = ()


# ----------------------------------------------------------------------------------------------------
# Undo


@dataclass(frozen=True)
class _Entry:
    doc: Document
    label: str


class UndoStack:
    """Snapshots of the Document. A run of pushes with the same `coalesce` token (one slider drag) is one step."""

    def __init__(self, doc: Document, limit: int = UNDO_LIMIT):
        self.current = doc
        self.limit = limit
        self._undo: list[_Entry] = []
        self._redo: list[_Entry] = []
        self._token: Hashable | None = None

    def push(self, doc: Document, label: str, coalesce: Hashable | None = None) -> None:
        if doc == self.current:
            return
        if coalesce is None or coalesce != self._token or not self._undo:
            self._undo.append(_Entry(self.current, label))
            del self._undo[: -self.limit]
        self._token = coalesce
        self.current = doc
        self._redo.clear()

    def undo(self) -> bool:
        if not self._undo:
            return False
        entry = self._undo.pop()
        self._redo.append(_Entry(self.current, entry.label))
        self.current, self._token = entry.doc, None
        return True

    def redo(self) -> bool:
        if not self._redo:
            return False
        entry = self._redo.pop()
        self._undo.append(_Entry(self.current, entry.label))
        self.current, self._token = entry.doc, None
        return True

    def reset(self, doc: Document) -> None:
        self.current, self._token = doc, None
        self._undo.clear()
        self._redo.clear()

    @property
    def undo_label(self) -> str | None:
        return self._undo[-1].label if self._undo else None

    @property
    def redo_label(self) -> str | None:
        return self._redo[-1].label if self._redo else None


# ----------------------------------------------------------------------------------------------------
# Timeline


@dataclass
class Timeline:
    """The playhead and playback settings (not undoable: moving in time is not an edit)."""

    t: float = 0.0  # playhead, in training-data frames
    playing: bool = False
    fps: float = 25.0  # playback frames per second (1..240); fractional rates such as 23.976 or 7.5 too
    time_scale: float = 1.0  # t per native frame of wall time; negative plays backwards
    loop: bool = True
    loop_start: float = 0.0  # t
    loop_end: float = 256.0  # t
    view_start: float = 0.0  # left edge of the ruler, t
    view_span: float = 256.0  # t shown across the ruler
    scrubbing: bool = False  # the ruler is being dragged (thumbnails wait until it is released)

    def set_t(self, t: float) -> None:
        if not math.isfinite(t):
            return
        self.t = float(t)
        self.follow()

    def follow(self) -> None:
        """Keep the playhead on the ruler: page the view when t leaves it (playback, a typed jump)."""
        if not self.view_start <= self.t <= self.view_start + self.view_span:
            self.view_start = self.t - 0.25 * self.view_span if self.time_scale >= 0 else self.t - 0.75 * self.view_span

    def set_loop(self, start: float, end: float) -> None:
        if math.isfinite(start) and math.isfinite(end) and end > start:
            self.loop_start, self.loop_end = float(start), float(end)


# ----------------------------------------------------------------------------------------------------
# Models: what codes a model takes, and work kept aside for the model it was made with


@dataclass(frozen=True)
class ModelShapes:
    """The codes a loaded model takes: W+ [num_ws, w_dim], motion codes u [motion_u_dim], c_dim classes."""

    fingerprint: str
    num_ws: int
    w_dim: int
    motion_u_dim: int
    c_dim: int = 0
    name: str = ""

    def content_fits(self, content: Content) -> bool:
        if content.c is not None and self.c_dim and content.c >= self.c_dim:
            return False
        return content.ws is None or tuple(content.ws.shape) == (self.num_ws, self.w_dim)

    def motion_fits(self, motion: Motion) -> bool:
        return all(u.shape[0] == self.motion_u_dim for u in motion.overrides.values())


@dataclass
class Parked:
    """Contents and favourites whose codes do not fit the loaded model, kept for the model they were made with."""

    name: str = ""  # that model's file name, for messages
    history: list[Content] = field(default_factory=list)
    favourites: list[Favourite] = field(default_factory=list)

    def describe(self) -> str:
        parts = []
        if self.history:
            parts.append(f"{len(self.history)} W+ code{'s' if len(self.history) != 1 else ''}")
        if self.favourites:
            parts.append(f"{len(self.favourites)} favourite{'s' if len(self.favourites) != 1 else ''}")
        return " and ".join(parts)


# ----------------------------------------------------------------------------------------------------
# App state


SR_VIEWS = ("low-res", "SR", "side by side")


class AppState:
    """The document (undoable) + timeline + history + resolved codes. Owned by the app, edited by widgets."""

    def __init__(self, doc: Document | None = None):
        self.undo = UndoStack(doc or Document())
        self.timeline = Timeline()
        self.history: list[Content] = [self.undo.current.content]
        self.selected_anchor: int | None = None
        self.content_locked = False  # Mix and grid clicks change only the motion
        self.precision = "fp32"
        self.sr_view = SR_VIEWS[1]  # with an SR level loaded: what the viewport shows (docs/cascade.md)
        # Codes of seed contents as mapped by the loaded model: (model fingerprint, content key) → [L, D].
        self.resolved: dict[tuple, np.ndarray] = {}
        self.model_fingerprint: str | None = None
        # The model the document's explicit codes were made with (the loaded one, or a session's before its
        # model has loaded), and work that did not fit a later model, by the fingerprint of its own model.
        self.document_fingerprint: str | None = None
        self.document_model_name = ""
        self.parked: dict[str, Parked] = {}

    # -- the document --------------------------------------------------------------------------------
    @property
    def doc(self) -> Document:
        return self.undo.current

    @property
    def content(self) -> Content:
        return self.doc.content

    @property
    def motion(self) -> Motion:
        return self.doc.motion

    @property
    def favourites(self) -> tuple[Favourite, ...]:
        return self.doc.favourites

    def set_content(self, content: Content, label: str | None = None, coalesce: Hashable | None = None) -> None:
        self.undo.push(dataclasses.replace(self.doc, content=content), label or f"content: {content.label}", coalesce)
        self._remember(content, replace_last=coalesce is not None)

    def set_motion(self, motion: Motion, label: str | None = None, coalesce: Hashable | None = None) -> None:
        self.undo.push(dataclasses.replace(self.doc, motion=motion), label or motion.describe(), coalesce)

    def set_pair(self, content: Content, motion: Motion, label: str) -> None:
        self.undo.push(dataclasses.replace(self.doc, content=content, motion=motion), label)
        self._remember(content)

    def set_favourites(self, favourites: tuple[Favourite, ...], label: str) -> None:
        self.undo.push(dataclasses.replace(self.doc, favourites=tuple(favourites)), label)

    def add_favourite(self, name: str | None = None) -> Favourite:
        fav = Favourite(name or f"fav {len(self.favourites) + 1}", self.content, self.motion)
        self.set_favourites((*self.favourites, fav), f"add favourite {fav.name}")
        return fav

    def swap_motions(self, a: int, b: int) -> None:
        """Favourites a and b exchange motions (each keeps its content); the current video becomes a's."""
        favs = list(self.favourites)
        fa, fb = favs[a], favs[b]
        favs[a] = dataclasses.replace(fa, motion=fb.motion)
        favs[b] = dataclasses.replace(fb, motion=fa.motion)
        doc = Document(favs[a].content, favs[a].motion, tuple(favs))
        self.undo.push(doc, f"swap motion of {fa.name} and {fb.name}")
        self._remember(favs[a].content)

    def undo_edit(self) -> bool:
        return self.undo.undo()

    def redo_edit(self) -> bool:
        return self.undo.redo()

    def _remember(self, content: Content, replace_last: bool = False) -> None:
        if replace_last and self.history and self.history[0].seed == content.seed and self.history[0].ws is None:
            self.history[0] = content  # a ψ drag is one history entry, not one per frame
            return
        self.history = [content] + [c for c in self.history if c != content][: HISTORY_LIMIT - 1]

    # -- codes -----------------------------------------------------------------------------------------
    def codes_of(self, content: Content) -> np.ndarray | None:
        """The exact W+ codes [L, D] of a content under the loaded model (None until the renderer mapped it)."""
        if content.ws is not None:
            return content.ws
        return self.resolved.get((self.model_fingerprint, content.key))

    def resolve(self, fingerprint: str, content_key: tuple, ws: np.ndarray) -> None:
        self.resolved[(fingerprint, content_key)] = _frozen_array(ws)

    # -- models ----------------------------------------------------------------------------------------
    def adopt_model(self, model: ModelShapes) -> str | None:
        """Make the document fit a model that has just loaded; returns one line for the status bar, or None.

        Seed, ψ, t, the motion seed and playback stay. Explicit W+ codes, motion edits and favourites whose
        shapes do not fit are kept aside for the model they were made with (by fingerprint) and come back
        when it is loaded again; the current content is re-derived from its seed (or the newest seed in the
        history) and the motion keeps its seed. Nothing changes when everything fits.
        """
        origin, origin_name = self.document_fingerprint, self.document_model_name
        self.model_fingerprint = model.fingerprint
        self.document_fingerprint, self.document_model_name = model.fingerprint, model.name
        if origin == model.fingerprint:
            return None
        doc = self.doc
        away = Parked(origin_name)
        away.history = [c for c in self.history if not model.content_fits(c)]
        away.favourites = [
            fav for fav in doc.favourites if not (model.content_fits(fav.content) and model.motion_fits(fav.motion))
        ]
        content, motion = doc.content, doc.motion
        if not model.content_fits(content):
            base = content if content.seed is not None else next((c for c in self.history if c.ws is None), Content())
            c = base.c if base.c is not None and base.c < model.c_dim else None
            content = Content.from_seed(base.seed, base.psi, c)
            if doc.content not in away.history:
                away.history.insert(0, doc.content)
        if not model.motion_fits(motion):
            # The edits stay with their content as a favourite of the other model; the seed stays here.
            away.favourites.append(Favourite(f"{doc.content.label}, {motion.describe()}", doc.content, motion))
            motion = Motion(motion.seed)
        back = self.parked.pop(model.fingerprint, Parked())
        if away.history or away.favourites:
            kept = self.parked.setdefault(origin or "", Parked(origin_name))
            kept.history = away.history + [c for c in kept.history if c not in away.history]
            kept.favourites = kept.favourites + away.favourites
        history = [c for c in self.history if model.content_fits(c)]
        history += [c for c in back.history if model.content_fits(c) and c not in history]
        favourites = tuple(f for f in doc.favourites if f not in away.favourites) + tuple(back.favourites)
        new = Document(content, motion, favourites)
        if away.history or away.favourites:
            self.undo.reset(new)  # earlier steps hold codes this model cannot render
        elif new != doc:
            self.undo.push(new, f"favourites made with {model.name or 'this model'}")
        self.history = history[:HISTORY_LIMIT] or [content]
        if content != doc.content:
            self._remember(content)
        notes = []
        if away.history or away.favourites:
            whose = f" for {origin_name}" if origin_name else ""
            notes.append(
                f"{away.describe()} that do not fit this model kept{whose} (back when it is opened again)"
                + (f"; content re-derived from {content.label}" if content != doc.content else "")
                + ("; motion edits set aside" if motion != doc.motion else "")
            )
        if back.history or back.favourites:
            notes.append(f"{back.describe()} made with this model are back")
        return "; ".join(notes) or None

    # -- sessions --------------------------------------------------------------------------------------
    def to_session(self, model_path: str | None, sr_path: str | None = None) -> tuple[dict, dict[str, np.ndarray]]:
        """JSON-able dict + named arrays describing the document, timeline and history."""
        arrays: dict[str, np.ndarray] = {}

        def content_ref(c: Content) -> dict:
            ref = {"seed": c.seed, "psi": c.psi, "c": c.c, "label": c.label, "provenance": dict(c.provenance)}
            codes = c.ws if c.ws is not None else self.codes_of(c)
            ref["explicit"] = c.ws is not None
            if codes is not None:
                name = f"ws_{len(arrays)}"
                arrays[name] = codes
                ref["ws"] = name
            return ref

        def motion_ref(m: Motion) -> dict:
            names = {}
            for i, u in m.overrides.items():
                name = f"u_{len(arrays)}"
                arrays[name] = u
                names[str(i)] = name
            return {"seed": m.seed, "overrides": names}

        data = {
            "format": SESSION_FORMAT,
            "format_version": SESSION_VERSION,
            "model": {"path": model_path, "fingerprint": self.model_fingerprint, "sr": sr_path},
            "content": content_ref(self.content),
            "motion": motion_ref(self.motion),
            "favourites": [
                {"name": f.name, "content": content_ref(f.content), "motion": motion_ref(f.motion)}
                for f in self.favourites
            ],
            "history": [content_ref(c) for c in self.history],
            "parked": {
                fp: {
                    "name": kept.name,
                    "history": [content_ref(c) for c in kept.history],
                    "favourites": [
                        {"name": f.name, "content": content_ref(f.content), "motion": motion_ref(f.motion)}
                        for f in kept.favourites
                    ],
                }
                for fp, kept in self.parked.items()
            },
            "timeline": dataclasses.asdict(dataclasses.replace(self.timeline, playing=False, scrubbing=False)),
            "precision": self.precision,
            "sr_view": self.sr_view,
        }
        return data, arrays

    def apply_session(self, data: dict, arrays: Mapping[str, np.ndarray]) -> None:
        """Replace document, timeline and history from to_session() output. Undo history starts afresh."""
        fp = (data.get("model") or {}).get("fingerprint")

        def content_of(ref: dict) -> Content:
            ws = arrays[ref["ws"]] if ref.get("ws") else None
            if ref.get("explicit"):
                return Content(
                    seed=ref.get("seed"),
                    psi=ref.get("psi", 1.0),
                    ws=ws,
                    c=ref.get("c"),
                    label=ref.get("label", ""),
                    provenance=ref.get("provenance") or {},
                )
            content = Content(seed=ref["seed"], psi=ref.get("psi", 1.0), c=ref.get("c"), label=ref.get("label", ""))
            if ws is not None and fp:
                self.resolve(fp, content.key, ws)  # the exact codes this seed had when the session was saved
            return content

        def motion_of(ref: dict) -> Motion:
            return Motion(int(ref["seed"]), {int(i): arrays[n] for i, n in ref.get("overrides", {}).items()})

        def favourite_of(ref: dict) -> Favourite:
            return Favourite(ref["name"], content_of(ref["content"]), motion_of(ref["motion"]))

        try:
            doc = Document(
                content_of(data["content"]),
                motion_of(data["motion"]),
                tuple(favourite_of(f) for f in data["favourites"]),
            )
            history = [content_of(r) for r in data.get("history", [])]
            parked = {
                str(key): Parked(
                    str(ref.get("name", "")),
                    [content_of(r) for r in ref.get("history", [])],
                    [favourite_of(f) for f in ref.get("favourites", [])],
                )
                for key, ref in (data.get("parked") or {}).items()
            }
            timeline = Timeline(**{k: v for k, v in data.get("timeline", {}).items() if k in Timeline.__annotations__})
            timeline.fps = float(timeline.fps)
        except (KeyError, TypeError, ValueError) as e:
            raise SessionError(f"session is damaged ({type(e).__name__}: {e})") from None
        self.undo.reset(doc)
        self.history = history or [doc.content]
        self.parked = parked
        # The session's codes belong to its model: a model of other shapes that loads next keeps them aside.
        self.document_fingerprint = fp
        self.document_model_name = Path((data.get("model") or {}).get("path") or "").name
        self.timeline = timeline
        self.precision = data.get("precision", self.precision)
        self.sr_view = data.get("sr_view") if data.get("sr_view") in SR_VIEWS else self.sr_view


def session_arrays_path(path: str | os.PathLike) -> Path:
    path = Path(path)
    return path.with_name(path.stem + ".npz")


def save_session(path: str | os.PathLike, state: AppState, model_path: str | None, sr_path: str | None = None) -> Path:
    """Write <path> (JSON) and <stem>.npz next to it, each atomically. Returns the JSON path."""
    path = Path(path)
    if path.suffix.lower() != ".json":
        path = path.with_name(path.name + ".json")
    data, arrays = state.to_session(model_path, sr_path)
    npz = session_arrays_path(path)
    with atomic_path(npz) as tmp:
        np.savez(tmp, **arrays)
    data["arrays"] = {"file": npz.name, "sha256": sha256_file(npz)}
    atomic_write_text(path, json.dumps(data, indent=1, ensure_ascii=False))
    return path


def load_session(path: str | os.PathLike, state: AppState) -> dict:
    """Read a session into `state`. Raises SessionError with one line naming the file. Returns the JSON dict."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SessionError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise SessionError(f"{path}: not a session file ({e})") from None
    if not isinstance(data, dict) or data.get("format") != SESSION_FORMAT:
        raise SessionError(f"{path}: not an sgv-studio session (no '{SESSION_FORMAT}' format tag)")
    if int(data.get("format_version", 0)) > SESSION_VERSION:
        raise SessionError(f"{path}: written by a newer sgv-studio (session format {data['format_version']})")
    meta = data.get("arrays") or {}
    npz = path.with_name(meta.get("file", session_arrays_path(path).name))
    try:
        blob = npz.read_bytes()
    except OSError as e:
        raise SessionError(f"{npz}: cannot read the session's codes ({e.strerror or e})") from None
    if meta.get("sha256") and hashlib.sha256(blob).hexdigest() != meta["sha256"]:
        raise SessionError(f"{npz}: does not match {path.name} (changed or from another save)")
    try:
        with np.load(npz, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise SessionError(f"{npz}: damaged codes file ({e})") from None
    try:
        state.apply_session(data, arrays)
    except SessionError as e:
        raise SessionError(f"{path}: {e}") from None
    return data
