"""Playback shows what the renderer renders: frames rendered ahead reach the UI as they are rendered and
are shown at their time (app.playback.Player), whatever the worker is busy with then.

Issue: at 25 fps requested, 296 frames were rendered in 9 s but about 60 shown. A prefetched frame reached
the screen only as the worker's answer to a request for it, and the worker answers only the newest request,
so frames due while it rendered a prefetch batch or thumbnails were rendered and never shown; and with a UI
slower than playback, frames the UI could never show were rendered anyway.
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from test_app_renderer import FakeBackend, collect, make_renderer

from app.playback import PlaybackFrames, Player, playback_step
from app.render_types import FrameRequest, ModelLoaded, RenderArgs, ThumbRequest
from app.state import AppState
from app.view import RenderView


class BusyThumbs(FakeBackend):
    """Frames take `delay` s each; a thumbnail batch takes `thumb_s` (the worker is busy for that long)."""

    def __init__(self, delay: float, thumb_s: float):
        super().__init__(delay=delay)
        self.thumb_s = thumb_s

    def render_cells(self, cells, px, precision):
        time.sleep(self.thumb_s)
        return super().render_cells(cells, px, precision)


def run_playback(seconds: float, fps: float, deliver_prefetched: bool = True, tick_s: float = 0.01):
    """Drive Renderer + Player + RenderView the way the app's frame loop does (app/main.py), with a strip of
    thumbnails that follows the playhead; returns (distinct frames on screen, playback frames due, rendered)."""
    fake = BusyThumbs(delay=0.004, thumb_s=0.15)
    r = make_renderer({"m": fake})
    state, view, player = AppState(), RenderView(), Player()
    try:
        r.open_model("m")
        view.absorb(collect(r, lambda ev: any(isinstance(e, ModelLoaded) for e in ev)), state)
        tl = state.timeline
        tl.fps, tl.loop, tl.t, tl.playing = fps, False, 0.0, True
        stamp, on_screen = 0, set()
        t0 = time.perf_counter()
        while (now := time.perf_counter()) - t0 < seconds:
            events = r.poll()
            if not deliver_prefetched:  # what the app did before: prefetched frames only as answers
                events = [e for e in events if not isinstance(e, PlaybackFrames)]
            view.absorb(player.take(events), state, now)
            showing, upcoming = playback_step(player, now, state, view, stamp, r.stats().render_ms / 1000)
            t = showing if showing is not None else tl.t
            strip = tuple((state.content, state.motion, tl.t + 1000.0 + i) for i in range(4))
            args = RenderArgs(FrameRequest(state.content, state.motion, t), upcoming, directions=False)
            args.thumbs["strip"] = ThumbRequest(strip, 4, 8)
            stamp = r.submit(args)
            if view.frame is not None:
                on_screen.add(view.frame.request.t)  # what this UI frame draws
            time.sleep(tick_s)
        due = int((time.perf_counter() - t0) * fps)
        return len(on_screen), due, r.stats().frames_rendered
    finally:
        r.close()


def test_every_frame_rendered_ahead_is_shown_while_the_worker_is_busy():
    shown, due, rendered = run_playback(2.5, 20.0)
    print(f"shown {shown} of {due} due ({rendered} rendered)")
    assert shown >= 0.9 * due, f"shown {shown} of {due} playback frames"


def test_without_the_buffer_frames_are_lost():
    """The loss the test above guards against, reproduced: only the worker's answers reach the screen."""
    shown, due, rendered = run_playback(2.5, 20.0, deliver_prefetched=False)
    print(f"without the buffer: shown {shown} of {due} due ({rendered} rendered)")
    assert shown < 0.8 * due


# ----------------------------------------------------------------------------------------------------
# The Player alone, on a simulated clock


def _player_at(fps=25.0, ui_interval=0.01, frames=60):
    state, player = AppState(), Player()
    tl = state.timeline
    tl.fps, tl.loop, tl.t, tl.playing = fps, False, 0.0, True
    now = 100.0
    for _ in range(3):
        player.advance(now, tl, 25.0)
        now += ui_interval
    step = 25.0 / fps
    images = {k * step: np.full((2, 2, 3), k, np.uint8) for k in range(frames)}
    player.take([PlaybackFrames("m", state.content.key, state.motion.key, "fp32", images)])
    return state, player, now


def test_pick_shows_the_newest_frame_due_once():
    state, player, now = _player_at()
    k = player.clock.frame_index(now)
    request, image = player.pick(now, "m", state.content, state.motion, "fp32")
    assert request.t == player.clock.t_of(k) and image[0, 0, 0] == k
    assert player.pick(now, "m", state.content, state.motion, "fp32") is None, "each frame is shown once"
    assert player.pick(now, "other model", state.content, state.motion, "fp32") is None
    later = now + 3 / 25  # three frames later: the newest due is shown, the two in between are skipped
    request, _ = player.pick(later, "m", state.content, state.motion, "fp32")
    assert request.t == player.clock.t_of(player.clock.frame_index(later))
    assert player.showing(later) == request.t


def test_slow_ui_prefetches_only_frames_it_can_show():
    state, player, now = _player_at(fps=25.0, ui_interval=0.2)
    assert player.stride() == 5, "one frame per UI frame of 0.2 s at 25 fps"
    ups = player.upcoming(now, render_s=0.1)
    k = np.array([round(t * 25.0 / 25.0) for t in ups]) + 0  # native 25 fps, speed 1: t = k
    assert np.all(k % 5 == 0) and np.all(np.diff(k) == 5)
    assert k[0] > player.clock.frame_index(now + 0.1), "not a frame already due when it is rendered"
    fast = _player_at(fps=25.0, ui_interval=0.01)[1]
    assert fast.stride() == 1


@pytest.mark.parametrize("fps", [7.5, 25.0])
def test_playback_step_keeps_the_frame_grid(fps):
    state, player, now = _player_at(fps=fps)
    view = RenderView()
    assert playback_step(player, now, state, view, 0, 0.01) == (None, ())  # no model: nothing to play
    step = 25.0 / fps
    assert all(abs(t / step - round(t / step)) < 1e-9 for t in player.upcoming(now, 0.01))
