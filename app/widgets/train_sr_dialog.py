"""Train > New SR level run...: train a cascade SR level (docs/cascade.md) for a base model on its dataset at
the higher resolution; launches `sgv train-sr` as a watched run like a base run (app/sr_runs.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from imgui_bundle import imgui, imgui_ctx

from app.gui.layout import Layout
from app.gui.style import disabled, error_text, help_marker
from app.sgv_commands import DEFAULT_COMMAND
from app.sr_runs import SR_PRESETS, SRRunSpec
from app.widgets.train_dialogs import DATASET_EXTS, PathDialog, _path_field

SCALES = (2, 4)


class NewSRRunDialog:
    title = "New SR level run"

    def __init__(self, command=DEFAULT_COMMAND):
        self.command = tuple(command)
        self.data = ""
        self.base = ""
        self.outdir = ""
        self.preset = "sr-small"
        self.scale = 2
        self.window = 4
        self.kimg = 1000.0
        self.batch = 16
        self.error = ""
        self._want_open = False
        self._outdir_auto = True
        self.data_dialog = PathDialog("SR dataset", DATASET_EXTS)
        self.base_dialog = PathDialog("Base model", (".safetensors",))
        self.out_dialog = PathDialog("SR run folder", folders_only=True)

    def open(self) -> None:
        self.error = ""
        self._want_open = True

    def spec(self) -> SRRunSpec:
        outdir = self.outdir.strip() or (self.default_outdir() if self._outdir_auto else "")
        return SRRunSpec(
            data=self.data.strip(),
            outdir=outdir,
            base=self.base.strip(),
            preset=self.preset,
            scale=self.scale,
            window=self.window,
            kimg=self.kimg,
            batch=self.batch,
        )

    def default_outdir(self) -> str:
        """runs/<dataset>-sr-x<scale>[-N] under the working directory: a folder that does not hold a run yet."""
        stem = Path(self.data.strip().rstrip("/")).stem
        if not stem:
            return ""
        base = Path.cwd() / "runs" / f"{stem}-sr-x{self.scale}"
        p, n = base, 2
        while (p / "training_options.json").exists():
            p, n = base.with_name(f"{base.name}-{n}"), n + 1
        return str(p)

    def draw(self, f, on_start: Callable[[SRRunSpec], str | None]) -> None:
        """Call every frame. `on_start(spec)` launches the run and returns an error line, or None."""
        if self._want_open:
            imgui.open_popup(self.title)
            self._want_open = False
            if not self.base.strip() and f.view.model is not None:
                self.base = f.view.model.path  # the model on screen is the default base
        shown, _ = imgui.begin_popup_modal(self.title, None, imgui.WindowFlags_.always_auto_resize)
        if not shown:
            return
        try:
            self._body(on_start)
        finally:
            imgui.end_popup()

    def _body(self, on_start) -> None:
        lay = Layout.current()
        imgui.text_wrapped(
            "An SR level adds detail to a base model's frames. Train it on the base's dataset prepared at "
            "scale x the base's resolution (e.g. 128 x 128 for a 64 x 64 base at x2)."
        )
        _, self.base, _ = _path_field("Base model", self.base, self.base_dialog, "the .safetensors it upscales")
        _, self.data, _ = _path_field(
            "Dataset", self.data, self.data_dialog, "the base's videos at the high resolution"
        )
        with imgui_ctx.push_item_width(lay.input_w * 1.3):
            idx = SR_PRESETS.index(self.preset) if self.preset in SR_PRESETS else 1
            _, idx = imgui.combo("Preset", idx, list(SR_PRESETS))
            self.preset = SR_PRESETS[idx]
            help_marker("sr-tiny: tests; sr-small: CPU-trainable (the bundled level); sr-large: GPU widths.")
            sidx = SCALES.index(self.scale) if self.scale in SCALES else 0
            changed, sidx = imgui.combo("Scale", sidx, [f"x{s}" for s in SCALES])
            self.scale = SCALES[sidx]
            _, self.window = imgui.input_int("Window k", self.window, 1, 1)
            self.window = max(self.window, 0)
            help_marker("Each output frame sees the base frames t-k .. t+k (in data frames).")
            _, self.kimg = imgui.input_float("kimg", self.kimg, 0.0, 0.0, "%g")
            help_marker("Thousands of high-resolution frames shown to the discriminator.")
            _, self.batch = imgui.input_int("Batch", self.batch, 1, 8)
            self.batch = max(self.batch, 1)
        hint = self.default_outdir() or "created; holds the run"
        edited, self.outdir, _ = _path_field("Run folder", self.outdir, self.out_dialog, hint)
        if edited:
            self._outdir_auto = not self.outdir.strip()
        spec = self.spec()
        problems = spec.problems()
        for p in problems[:3] if (self.data.strip() or self.base.strip()) else []:
            error_text(p)
        if self.error:
            error_text(self.error)
        with disabled(bool(problems)):
            if imgui.button("Start", imgui.ImVec2(lay.button_w, 0)):
                self.error = on_start(spec) or ""
                if not self.error:
                    imgui.close_current_popup()
        imgui.same_line()
        if imgui.button("Cancel", imgui.ImVec2(lay.button_w, 0)):
            imgui.close_current_popup()
