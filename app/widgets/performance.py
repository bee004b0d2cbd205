"""Performance: render time, achieved fps, UI frame time, scrub latency, device, precision, and a live plot."""

from __future__ import annotations

import numpy as np
from imgui_bundle import imgui, imgui_ctx, implot

from app.gui.layout import Layout
from app.render_types import PRECISIONS
from app.widgets.base import Frame, Panel


class PerformancePanel(Panel):
    name = "Performance"
    dock = "RightBottomSpace"

    def __init__(self) -> None:
        self._x = np.arange(0, 300, dtype=np.float32)

    def draw(self, f: Frame) -> None:
        lay = Layout.current()
        view, stats = f.view, f.actions.renderer_stats()
        imgui.text(f"render       {view.last_render_ms:7.1f} ms/frame (avg {stats.render_ms:.1f})")
        imgui.text(f"shown        {view.achieved_fps(f.now):7.1f} fps   (playback set to {f.state.timeline.fps})")
        imgui.text(f"UI frame     {f.ui_ms:7.1f} ms   (app code {view.perf.app_ms[-1]:.1f} ms of it)")
        imgui.text(f"latency      {view.latency_ms:7.1f} ms   (request -> frame on screen)")
        imgui.text(
            f"frames       {stats.frames_rendered} rendered ({stats.prefetched} ahead), {view.frames_shown} shown, "
            f"{stats.cache_hits} cache hits"
        )
        imgui.text(f"device       {stats.device}" + ("   busy" if stats.busy else ""))
        with imgui_ctx.push_item_width(lay.input_w):
            idx = PRECISIONS.index(f.state.precision) if f.state.precision in PRECISIONS else 0
            changed, idx = imgui.combo("Precision", idx, list(PRECISIONS))
            if changed:
                f.state.precision = PRECISIONS[idx]
        if imgui.is_item_hovered():
            imgui.set_tooltip(
                "bf16/fp16 run the top resolutions in reduced precision (fast paths; fp32 is the reference)"
            )
        perf = view.perf
        if implot.begin_plot("##perf", imgui.ImVec2(-1, -1)):
            try:
                implot.setup_axes("UI frames", "ms", implot.AxisFlags_.no_tick_labels, implot.AxisFlags_.auto_fit)
                implot.setup_axis_limits(implot.ImAxis_.x1, 0, len(self._x), implot.Cond_.always)
                implot.plot_line("UI frame ms", self._x, perf.ui_ms)
                implot.plot_line("app code ms", self._x, perf.app_ms)
                implot.plot_line("render ms", self._x, perf.render_ms)
                implot.plot_line("shown fps", self._x, perf.fps)
            finally:
                implot.end_plot()
