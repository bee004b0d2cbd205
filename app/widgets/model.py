"""Model: open a checkpoint (imgui file dialog, recent files, drag and drop), and what the loaded model is.

Opening happens on the renderer's thread; a bad file shows its one-line error here and the current model
stays loaded. Below the base: the cascade SR level beside it (docs/cascade.md): Open SR level... / Off, and
what it is; an SR file that does not fit the base shows its one line and the current level stays."""

from __future__ import annotations

from pathlib import Path

from imgui_bundle import imgui, imgui_ctx

from app.gui.style import error_text
from app.widgets.base import Frame, Panel


class ModelPanel(Panel):
    name = "Model"
    dock = "RightSpace"

    def draw(self, f: Frame) -> None:
        view, actions = f.view, f.actions
        if imgui.button("Open checkpoint..."):
            actions.show_open_model_dialog()
        imgui.same_line()
        if imgui.button("Open bundled model"):
            actions.open_model(None)
        if actions.model_loading:
            imgui.same_line()
            imgui.text("loading ...")
        if view.model_error:
            error_text(view.model_error)
            if view.model is not None:
                imgui.text_disabled(f"still using {view.model.name}")
        info = view.model
        imgui.separator()
        if info is None:
            imgui.text_wrapped(
                "No model loaded. Open a .safetensors model (File > Open checkpoint..., Ctrl+O)"
                + (" or drop one on the window." if actions.drops_supported else ".")
            )
        else:
            self._sr(f)
            imgui.separator()
            self._info(info)
        recent = actions.recent_models
        if recent:
            imgui.separator()
            imgui.text("Recent")
            for i, path in enumerate(recent):
                with imgui_ctx.push_id(str(i)):
                    clicked, _ = imgui.selectable(Path(path).name, info is not None and info.path == path)
                    if imgui.is_item_hovered():
                        imgui.set_tooltip(path)
                    if clicked:
                        actions.open_model(path)

    def _sr(self, f: Frame) -> None:
        view, actions = f.view, f.actions
        imgui.separator()
        imgui.text("SR level")
        imgui.same_line()
        if imgui.button("Open SR level..."):
            actions.show_open_sr_dialog()
        sr = view.sr
        if sr is not None:
            imgui.same_line()
            if imgui.button("SR off"):
                actions.open_sr(None)
        if view.sr_error:
            error_text(view.sr_error)
            if sr is not None:
                imgui.text_disabled(f"still using {sr.name}")
        if sr is None:
            imgui.text_disabled("off: the viewport and exports show the base model's frames")
            return
        rows = [
            ("file", sr.name),
            ("resolution", f"{sr.base_resolution}² to {sr.resolution}² (x{sr.scale})"),
            ("window", f"±{sr.window} frames at {sr.native_fps:g} fps"),
            ("parameters", f"{sr.num_params / 1e6:.2f} M"),
            ("fingerprint", sr.fingerprint),
        ]
        self._table("sr info", rows)
        imgui.text_wrapped(sr.path)

    def _table(self, name: str, rows) -> None:
        if imgui.begin_table(name, 2, imgui.TableFlags_.row_bg | imgui.TableFlags_.borders_inner_v):
            try:
                for k, v in rows:
                    imgui.table_next_row()
                    imgui.table_next_column()
                    imgui.text_disabled(k)
                    imgui.table_next_column()
                    imgui.text_wrapped(v)
            finally:
                imgui.end_table()

    def _info(self, info) -> None:
        rows = [
            ("file", info.name),
            ("resolution", f"{info.resolution} x {info.resolution}"),
            ("latents", f"z {info.z_dim}, w {info.w_dim} x {info.num_ws} (W+)"),
            ("motion", f"u {info.motion_u_dim}-d, anchors every {info.delta_z:g} frames"),
            ("native fps", f"{info.native_fps:g}"),
            ("classes", str(info.c_dim) if info.c_dim else "unconditional"),
            ("parameters", f"{info.num_params / 1e6:.2f} M"),
            ("device", info.device),
            ("fingerprint", info.fingerprint),
            ("load time", f"{info.load_s:.2f} s"),
        ]
        rows += [(k, str(v)) for k, v in sorted(info.provenance.items())]
        self._table("model info", rows)
        imgui.text_wrapped(info.path)
