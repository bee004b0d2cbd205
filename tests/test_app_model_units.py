"""Pure parts behind model switching, fractional frame rates and the ruler's labels (no window):
AppState.adopt_model, sessions with parked codes and fractional fps, format_t / ruler_labels, clamp_fps,
the Prepare dataset dialog's output."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.render_types import ModelInfo
from app.state import AppState, Content, ModelShapes, Motion, load_session, save_session
from app.view import RenderView, model_shapes
from app.widgets.timeline import clamp_fps, format_t, ruler_labels
from app.widgets.train_dialogs import PrepareDialog

A = ModelShapes("fpA", num_ws=8, w_dim=32, motion_u_dim=32, name="a.safetensors")
B = ModelShapes("fpB", num_ws=10, w_dim=128, motion_u_dim=128, name="b.safetensors")
A2 = ModelShapes("fpA2", num_ws=8, w_dim=32, motion_u_dim=32, name="a-later.safetensors")  # same shapes
rng = np.random.default_rng(0)


def codes(*shape) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def state_with_work_of_a() -> AppState:
    s = AppState()
    assert s.adopt_model(A) is None, "a first model that fits the document changes nothing"
    s.set_content(Content.from_seed(3, 0.8))
    s.set_motion(Motion(7))
    s.set_content(Content.from_codes(codes(8, 32), "projection of cat.png"))
    s.set_motion(s.motion.with_override(2, codes(32)))
    s.add_favourite("cat")
    s.timeline.set_t(20.5)
    s.timeline.fps, s.timeline.playing = 7.5, True
    return s


def test_other_shapes_keep_settings_and_park_what_does_not_fit():
    s = state_with_work_of_a()
    note = s.adopt_model(B)
    assert s.content == Content.from_seed(3, 0.8), "seed and ψ kept: the newest seed in the history"
    assert s.motion == Motion(7), "motion seed kept, edits of 32-d codes set aside"
    assert (s.timeline.t, s.timeline.fps, s.timeline.playing) == (20.5, 7.5, True)
    assert all(c.ws is None for c in s.history) and s.favourites == ()
    assert note and "\n" not in note and "kept for a.safetensors" in note and "re-derived" in note, note
    assert not s.undo_edit(), "no undo step back to codes this model cannot render"
    assert s.adopt_model(A) is not None
    labels = [c.label for c in s.history]
    assert "projection of cat.png" in labels, "A's codes come back with A"
    names = [f.name for f in s.favourites]
    assert "cat" in names and any("edited anchor" in n for n in names), "and the edited motion, as a favourite"
    edited = next(f for f in s.favourites if f.motion.edited_anchors)
    assert edited.motion.edited_anchors == [2] and edited.content.ws is not None
    assert s.content == Content.from_seed(3, 0.8), "the current content stays"


def test_same_shapes_change_nothing():
    s = state_with_work_of_a()
    doc, history = s.doc, list(s.history)
    assert s.adopt_model(A2) is None
    assert s.doc is doc and s.history == history and s.parked == {}


def test_explicit_codes_with_a_seed_keep_that_seed():
    s = AppState()
    s.adopt_model(A)
    s.set_content(Content.from_seed(5, 0.6).with_codes(codes(8, 32)))
    s.adopt_model(B)
    assert s.content == Content.from_seed(5, 0.6)


def test_view_fits_the_document_on_model_loaded_and_drops_moot_failures():
    from app.render_types import FrameFailed, FrameRequest, FrameResult, ModelLoaded

    def info(shapes: ModelShapes) -> ModelInfo:
        return ModelInfo(
            path=shapes.name, name=shapes.name, fingerprint=shapes.fingerprint, resolution=8, z_dim=4,
            w_dim=shapes.w_dim, num_ws=shapes.num_ws, c_dim=0, motion_u_dim=shapes.motion_u_dim, delta_z=16.0,
            native_fps=25.0, num_params=0, device="cpu", load_s=0.0, summary="",
        )  # fmt: skip

    s, view = state_with_work_of_a(), RenderView()
    view.absorb([ModelLoaded(info(A))], s)
    old = FrameRequest(s.content, s.motion, 20.5)
    view.absorb([FrameResult(1, old, np.zeros((2, 2, 3), np.uint8), 1.0, False, 0.0, "fpA")], s)
    notes = view.absorb([ModelLoaded(info(B)), FrameFailed(1, old, "content codes are [8, 32], ...")], s)
    assert len(notes) == 1 and notes[0].startswith("opened b.safetensors") and "kept for a.safetensors" in notes[0]
    assert view.frame_error is None, "the failure of the codes just set aside is moot"
    assert model_shapes(info(B)) == B
    view.absorb([FrameFailed(2, FrameRequest(s.content, s.motion, 20.5), "cannot render")], s)
    assert view.frame_error == "cannot render" and view.frame is None, "A's picture is not B's last good frame"


def test_session_keeps_parked_codes_and_fractional_fps(tmp_path):
    s = state_with_work_of_a()
    s.adopt_model(B)
    s.timeline.fps = 23.976
    path = save_session(tmp_path / "s.json", s, "b.safetensors")
    loaded = AppState()
    load_session(path, loaded)
    assert loaded.timeline.fps == 23.976
    assert loaded.document_fingerprint == "fpB"
    assert loaded.adopt_model(B) is None
    assert loaded.adopt_model(A) is not None and "projection of cat.png" in [c.label for c in loaded.history]
    parked = next(c for c in loaded.history if c.ws is not None)
    original = next(c for c in s.parked["fpA"].history if c.ws is not None)
    assert np.array_equal(parked.ws, original.ws), "parked codes are saved bit for bit"


def test_a_session_of_another_model_is_fitted_when_that_model_loads_later():
    s = state_with_work_of_a()
    s.document_fingerprint = "fpA"  # as apply_session leaves it before A has loaded
    s.model_fingerprint = None
    note = s.adopt_model(B)  # the --ckpt model arrives first
    assert note and s.content.ws is None and "fpA" in s.parked


# ----------------------------------------------------------------------------------------------------
# Time labels and frame rates


def test_format_t_shows_the_digits_the_zoom_needs():
    assert format_t(1e6 + 0.3) == "1000000.3"
    assert format_t(12.5) == "12.5" and format_t(0.0) == "0" and format_t(-0.0) == "0"
    assert format_t(25 / 7.5) == "3.333333"
    assert format_t(1e6, 0.5) == "1000000.0" and format_t(1e6 + 0.5, 0.5) == "1000000.5"
    assert format_t(1234.0, 100.0) == "1234" and format_t(2.0, 0.05) == "2.00"
    assert format_t(1e13 + 1, 1.0) != format_t(1e13, 1.0)
    assert format_t(math.inf) == "inf"


@pytest.mark.parametrize("start", [0.0, -3.0, 999_990.0, 1e6 - 0.35, 1e6 + 0.3, 123_456_789.0, 1e12])
@pytest.mark.parametrize("span", [1.0, 2.5, 37.0, 1000.0, 1e6])
def test_ruler_labels_are_distinct_and_fit(start, span):
    width, char_px = 900.0, 7.0
    labels = ruler_labels(start, span, width, char_px)
    texts = [text for _, text in labels]
    assert labels and len(set(texts)) == len(texts), texts
    assert all(start - 1e-9 * abs(start) <= t <= start + span + 1e-9 * abs(start) for t, _ in labels)
    assert all(float(text) == pytest.approx(t, abs=1e-9 * max(1.0, abs(t))) for t, text in labels), texts
    if len(labels) > 1:
        gap_px = (labels[1][0] - labels[0][0]) / span * width
        assert max(len(x) for x in texts) * char_px < gap_px, "labels do not overlap"


def test_clamp_fps_keeps_fractional_rates():
    assert clamp_fps(29.97, 25.0) == 29.97 and clamp_fps(23.976, 25.0) == 23.976 and clamp_fps(7.5, 25.0) == 7.5
    assert clamp_fps(0.2, 25.0) == 1.0 and clamp_fps(1000.0, 25.0) == 240.0 and clamp_fps(math.nan, 12.0) == 12.0


def test_prepare_dialog_output_follows_videos_until_the_user_gives_one(tmp_path):
    d = PrepareDialog()
    assert d.output() == ""
    d.src = str(tmp_path / "vids")
    assert d.output() == str(tmp_path / "vids-64px")
    d.resolution = 32
    assert d.output() == str(tmp_path / "vids-32px")
    d.out = str(tmp_path / "mine")
    d.src = str(tmp_path / "other")
    assert d.output() == str(tmp_path / "mine"), "the user's output stays theirs"
    d.out = "  "
    assert d.output() == str(tmp_path / "other-32px"), "emptied: the default again"
