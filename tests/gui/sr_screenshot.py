"""The cascade SR level side by side with its base (for the README): the Viewport window, cropped.

xvfb-run -a -s "-screen 0 1600x1000x24" sgv-studio --gui-test tests/gui/sr_screenshot.py
(the bundled model opens the bundled SR level; or --ckpt BASE --sr SR; SGV_SCREENSHOT=path.png, default
assets/screenshots/cascade.png; SGV_SCREENSHOT_T=t, default 40)
"""

from __future__ import annotations

import os
import tempfile

from imgui_bundle.immapp.testing import capture
from PIL import Image

from app.state import Content, Motion

OUT = os.environ.get("SGV_SCREENSHOT", "assets/screenshots/cascade.png")
T = float(os.environ.get("SGV_SCREENSHOT_T", "40"))


def shot(ctx, h):
    app, s = h.app, h.app.state
    h.wait_until(ctx, lambda: app.view.frame is not None and app.view.sr is not None, 180, "the model + SR level")
    s.set_pair(Content.from_seed(3, 0.8), Motion(5), "setup")
    s.timeline.set_t(T)
    s.sr_view = "side by side"
    ctx.window_focus("//Viewport")
    h.wait_until(ctx, lambda: (sr := app.view.current_sr_frame()) is not None and sr.request.t == T, 120, "SR")
    ctx.mouse_move("//Viewport/Fit")
    ctx.yield_(20)
    with tempfile.TemporaryDirectory() as tmp:
        full = os.path.join(tmp, "full.png")
        capture(ctx, full)
        window = ctx.get_window_by_ref("//Viewport")
        x0, y0 = int(window.pos.x), int(window.pos.y)
        viewport = next(p for p in app.panels if p.name == "Viewport")
        bottom = max(r[3] for r in viewport.pane_rects) + 8  # no empty window below the pictures
        x1, y1 = x0 + int(window.size.x), min(y0 + int(window.size.y), int(bottom))
        Image.open(full).convert("RGB").crop((x0, y0, x1, y1)).save(os.path.abspath(OUT), optimize=True)
    h.record(
        "shot", path=os.path.abspath(OUT), panes=list(next(p for p in app.panels if p.name == "Viewport").panes_shown)
    )


def register(h):
    h.add("shot", shot)
