"""Playback clock: wall time → playhead t, on the same frame grid as export (engine.frame_times).

Frame k after play started at t0 is at t0 + time_scale · k · native_fps / fps, wrapped into the loop
range when looping. The clock counts whole playback frames from wall time, so a slow renderer makes
playback drop frames (the display shows the newest rendered one) rather than slow down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
