"""Playback: the clock (wall time → playhead t, on the same frame grid as export, engine.frame_times) and
the UI side of playing (Player: frames rendered ahead, shown at their time; what to prefetch).

Frame k after play started at t0 is at t0 + time_scale · k · native_fps / fps, wrapped into the loop
range when looping. The clock counts whole playback frames from wall time, so a slow renderer makes
playback drop frames (the display shows the newest rendered one) rather than slow down.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from app.render_types import FrameRequest

MIN_FPS, MAX_FPS = 1, 240


def frame_step(fps: float, native_fps: float, time_scale: float) -> float:
    """t between consecutive playback frames."""
    return time_scale * native_fps / fps


def wrap(t: float, start: float, end: float) -> float:
    """t folded into [start, end) (the loop range)."""
    span = end - start
    if span <= 0:
        return t
    return start + math.fmod(t - start, span) + (span if t < start else 0.0)


@dataclass
class PlaybackClock:
    """Started at wall time `wall0` from playhead `t0`; rebuilt whenever fps, speed or t is changed by the user."""

    wall0: float
    t0: float
    fps: float
    native_fps: float
    time_scale: float
    loop: tuple[float, float] | None = None  # (start, end) when looping

    def frame_index(self, now: float) -> int:
        return max(0, int(math.floor((now - self.wall0) * self.fps + 1e-9)))

    def t_of(self, k: int) -> float:
        t = self.t0 + k * frame_step(self.fps, self.native_fps, self.time_scale)
        return wrap(t, *self.loop) if self.loop else t

    def t_at(self, now: float) -> float:
        return self.t_of(self.frame_index(now))

    def upcoming(self, now: float, count: int) -> tuple[float, ...]:
        """t of the next `count` playback frames after the current one (what the renderer prefetches)."""
        k = self.frame_index(now)
        return tuple(self.t_of(k + i) for i in range(1, count + 1))

    def matches(self, fps: float, native_fps: float, time_scale: float, loop: tuple[float, float] | None) -> bool:
        return (self.fps, self.native_fps, self.time_scale, self.loop) == (fps, native_fps, time_scale, loop)


# ----------------------------------------------------------------------------------------------------
# The UI side of playback: frames rendered ahead reach the UI as they are rendered and the UI shows each at
# its time. Before, a prefetched frame reached the screen only as the worker's answer to the UI's request
# for it; the worker keeps only the newest request, so every playback frame that fell while the worker was
# busy (a prefetch batch, a thumbnail batch) was rendered but never shown.

LATE_FRAMES = 4  # a buffered frame this many playback frames behind the playhead is still shown (not none)
BUFFER_BYTES = 128 << 20


@dataclass(frozen=True)
class PlaybackFrames:
    """Renderer → UI: playback frames rendered ahead of the playhead, {t: uint8 [H, W, 3]}."""

    fingerprint: str
    content_key: tuple
    motion_key: tuple
    precision: str
    frames: dict


class PlaybackBuffer:
    """Frames rendered ahead, keyed by (model fingerprint, content key, motion key, precision, t); the oldest
    go first beyond a byte budget."""

    def __init__(self, max_bytes: int = BUFFER_BYTES):
        self.max_bytes, self.bytes = max_bytes, 0
        self._frames: OrderedDict[tuple, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return len(self._frames)

    def add(self, e: PlaybackFrames) -> None:
        for t, image in e.frames.items():
            key = (e.fingerprint, e.content_key, e.motion_key, e.precision, float(t))
            old = self._frames.pop(key, None)
            self.bytes += image.nbytes - (old.nbytes if old is not None else 0)
            self._frames[key] = image
        while self.bytes > self.max_bytes and len(self._frames) > 1:
            _, old = self._frames.popitem(last=False)
            self.bytes -= old.nbytes

    def get(self, fingerprint: str, content_key: tuple, motion_key: tuple, precision: str, t: float):
        return self._frames.get((fingerprint, content_key, motion_key, precision, float(t)))


class Player:
    """Playback in the UI thread: the clock, the frames rendered ahead, which one to show, what to prefetch.

    Each UI frame: `advance` moves the playhead by wall time; `pick` returns the frame to show, the newest
    buffered frame at or before the playhead (up to `late` frames behind, newer than the one on screen);
    `upcoming` says what the renderer should prefetch: frames from where the playhead will be once they are
    rendered, every `stride`-th one when the UI draws fewer frames per second than playback asks for (the
    frames in between could never reach the screen, and rendering them takes the CPU the UI needs).
    """

    def __init__(self) -> None:
        self.clock: PlaybackClock | None = None
        self.buffer = PlaybackBuffer()
        self.ui_interval_s = 0.0  # smoothed interval between UI frames during playback
        self._last_t: float | None = None
        self._last_now: float | None = None
        self._shown: tuple | None = None  # (fingerprint, request key, index) of the frame shown from the buffer

    # -- events ------------------------------------------------------------------------------------------
    def take(self, events: list, shown_request=None) -> list:
        """Keep PlaybackFrames; drop the worker's cache-hit answer for a frame already shown from the buffer
        (the same picture, counted once); pass everything else on."""
        out = []
        for e in events:
            if isinstance(e, PlaybackFrames):
                self.buffer.add(e)
            elif getattr(e, "cached", False) and self._shown and (e.fingerprint, e.request) == self._shown[:2]:
                continue
            else:
                out.append(e)
        return out

    # -- the clock -----------------------------------------------------------------------------------------
    def stop(self) -> None:
        self.clock, self._last_t, self._last_now, self._shown = None, None, None, None

    def advance(self, now: float, timeline, native_fps: float) -> None:
        """Move timeline.t to the playback frame due at `now` (a new clock when the user changed t, fps,
        speed or the loop)."""
        tl = timeline
        in_loop = tl.loop and tl.loop_start <= tl.t <= tl.loop_end
        loop = (tl.loop_start, tl.loop_end) if in_loop or (self.clock and self.clock.loop) else None
        loop = loop if tl.loop else None
        if (
            self.clock is None
            or not self.clock.matches(tl.fps, native_fps, tl.time_scale, loop)
            or tl.t != self._last_t
        ):
            self.clock = PlaybackClock(now, tl.t, tl.fps, native_fps, tl.time_scale, loop)
            self._shown = None
        if self._last_now is not None:
            dt = now - self._last_now
            self.ui_interval_s = dt if self.ui_interval_s == 0.0 else 0.8 * self.ui_interval_s + 0.2 * dt
        self._last_now = now
        tl.t = self.clock.t_at(now)
        self._last_t = tl.t

    # -- what to show ------------------------------------------------------------------------------------
    def stride(self) -> int:
        """Prefetch every stride-th frame: about one per UI frame when the UI is slower than playback."""
        if self.clock is None:
            return 1
        per_ui_frame = self.ui_interval_s * self.clock.fps
        return max(1, int(per_ui_frame + 1e-6))  # rounded down: a frame to spare rather than one missing

    def pick(self, now: float, fingerprint: str, content, motion, precision: str):
        """(FrameRequest, image) to show now from the buffer, or None (nothing newer than what is on screen)."""
        if self.clock is None:
            return None
        k = self.clock.frame_index(now)
        shown = self._shown[2] if self._shown else -1
        for j in range(k, max(k - max(LATE_FRAMES, self.stride()), shown, -1), -1):
            t = self.clock.t_of(j)
            image = self.buffer.get(fingerprint, content.key, motion.key, precision, t)
            if image is not None:
                request = FrameRequest(content, motion, t)
                self._shown = (fingerprint, request, j)
                return request, image
        return None

    def showing(self, now: float) -> float | None:
        """t of the buffered frame on screen while it is still due (within the late window), else None."""
        if self.clock is None or self._shown is None:
            return None
        late = self.clock.frame_index(now) - self._shown[2]
        return self._shown[1].t if late <= max(LATE_FRAMES, self.stride()) else None

    def upcoming(self, now: float, render_s: float, count: int | None = None) -> tuple[float, ...]:
        """t of the frames to prefetch: from the frame due once one render (`render_s`) is done, every
        stride-th, covering about half a second (2..16 frames)."""
        if self.clock is None:
            return ()
        fps = self.clock.fps
        count = count if count is not None else int(min(max(fps // 2, 2), 16))
        s = self.stride()
        first = self.clock.frame_index(now + render_s) + 1
        first += (-first) % s  # on the stride grid, so frames picked before stay picked
        return tuple(self.clock.t_of(first + i * s) for i in range(max(1, count // s)))


def playback_step(player: Player, now: float, state, view, stamp: int, render_s: float, sr: str | None = None):
    """One UI frame of playback, as the app runs it (app/main.py; bench/studio.py and tests drive it too).

    Moves the playhead, puts the frame due on screen when it was rendered ahead (`view.absorb`, stamped
    `stamp + 1`: the request this UI frame will submit, so answers to older requests cannot replace it),
    and returns (t to request as the main frame instead of the playhead's, or None; t to prefetch).
    `sr` (an SR level's fingerprint): the frames to show are that level's, with their low-res frames beside.
    """
    from app.render_types import FrameResult, sr_precision

    tl, model = state.timeline, view.model
    if not tl.playing or model is None:
        player.stop()
        return None, ()
    player.advance(now, tl, model.native_fps)
    tl.follow()
    precision = sr_precision(state.precision, sr) if sr else state.precision
    picked = player.pick(now, model.fingerprint, state.content, state.motion, precision)
    if picked is not None:
        request, image = picked
        fp, shown = model.fingerprint, []
        if sr:
            low = player.buffer.get(fp, state.content.key, state.motion.key, state.precision, request.t)
            if low is not None:
                shown.append(FrameResult(stamp + 1, request, low, 0.0, True, now, fp))
        shown.append(FrameResult(stamp + 1, request, image, 0.0, True, now, fp, sr=bool(sr)))
        view.absorb(shown, state, now)
    return player.showing(now), player.upcoming(now, render_s)
