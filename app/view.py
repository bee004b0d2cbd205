"""What the renderer has told the UI so far. The app absorbs events into it each frame; widgets only read it."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from app.render_types import (
    AnchorCodes,
    ContentResolved,
    FrameFailed,
    FrameResult,
    ModelFailed,
    ModelInfo,
    ModelLoaded,
    MotionDirections,
    RenderError,
    SRChanged,
    SRFailed,
    SRInfo,
    ThumbResult,
)
from app.state import AppState, ModelShapes

PERF_HISTORY = 300  # UI frames kept for the Performance plot


@dataclass
class PerfHistory:
    """Ring buffers for the Performance panel's plot (numpy so implot draws them without copies)."""

    ui_ms: np.ndarray = field(default_factory=lambda: np.zeros(PERF_HISTORY, np.float32))
    app_ms: np.ndarray = field(default_factory=lambda: np.zeros(PERF_HISTORY, np.float32))
    render_ms: np.ndarray = field(default_factory=lambda: np.zeros(PERF_HISTORY, np.float32))
    fps: np.ndarray = field(default_factory=lambda: np.zeros(PERF_HISTORY, np.float32))
    count: int = 0

    def add(self, ui_ms: float, app_ms: float, render_ms: float, fps: float) -> None:
        """ui_ms: frame interval; app_ms: time in the app's own code that frame (widgets, emit, submit)."""
        for buf, v in ((self.ui_ms, ui_ms), (self.app_ms, app_ms), (self.render_ms, render_ms), (self.fps, fps)):
            buf[:-1] = buf[1:]
            buf[-1] = v
        self.count = min(self.count + 1, PERF_HISTORY)


class RenderView:
    def __init__(self) -> None:
        self.model: ModelInfo | None = None
        self.model_error: str | None = None
        self.frame: FrameResult | None = None  # the newest good frame: stays when a later render fails
        self.frame_error: str | None = None
        self.sr: SRInfo | None = None  # the SR level beside the base (docs/cascade.md), None = off
        self.sr_error: str | None = None  # the last SR file that could not be used (the state stayed)
        self.sr_frame: FrameResult | None = None  # the newest SR frame; shown while it answers the newest request
        self.sr_frames_shown = 0
        self.errors: deque[str] = deque(maxlen=20)
        self.thumbs: dict[str, ThumbResult] = {}
        self.anchors: dict[tuple, np.ndarray] = {}  # (fingerprint, motion seed, anchor) → unedited u
        self.directions: MotionDirections | None = None
        self.frames_shown = 0
        self.latency_ms = 0.0  # submit → frame arrives, of the newest frame
        self.last_render_ms = 0.0
        self._shown_at: deque[float] = deque(maxlen=512)
        self.perf = PerfHistory()

    def absorb(self, events: list, state: AppState, now: float | None = None) -> list[str]:
        """Apply renderer events; returns notifications for the status bar."""
        now = time.perf_counter() if now is None else now
        notes: list[str] = []
        for e in events:
            if isinstance(e, FrameResult) and e.sr:
                if self.sr_frame is None or e.stamp >= self.sr_frame.stamp:
                    self.sr_frame = e
                    self.sr_frames_shown += 1
            elif isinstance(e, FrameResult):
                if self.frame is not None and e.stamp < self.frame.stamp:
                    continue  # stale: a newer request has already been answered
                self.frame, self.frame_error = e, None
                self.frames_shown += 1
                self._shown_at.append(now)
                self.latency_ms = (now - e.requested_at) * 1000
                if not e.cached:
                    self.last_render_ms = e.render_ms
            elif isinstance(e, FrameFailed):
                if self._moot(e, state):
                    continue
                if self.frame is None or e.stamp >= self.frame.stamp:
                    self.frame_error = e.message
                    self.errors.append(e.message)
                    if self.model is not None and self.frame is not None:
                        if self.frame.fingerprint != self.model.fingerprint:
                            self.frame = None  # another model's picture is no "last good frame" of this one
            elif isinstance(e, RenderError):
                self.errors.append(f"{e.what}: {e.message}")
            elif isinstance(e, ContentResolved):
                state.resolve(e.fingerprint, e.content_key, e.ws)
            elif isinstance(e, ThumbResult):
                self.thumbs[e.slot] = e
            elif isinstance(e, AnchorCodes):
                for i, u in e.codes.items():
                    self.anchors[(e.fingerprint, e.seed, i)] = u
            elif isinstance(e, MotionDirections):
                self.directions = e
            elif isinstance(e, ModelLoaded):
                note = self._model_changed(e.info, state)
                opened = f"opened {e.info.name} ({e.info.resolution}², {e.info.device})"
                notes.append(f"{opened}; {note}" if note else opened)
            elif isinstance(e, SRChanged):
                changed = (e.info and e.info.fingerprint) != (self.sr and self.sr.fingerprint)
                self.sr, self.sr_error = e.info, None
                if changed:
                    self.sr_frame = None
                    if e.info is not None:
                        notes.append(f"SR level {e.info.name}: {e.info.base_resolution}² to {e.info.resolution}²")
                if e.note:
                    notes.append(e.note)
            elif isinstance(e, SRFailed):
                self.sr_error = e.message
                notes.append(e.message)
            elif isinstance(e, ModelFailed):
                self.model_error = e.message
                notes.append(e.message)
        return notes

    def _model_changed(self, info: ModelInfo, state: AppState) -> str | None:
        """A new model: the document is fitted to it (app.state.AppState.adopt_model); returns its note."""
        self.model, self.model_error = info, None
        self.sr_frame = None
        self.thumbs.clear()
        self.anchors.clear()
        self.directions = None
        self.frame_error = None
        return state.adopt_model(model_shapes(info))

    def _moot(self, e: FrameFailed, state: AppState) -> bool:
        """A failure of codes the loaded model cannot take, asked just before the model change refit them."""
        if self.model is None:
            return False
        r, shapes = e.request, model_shapes(self.model)
        fits = shapes.content_fits(r.content) and shapes.motion_fits(r.motion)
        return not fits and (r.content != state.content or r.motion != state.motion)

    def current_sr_frame(self) -> FrameResult | None:
        """The SR frame of the low-res frame on screen (same request, same model), or None while it renders."""
        fr, sr = self.frame, self.sr_frame
        if fr is None or sr is None or self.sr is None or sr.fingerprint != fr.fingerprint:
            return None
        return sr if sr.request == fr.request else None

    def achieved_fps(self, now: float | None = None, window_s: float = 1.0) -> float:
        """Distinct frames that reached the screen per second, over the last `window_s`."""
        now = time.perf_counter() if now is None else now
        recent = [t for t in self._shown_at if now - t <= window_s]
        if len(recent) < 2:
            return 0.0
        return (len(recent) - 1) / max(recent[-1] - recent[0], 1e-6)

    def anchor_code(self, seed: int, anchor: int) -> np.ndarray | None:
        if self.model is None:
            return None
        return self.anchors.get((self.model.fingerprint, seed, anchor))


def model_shapes(info: ModelInfo) -> ModelShapes:
    return ModelShapes(info.fingerprint, info.num_ws, info.w_dim, info.motion_u_dim, info.c_dim, info.name)
