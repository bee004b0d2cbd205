"""The Project panel with a video, without a window: the job body on the tiny model backend, accepting content
and fitted motion together (one undo step, the loop spans the clip), drops, and the missing-LPIPS note once."""

from __future__ import annotations

import numpy as np
import pytest
from edit_helpers import fake_frame, one_thread, run_job, stop_after  # noqa: F401  (one_thread: autouse fixture)

from app.edit_jobs import ProjectionResult, ProjectSpec, StepInfo, Stop, VideoProjectionResult, video_projection_job
from app.jobs import JobState
from app.renderer import EngineBackend
from app.state import AppState, Content, Motion
from app.widgets.project import ProjectPanel
from engine.edit.video_projection import write_video_frames


@pytest.fixture(scope="module")
def backend(tiny_model_file):
    return EngineBackend.load(str(tiny_model_file), "cpu")


@pytest.fixture(scope="module")
def clip_mp4(tmp_path_factory, backend):
    """36 frames the app renders for content seed 5 under motion seed 3 (t = 0..35), as a 25 fps mp4."""
    frames = backend.render(Content.from_seed(5), Motion(3), [float(t) for t in range(36)], "fp32")
    return write_video_frames(tmp_path_factory.mktemp("clip") / "clip.mp4", np.asarray(frames), 25.0)


def test_video_projection_job_fits_and_the_app_renders_the_fit(backend, clip_mp4):
    infos = []
    spec = ProjectSpec(str(clip_mp4), 40, "pixel", num_frames=32)
    job = run_job(video_projection_job(backend, spec, Motion(7), None, Stop()), lambda j: infos.append(j.progress))
    assert job.state == JobState.DONE, job.error
    r = job.result
    assert isinstance(r, VideoProjectionResult) and r.steps == 40 and r.motion_seed == 7
    assert r.targets.shape == r.reconstruction.shape == (32, 32, 32, 3) and r.time_range == (0.0, 31.0)
    assert sorted(r.overrides) == list(range(-1, 4)) and r.fingerprint == backend.fingerprint
    steps = [p.preview for p in infos if isinstance(p.preview, StepInfo) and p.preview.step > 0]
    assert steps and steps[0].target.shape == steps[0].preview.shape == (32, 32, 3) and "frame" in steps[0].terms
    assert "frame" in infos[-1].message or any("frame" in p.message for p in infos)
    # What the app shows after Accept is the reconstruction (same content, same fitted motion, same t).
    shown = backend.render(r.content(), r.motion(), list(r.times[:4]), "fp32")
    assert np.abs(np.asarray(shown).astype(int) - r.reconstruction[:4].astype(int)).max() <= 1


def test_video_projection_stop_keeps_a_result(backend, clip_mp4):
    stop = Stop()
    spec = ProjectSpec(str(clip_mp4), 10_000, "pixel")
    job = run_job(video_projection_job(backend, spec, Motion(0), None, stop), stop_after(stop, 2))
    assert job.state == JobState.DONE and 2 <= job.result.steps < 10_000


def test_short_clip_fails_with_one_line(backend, clip_mp4):
    job = run_job(
        video_projection_job(backend, ProjectSpec(str(clip_mp4), 5, "pixel", num_frames=4), Motion(0), None, Stop())
    )
    assert job.state == JobState.FAILED and "clip.mp4" in job.error and "\n" not in job.error


def video_result(fingerprint="fp"):
    frames = np.zeros((3, 8, 8, 3), np.uint8)
    return VideoProjectionResult(
        ws=np.ones((4, 8), np.float32), overrides={0: np.full(6, 0.5, np.float32), 1: np.ones(6, np.float32)},
        motion_seed=9, video="/clips/walk.mp4", targets=frames, reconstruction=frames, times=(10.0, 20.0, 30.0),
        psnr_db=25.0, loss_label="pixel", fallback_reason=None, notes=(), steps=5, num_steps=5, best_loss=0.1,
        losses=(), fingerprint=fingerprint, seconds=1.0,
    )  # fmt: skip


def test_accept_makes_content_and_fitted_motion_current_in_one_undo_step():
    panel = ProjectPanel()
    assert panel.accept_drop("/clips/walk.MP4") and panel.spec().is_video
    assert panel.accept_drop("/photos/cat.png") and not panel.spec().is_video
    state = AppState()
    panel.result = video_result()
    f = fake_frame(state, "other")
    assert not panel.accept(f) and f.notes[-1][1], "codes of another model are refused"
    f = fake_frame(state, "fp")
    assert panel.accept(f)
    assert state.content.label == "projection of walk.mp4" and np.array_equal(state.content.ws, np.ones((4, 8)))
    assert state.motion == Motion(9, {0: np.full(6, 0.5), 1: np.ones(6)}) and state.motion.edited_anchors == [0, 1]
    tl = state.timeline
    assert (tl.loop_start, tl.loop_end, tl.t) == (10.0, 30.0, 10.0), "the timeline's loop shows the clip's range"
    state.undo_edit()
    assert state.content == Content() and state.motion == Motion()


def test_missing_lpips_is_said_once(monkeypatch, tmp_path):
    """Issue 13 §9: with loss auto and no LPIPS weights, the panel showed the fallback under the inputs and again
    under the result. Now: under the inputs before a run, only with the run's result after it."""
    monkeypatch.setenv("SGV_WEIGHTS_DIR", str(tmp_path / "none"))
    panel = ProjectPanel()
    above, below = panel.loss_notes(now=0.0)
    assert above and "sgv weights fetch vgg16" in above and below is None
    image = np.zeros((8, 8, 3), np.uint8)
    panel.result = ProjectionResult(
        np.ones((4, 8), np.float32), "/p.png", image, image, 20.0, "pixel", above, 5, 5, 0.1, (), (), "fp",
        Motion(0), 1.0,
    )  # fmt: skip
    notes = [n for n in panel.loss_notes(now=0.0) if n]
    assert len(notes) == 1 and "sgv weights fetch vgg16" in notes[0]
    panel.loss = "pixel"
    panel.result = None
    assert panel.loss_notes(now=10.0) == (None, None)
