"""Studio renderer benchmark (no window): scrub-to-frame latency and achieved playback fps.

    python bench/studio.py                         # the bundled model (or --preset small if it is missing)
    python bench/studio.py --ckpt model.safetensors --fps 25 --seconds 5
    python bench/studio.py --preset paper256 --device cpu

Baseline, measured in the same run: one direct render call of one frame (engine.Video through the same
backend). Latency is submit → FrameResult through the worker thread and should be ≈ 1.0× the baseline;
in the app, add one UI frame until it is on screen. Playback drives the renderer exactly like the app
(a PlaybackClock, a request each UI tick of 1/60 s, the next frames as prefetch) and counts distinct
frames that arrive per second.
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
from app.playback import PlaybackClock  # noqa: E402
from app.render_types import FrameRequest, FrameResult, ModelLoaded, RenderArgs  # noqa: E402
from app.renderer import EngineBackend, Renderer, default_device  # noqa: E402
from app.state import Content, Motion  # noqa: E402
from engine.checkpoint import BUNDLED_MODEL  # noqa: E402

UI_TICK_S = 1 / 60


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
        fps = play(r, content, motion, info.native_fps, a.fps, a.seconds)
        bound = min(a.fps, 1000 / render_ms)
        print(
            f"playback at {a.fps:g} fps requested: {fps:.1f} fps achieved "
            f"(one render per frame allows {1000 / render_ms:.1f} fps; achieved/possible {fps / bound:.2f})"
        )
    finally:
        r.close()


def play(r: Renderer, content, motion, native_fps: float, fps: float, seconds: float) -> float:
    clock = PlaybackClock(time.perf_counter() + 0.05, 20000.0, fps, native_fps, 1.0)
    shown, end = set(), time.perf_counter() + seconds
    ahead = int(min(max(fps // 2, 2), 16))
    while time.perf_counter() < end:
        now = time.perf_counter()
        args = RenderArgs(FrameRequest(content, motion, clock.t_at(now)), clock.upcoming(now, ahead), directions=False)
        r.submit(args)
        for e in r.poll():
            if isinstance(e, FrameResult):
                shown.add(e.request.t)
        time.sleep(UI_TICK_S)
    return len(shown) / seconds


if __name__ == "__main__":
    main()
