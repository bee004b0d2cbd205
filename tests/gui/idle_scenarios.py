"""GUI scenario for tests/test_app_idle_gui.py: bring the app to rest, then keep it open for the measurement.

`settle` waits until the model, its first frame, the motion directions and every thumbnail grid are on
screen and the renderer has nothing left to do, records that, and stops the harness from closing the app:
pytest then measures the process's CPU time over an idle window and ends it (a timer closes it after
SGV_IDLE_LINGER_S in any case).
"""

from __future__ import annotations

import os
import threading
import time

LINGER_S = float(os.environ.get("SGV_IDLE_LINGER_S", "90"))


def settle(ctx, h):
    app = h.app
    h.wait_until(ctx, lambda: app.view.model is not None and app.view.frame is not None, 60, "model + first frame")
    h.wait_until(ctx, lambda: app.view.directions is not None, 60, "motion directions")
    h.wait_until(ctx, lambda: {"content_grid", "strip"} <= set(app.view.thumbs), 60, "content grid and timeline strip")
    h.wait_until(ctx, lambda: not app.renderer.stats().busy, 60, "the renderer to finish its work")
    ctx.yield_(10)  # let the last results reach the screen
    stats = app.renderer.stats()
    h.record(
        "settle",
        requests=stats.requests,
        frames_rendered=stats.frames_rendered,
        thumbs=sorted(app.view.thumbs),
        fps_idle=app.runner_params.fps_idling.fps_idle,
        playing=app.state.timeline.playing,
    )

    def close() -> None:
        app.runner_params.app_shall_exit = True
        app.hooks.wake()

    app.request_exit = lambda: None  # the harness would close the app once the report is written
    threading.Timer(LINGER_S, close).start()
    h.record("settle", linger_s=LINGER_S, at=time.perf_counter())


def register(h):
    h.add("settle", settle)
