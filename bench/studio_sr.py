"""The app's renderer with a cascade SR level: what scrubbing forward one frame at a time costs with SR on,
against the base frame alone, in the same run (README: Cascade SR level in the app).

python bench/studio_sr.py [--ckpt BASE] [--sr SR] [--frames 16]
(defaults: the bundled model and assets/models/default-sr.safetensors)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.render_types import FrameRequest, FrameResult, ModelFailed, RenderArgs, SRChanged, SRFailed  # noqa: E402
from app.renderer import Renderer  # noqa: E402
from app.state import Content, Motion  # noqa: E402
from engine.cascade import BUNDLED_SR  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ckpt", default=None, help="base model (default: the bundled one)")
    p.add_argument("--sr", default=str(BUNDLED_SR), help="SR level (default: the bundled one)")
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--device", default="cpu")
    a = p.parse_args()
    r = Renderer(device=a.device, bundled_sr=Path("/nonexistent"))  # the level given here, not the bundled one

    def wait(pred, events):
        while not pred(events):
            events += r.poll()
            time.sleep(0.002)
        return events

    try:
        r.open_model(a.ckpt)
        r.open_sr(a.sr)
        ev = wait(lambda ev: any(isinstance(e, (SRChanged, SRFailed, ModelFailed)) for e in ev), [])
        bad = [e.message for e in ev if isinstance(e, (SRFailed, ModelFailed))]
        if bad:
            print(f"studio_sr: {bad[0]}", file=sys.stderr)
            return 1
        content, motion = Content(seed=3), Motion(5)

        def scrub(ts, sr: bool):
            lows, srs = [], []
            for t in ts:
                r.submit(RenderArgs(frame=FrameRequest(content, motion, t), sr=sr, directions=False))
                done = lambda ev, t=t: any(  # noqa: E731
                    isinstance(e, FrameResult) and (e.sr or not sr) and e.request.t == t for e in ev
                )
                for e in wait(done, []):
                    if isinstance(e, FrameResult) and e.request.t == t:
                        (srs if e.sr else lows).append(e.render_ms)
            return lows, srs

        scrub([20.0], True)  # warm-up: one full window
        video = r.backend.cascade(r.sr_model, content, motion, "fp32")
        before = video.base_frames_rendered
        lows, srs = scrub([40.0 + i for i in range(a.frames)], True)
        rendered = video.base_frames_rendered - before
        base, _ = scrub([140.0 + i for i in range(a.frames)], False)
        window = 2 * r.sr_model.config.window + 1
        print(
            f"load {os.getloadavg()[0]:.1f}: base frame alone {np.median(base):.1f} ms (median of {len(base)}); "
            f"SR on: low-res frame shown after {np.median(lows):.1f} ms, the SR frame {np.median(srs):.1f} ms later; "
            f"{rendered} base frames rendered for {a.frames} SR frames (one window of {window}, "
            "then one per frame)"
        )
    finally:
        r.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
