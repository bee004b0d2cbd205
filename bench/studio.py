"""Studio renderer benchmark (no window): scrub-to-frame latency and achieved playback fps.

    python bench/studio.py                         # the bundled model (or --preset small if it is missing)
    python bench/studio.py --ckpt model.safetensors --fps 25 --seconds 5
    python bench/studio.py --preset paper256 --device cpu

Baseline, measured in the same run: one direct render call of one frame (engine.Video through the same
backend). Latency is submit → FrameResult through the worker thread and should be ≈ 1.0× the baseline;
in the app, add one UI frame until it is on screen. Playback runs the app's own playback step
(app.playback.playback_step: clock, frames rendered ahead shown at their time, prefetch) with one UI frame
every 1/--ui-fps s, and reports the playback frames due, rendered and shown, with the machine's load.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

import engine  # noqa: E402
from app.playback import Player, playback_step  # noqa: E402
from app.render_types import FrameRequest, FrameResult, ModelLoaded, RenderArgs  # noqa: E402
from app.renderer import EngineBackend, Renderer, default_device  # noqa: E402
from app.state import AppState, Content, Motion  # noqa: E402
from app.view import RenderView  # noqa: E402
from engine.checkpoint import BUNDLED_MODEL  # noqa: E402


def wait_for(r: Renderer, pred, timeout=120.0):
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        for e in r.poll():
            if pred(e):
                return e, time.perf_counter()
        time.sleep(0.002)  # like a UI loop: polls between frames, not a busy spin on the GIL
    raise TimeoutError("renderer did not answer")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ckpt")
    p.add_argument("--preset")
    p.add_argument("--device", default=None)
    p.add_argument("--fps", type=float, default=25.0)
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--scrubs", type=int, default=10)
    p.add_argument(
        "--ui-fps",
        type=float,
        nargs="+",
        default=[60.0, 7.0],
        help="UI frames per second to simulate (60: a GPU desktop; ~7: this VM's software GL at 1600x1000)",
    )
    a = p.parse_args()
    device = a.device or default_device()
    preset = a.preset or (None if (a.ckpt or BUNDLED_MODEL.exists()) else "small")
    if preset:

        def loader(path, dev):
            return EngineBackend(engine.build_generator(preset, seed=0, device=dev), f"preset:{preset}", 0.0)

        label = f"untrained {preset} preset"
    else:
        loader, label = None, str(a.ckpt or BUNDLED_MODEL)
    r = Renderer(device=device, loader=loader)
    try:
        r.open_model(a.ckpt)
        info = wait_for(r, lambda e: isinstance(e, ModelLoaded))[0].info
        print(f"model: {label} ({info.resolution}², {info.num_params / 1e6:.1f} M params), device {device}")
        content, motion = Content.from_seed(1), Motion(2)
        backend = r.backend
        # The worker leaves a core to the UI (cpu_count - 1 torch threads on CPU); the baseline gets the same.
        if device == "cpu":
            torch.set_num_threads(max(1, (os.cpu_count() or 1) - 1))
        print(f"torch threads: {torch.get_num_threads()}")
        backend.render(content, motion, [0.0], "fp32")  # warm-up
        base, lat = [], []
        for k in range(a.scrubs):  # interleaved, so load changes on the machine hit both alike
            t0 = time.perf_counter()
            backend.render(content, motion, [1000.0 + 7.31 * k], "fp32")
            base.append(time.perf_counter() - t0)
            t = 5000.0 + 11.13 * k
            t0 = time.perf_counter()
            r.submit(RenderArgs(FrameRequest(content, motion, t), directions=False))
            _, t1 = wait_for(r, lambda e, t=t: isinstance(e, FrameResult) and e.request.t == t)
            lat.append(t1 - t0)
        render_ms = statistics.median(base) * 1000
        latency_ms = statistics.median(lat) * 1000
        print(f"render (baseline, direct call)      {render_ms:8.1f} ms/frame")
        print(f"scrub -> frame through the worker   {latency_ms:8.1f} ms   ({latency_ms / render_ms:.2f}x baseline)")
        view = RenderView()
        view.absorb([ModelLoaded(info)], AppState())
        for i, ui_fps in enumerate(a.ui_fps):
            p = play(r, view, content, motion, a.fps, a.seconds, ui_fps, 20000.0 + 10000.0 * i)
            possible = min(a.fps, 1000 / render_ms, ui_fps)
            print(
                f"playback at {a.fps:g} fps, UI at {ui_fps:g} frames/s: {p['due']} frames due in {p['seconds']:.1f} s, "
                f"{p['rendered']} rendered, {p['shown']} shown ({p['shown'] / p['seconds']:.1f} fps; shown/due "
                f"{p['shown'] / max(p['due'], 1):.2f}; shown/possible {p['shown'] / p['seconds'] / possible:.2f}, "
                f"possible = min(fps, one render per frame {1000 / render_ms:.1f}, UI frames/s))"
            )
        print(f"load average (1 min) {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    finally:
        r.close()


def play(r: Renderer, view: RenderView, content, motion, fps: float, seconds: float, ui_fps: float, t0: float) -> dict:
    """The app's playback loop without a window (app.playback.playback_step, as app/main.py runs it), one
    UI frame every 1/ui_fps s. Counts the playback frames due, rendered, and shown (distinct frames that were
    on screen at a UI frame)."""
    state, player = AppState(), Player()
    state.set_content(content)
    state.set_motion(motion)
    tl = state.timeline
    tl.fps, tl.loop, tl.t, tl.playing = fps, False, t0, True  # a fresh t0 each run: nothing cached yet
    rendered0, stamp, on_screen = r.stats().frames_rendered, 0, set()
    start = time.perf_counter()
    while (now := time.perf_counter()) - start < seconds:
        view.absorb(player.take(r.poll()), state, now)
        showing, upcoming = playback_step(player, now, state, view, stamp, max(r.stats().render_ms, 1.0) / 1000)
        t = showing if showing is not None else tl.t
        stamp = r.submit(RenderArgs(FrameRequest(state.content, state.motion, t), upcoming, directions=False))
        if view.frame is not None and view.frame.request.t >= t0:
            on_screen.add(view.frame.request.t)
        time.sleep(max(0.0, 1 / ui_fps - (time.perf_counter() - now)))
    elapsed = time.perf_counter() - start
    return {
        "due": int(elapsed * fps),
        "rendered": r.stats().frames_rendered - rendered0,
        "shown": len(on_screen),
        "seconds": elapsed,
    }


if __name__ == "__main__":
    main()
