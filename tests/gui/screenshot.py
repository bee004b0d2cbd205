"""Set up a representative session and save a screenshot of the whole window (for the README).

xvfb-run -a -s "-screen 0 1600x1000x24" sgv-studio --ckpt MODEL --gui-test tests/gui/screenshot.py
(SGV_SCREENSHOT=path.png, default assets/screenshots/studio.png)
"""

from __future__ import annotations

import os

from imgui_bundle.immapp.testing import capture

from app.state import Content, Motion

OUT = os.environ.get("SGV_SCREENSHOT", "assets/screenshots/studio.png")


def shot(ctx, h):
    app, s = h.app, h.app.state
    h.wait_until(ctx, lambda: app.view.frame is not None and app.view.directions is not None, 120, "the model")
    for seed, motion in ((3, 5), (6, 2)):
        s.set_pair(Content.from_seed(seed, 0.8), Motion(motion), "setup")
        s.add_favourite()
    s.set_pair(Content.from_seed(3, 0.8), Motion(5), "setup")
    s.timeline.set_t(66.0)
    h.wait_until(ctx, lambda: app.view.anchor_code(5, 4) is not None, 60, "anchor codes")
    ctx.item_input_value("//Motion/dir 1", 2.0)  # anchor 4 edited: its time range shows on the ruler
    ctx.item_input_value("//Motion/dir 2", -1.5)
    h.wait_until(ctx, lambda: all(k in app.view.thumbs for k in ("strip", "content_grid", "mix")), 120, "thumbs")
    ctx.yield_(30)
    capture(ctx, os.path.abspath(OUT))
    h.record("shot", path=os.path.abspath(OUT))


def register(h):
    h.add("shot", shot)
