"""The Project and Edit panels without a window: job bodies on a real (tiny) model backend, result values,
directions, weights checks, and the panels' pure parts (accept, drops, direction sliders with undo)."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
import torch
from edit_helpers import fake_frame, one_thread, photo, run_job, stop_after, tiny_clip_files  # noqa: F401  (one_thread: autouse)

import engine
from app.edit_jobs import (
    ClipCache,
    EditResult,
    EditSpec,
    ProjectSpec,
    StepInfo,
    Stop,
    apply_directions,
    clip_weights_problem,
    direction_file_name,
    edit_job,
    lpips_weights_problem,
    progress_message,
    projection_job,
    save_direction_entry,
    scan_directions,
)
from app.jobs import JobState
from app.renderer import EngineBackend
from app.state import AppState, Content, Motion
from engine.media import write_image

APP = Path(__file__).resolve().parents[1] / "app"


@pytest.fixture(scope="module")
def backend(tiny_model_file):
    return EngineBackend.load(str(tiny_model_file), "cpu")


@pytest.fixture(scope="module")
def frame_png(tmp_path_factory, backend):
    """A frame the model rendered at t = 0 from content seed 5 under motion seed 0."""
    path = tmp_path_factory.mktemp("project") / "frame.png"
    image = backend.render(Content.from_seed(5), Motion(0), [0.0], "fp32")[0]
    write_image(path, image)
    return path


@pytest.fixture(scope="module")
def clip_files(tmp_path_factory):
    cfg, ckpt, _ = tiny_clip_files(tmp_path_factory.mktemp("clip"))
    return cfg, ckpt


# ----------------------------------------------------------------------------------------------------
# Job bodies


def test_projection_job_lowers_the_loss_and_leaves_the_renderer_model_alone(backend, frame_png):
    before = {k: v.clone() for k, v in backend.G.state_dict().items()}
    infos = []
    body = projection_job(backend, ProjectSpec(str(frame_png), 25, "pixel"), Motion(0), None, Stop())
    job = run_job(body, on_progress=lambda j: infos.append(j.progress.preview))
    assert job.state == JobState.DONE, job.error
    r = job.result
    assert r.steps == r.num_steps == 25 and len(r.losses) == 25
    assert min(r.losses[-5:]) < 0.5 * r.losses[0]
    assert r.ws.shape == (backend.G.num_ws, backend.G.w_dim) and r.ws.dtype == np.float32
    assert r.fingerprint == backend.fingerprint and r.motion == Motion(0) and r.fallback_reason is None
    assert r.loss_label.startswith("pixel")
    steps = [i for i in infos if isinstance(i, StepInfo) and i.step > 0]
    assert steps and steps[0].target.shape == (32, 32, 3) and steps[0].psnr_db is not None
    assert len(r.psnrs) == 25 and r.psnr_db > r.psnrs[0] + 2.0
    # The reconstruction is what the renderer shows for the accepted content at t = 0.
    shown = backend.render(r.content(), Motion(0), [0.0], "fp32")[0]
    assert np.abs(shown.astype(int) - r.reconstruction.astype(int)).max() <= 1
    for k, v in backend.G.state_dict().items():  # the job worked on its own copy
        assert torch.equal(v, before[k]), k
    assert all(p.grad is None and not p.requires_grad for p in backend.G.parameters())


def test_projection_stop_keeps_a_result_and_cancel_discards(backend, frame_png):
    stop = Stop()
    job = run_job(
        projection_job(backend, ProjectSpec(str(frame_png), 10_000, "pixel"), Motion(0), None, stop),
        on_progress=stop_after(stop, 2),
    )
    assert job.state == JobState.DONE and 2 <= job.result.steps < 10_000

    def cancel_after_two(job):
        info = job.progress.preview
        if isinstance(info, StepInfo) and info.step >= 2:
            job.cancel()

    job = run_job(
        projection_job(backend, ProjectSpec(str(frame_png), 10_000, "pixel"), Motion(0), None, Stop()),
        on_progress=cancel_after_two,
    )
    assert job.state == JobState.CANCELLED and job.result is None


@pytest.mark.parametrize("content", [b"", b"not an image at all", None])
def test_bad_images_fail_with_one_line(backend, tmp_path, content):
    path = tmp_path / "bad.png"
    if content is None:
        write_image(path, np.zeros((1, 1, 3), np.uint8))  # 1x1
    else:
        path.write_bytes(content)
    job = run_job(projection_job(backend, ProjectSpec(str(path), 5, "pixel"), Motion(0), None, Stop()))
    assert job.state == JobState.FAILED
    assert "bad.png" in job.error and "\n" not in job.error and "internal error" not in job.error


def test_projection_of_a_photo_with_auto_loss_reports_the_fallback(backend, tmp_path, monkeypatch):
    monkeypatch.setenv("SGV_WEIGHTS_DIR", str(tmp_path / "no-weights"))
    path = tmp_path / "photo.jpg"
    write_image(path, photo())
    job = run_job(projection_job(backend, ProjectSpec(str(path), 3, "auto", "pad"), Motion(4), None, Stop()))
    assert job.state == JobState.DONE, job.error
    assert job.result.loss_label.startswith("pixel") and "sgv weights fetch vgg16" in job.result.fallback_reason
    assert job.result.content().provenance["source"] == "projection"


def test_edit_job_with_a_tiny_clip(backend, clip_files):
    cfg, ckpt = clip_files
    start = backend.content_codes(Content.from_seed(3))[0].numpy().copy()
    spec = EditSpec("a red square", num_steps=12, l2_lambda=0.0, clip_model=str(cfg), clip_pretrained=str(ckpt))
    clips = ClipCache()
    infos = []
    body = edit_job(backend, spec, start, "seed 3", Motion(2), None, clips, Stop())
    job = run_job(body, on_progress=lambda j: infos.append(j.progress.preview))
    assert job.state == JobState.DONE, job.error
    r = job.result
    assert np.array_equal(r.start_ws, start) and not np.array_equal(r.edited_ws, start)
    assert r.clip_after < r.clip_before and len(r.clip_losses) == r.steps == 12
    assert r.clip_label == "tiny-clip/tiny-clip.pt" and r.start_label == "seed 3"
    assert r.distance == pytest.approx(float(np.linalg.norm(r.edited_ws - start)), rel=1e-4)
    assert r.start_image.shape == (32, 32, 3)
    live = [i for i in infos if isinstance(i, StepInfo)]
    assert live and all(i.target is r.start_image for i in live), "every step shows the start frame next to it"
    first = clips.get(str(cfg), str(ckpt), "cpu")
    assert clips.get(str(cfg), str(ckpt), "cpu") is first, "the CLIP model is loaded once and reused"


def test_edit_job_default_clip_offline_fails_with_the_fetch_command(backend, tmp_path, monkeypatch):
    monkeypatch.setenv("SGV_WEIGHTS_DIR", str(tmp_path))
    start = backend.content_codes(Content.from_seed(3))[0].numpy().copy()
    job = run_job(edit_job(backend, EditSpec("sky"), start, "seed 3", Motion(0), None, ClipCache(), Stop()))
    assert job.state == JobState.FAILED
    assert "sgv weights fetch clip-vit-b-32-openai" in job.error and "\n" not in job.error


# ----------------------------------------------------------------------------------------------------
# Values and helpers


def edit_result(start: np.ndarray, edited: np.ndarray, prompt: str = "sky") -> EditResult:
    return EditResult(start, edited, prompt, "tiny/x.pt", 0.0, 5, 5, 0.0, (), (), 1.0, 0.9, 1.0, "fp", "seed 1", 1.0)


def test_edit_result_strength():
    rng = np.random.default_rng(0)
    start, edited = rng.standard_normal((2, 4, 8)).astype(np.float32)
    r = edit_result(start, edited)
    assert r.codes_at(1.0) is edited and r.codes_at(0.0) is start  # exact: accept at 1 is the optimised codes
    assert np.allclose(r.codes_at(0.5), start + 0.5 * (edited - start), atol=1e-6)
    c1, c2 = r.content(1.0), r.content(-0.5)
    assert c1.label == "edit: sky" and c2.label == "edit: sky ×-0.50" and c1 != c2
    assert c1.provenance["source"] == "edit" and c1.provenance["parent"] == "seed 1"


def test_directions_round_trip_and_sum(tmp_path):
    rng = np.random.default_rng(1)
    start, edited = rng.standard_normal((2, 4, 8)).astype(np.float32)
    a = save_direction_entry(edit_result(start, edited, "snowy mountain"), tmp_path)
    b = save_direction_entry(edit_result(start, start + 1, "snowy mountain"), tmp_path)
    assert Path(a.path).name == "snowy-mountain.npz" and Path(b.path).name == "snowy-mountain-2.npz"
    (tmp_path / "junk.npz").write_bytes(b"junk")
    entries, errors = scan_directions(tmp_path)
    assert [e.name for e in entries] == ["snowy mountain", "snowy mountain"]
    assert len(errors) == 1 and "junk.npz" in errors[0]
    by_path = {e.path: e for e in entries}
    assert np.array_equal(by_path[a.path].delta, edited - start) and by_path[a.path].fingerprint == "fp"
    out = apply_directions(start, entries, {a.path: 2.0, b.path: -1.0})
    assert np.allclose(out, start + 2 * (edited - start) - 1.0, atol=1e-5)
    assert scan_directions(tmp_path / "missing") == ([], [])
    assert direction_file_name("../../etc/passwd", tmp_path).parent == tmp_path


def test_weights_checks(tmp_path, monkeypatch, clip_files):
    monkeypatch.setenv("SGV_WEIGHTS_DIR", str(tmp_path))
    problem = clip_weights_problem("ViT-B-32", "openai")
    assert "sgv weights fetch clip-vit-b-32-openai" in problem and "\n" not in problem
    assert "no such CLIP model config" in clip_weights_problem(str(tmp_path / "x.json"), "openai")
    assert "no such CLIP checkpoint" in clip_weights_problem("ViT-B-32", str(tmp_path / "w.pt"))
    assert clip_weights_problem(*map(str, clip_files)) is None
    assert "sgv weights fetch vgg16" in lpips_weights_problem()


def test_progress_message():
    info = StepInfo(3, 10, 0.25, 0.2, psnr_db=21.04, terms={"clip": 0.7}, elapsed_s=3.0)
    msg = progress_message(info)
    assert msg.startswith("step 3/10") and "PSNR 21.0 dB" in msg and "CLIP 0.7000" in msg and "7 s left" in msg


# ----------------------------------------------------------------------------------------------------
# Panels (pure parts)


def test_project_panel_drop_and_accept():
    from app.edit_jobs import ProjectionResult
    from app.widgets.project import ProjectPanel

    panel = ProjectPanel()
    assert panel.accept_drop("/photos/cat.JPG") and panel.image_path == "/photos/cat.JPG"
    assert not panel.accept_drop("/models/m.safetensors") and panel.image_path == "/photos/cat.JPG"
    state = AppState()
    state.timeline.set_t(40.0)
    ws = np.ones((4, 8), np.float32)
    image = np.zeros((8, 8, 3), np.uint8)
    panel.result = ProjectionResult(
        ws, "/photos/cat.jpg", image, image, 20.0, "pixel", None, 5, 5, 0.1, (), (), "fp", Motion(3), 1.0
    )
    f = fake_frame(state, "other")
    assert not panel.accept(f) and f.notes[-1][1], "codes of another model are refused"
    f = fake_frame(state, "fp")
    assert panel.accept(f, play=True)
    assert state.content.label == "projection of cat.jpg" and np.array_equal(state.content.ws, ws)
    assert state.motion == Motion(3), "the motion the image was matched under comes with it"
    assert state.timeline.t == 0.0 and state.timeline.playing and state.history[0] is state.content
    state.undo_edit()
    assert state.content == Content() and state.motion == Motion()


def test_direction_sliders_live_drag_is_one_undo_step_and_one_history_entry(tmp_path):
    from app.widgets.edit import EditPanel

    rng = np.random.default_rng(2)
    base_ws = rng.standard_normal((4, 8)).astype(np.float32)
    entry = save_direction_entry(edit_result(base_ws, base_ws + 0.5, "warm"), tmp_path)
    panel = EditPanel()
    panel.folder = tmp_path
    panel.rescan()
    state = AppState()
    base = Content.from_codes(base_ws, "photo")
    state.set_content(base)
    history, undo_label = list(state.history), state.undo.undo_label
    panel._gesture += 1
    for s in (0.2, 0.6, 1.0):  # one drag
        assert panel.apply_direction(state, panel.directions[0], s, final=False)
    assert state.history == history, "no history entry per drag frame"
    panel.apply_direction(state, panel.directions[0], 1.0, final=True)
    assert np.allclose(state.content.ws, base_ws + 0.5, atol=1e-6) and state.content.label == "photo + warm +1.00"
    assert state.history[0] == state.content and state.history[1:] == history
    assert panel.direction_state(state) == (base, {entry.path: 1.0})
    state.undo_edit()  # the whole drag is one step
    assert state.content == base and np.array_equal(state.content.ws, base_ws) and state.undo.undo_label == undo_label
    assert panel.direction_state(state) == (base, {})
    state.redo_edit()
    assert panel.direction_state(state)[1] == {entry.path: 1.0}, "redo brings the slider back"


def test_widgets_do_not_import_torch():
    """The panels use torch only through app/edit_jobs.py's job bodies (which import it when they run)."""
    heavy = ("torch", "engine.nets", "engine.edit", "engine.latents")
    for name in ("widgets/project.py", "widgets/edit.py", "edit_jobs.py"):
        tree = ast.parse((APP / name).read_text())
        top_level_only = name == "edit_jobs.py"
        nodes = tree.body if top_level_only else list(ast.walk(tree))
        for node in nodes:
            mods = []
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mods = [node.module or ""]
            for m in mods:
                assert not m.startswith(heavy), f"app/{name} imports {m}"


def test_backend_fixture_is_the_tiny_model(backend):
    assert backend.G.img_resolution == 32 and isinstance(backend.G, engine.Generator)
