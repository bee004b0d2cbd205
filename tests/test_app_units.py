"""The app's pure parts, without a window: state + undo, sessions, playback clock, drag math, motion slider
math, args emission, jobs, the file dialog's logic, recent files, the import boundary and the no-display exit."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from app.gui.file_dialog import FileDialog, list_entries
from app.jobs import JobManager, JobState, Progress
from app.paths import RecentFiles
from app.playback import PlaybackClock, frame_step, wrap
from app.render_types import AnchorRequest, FrameRequest, ModelInfo, MotionDirections, RenderArgs
from app.state import (
    AppState,
    Content,
    Motion,
    SessionError,
    UndoStack,
    affected_time_range,
    load_session,
    save_session,
)
from app.view import RenderView
from app.widgets import default_panels
from app.widgets.base import Frame
from app.widgets.motion import coords, loop_anchors, move, near_anchors, nearest_anchor, set_anchors
from app.widgets.timeline import anchor_ticks, label_step, strip_times, t_at, x_at, zoom_view

APP = Path(__file__).resolve().parent.parent / "app"
rng = np.random.default_rng(0)


def codes(*shape) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


# ----------------------------------------------------------------------------------------------------
# Values and undo


def test_content_and_motion_are_values():
    assert Content.from_seed(3, 0.7) == Content.from_seed(3, 0.7) != Content.from_seed(3, 0.8)
    ws = codes(4, 8)
    a, b = Content.from_codes(ws, "proj"), Content.from_codes(ws.copy(), "other label")
    assert a == b and hash(a) == hash(b), "explicit contents compare by their codes"
    assert not a.ws.flags.writeable, "codes in the state cannot be changed in place"
    ws[0, 0] += 1
    assert a != Content.from_codes(ws, "proj") and a.ws[0, 0] != ws[0, 0], "the state keeps its own copy"
    m = Motion(5)
    u = codes(16)
    m2 = m.with_override(3, u)
    assert m.overrides == {} and m2.edited_anchors == [3] and m2 != m
    assert m2.with_override(3, u.copy()) == m2 and m2.without_override(3) == m
    assert affected_time_range([3], 16.0) == (32.0, 64.0) and affected_time_range([], 16.0) is None


def test_undo_redo_restores_exact_codes_and_coalesces_drags():
    state = AppState()
    state.resolve("fp", Content.from_seed(0).key, codes(4, 8))
    state.model_fingerprint = "fp"
    ws0, m0 = state.codes_of(state.content), state.motion
    u = codes(16)
    state.set_motion(state.motion.with_override(2, u), "edit anchor 2")
    for psi in (0.9, 0.8, 0.7):  # one ψ drag
        state.set_content(Content.from_seed(0, psi), coalesce=("psi", 1))
    explicit = codes(4, 8)
    state.set_content(Content.from_codes(explicit, "projection"))
    assert state.undo_edit() and state.content == Content.from_seed(0, 0.7)
    assert state.undo_edit() and state.content == Content.from_seed(0) and state.motion.edited_anchors == [2]
    assert np.array_equal(state.codes_of(state.content), ws0)
    assert np.array_equal(state.motion.overrides[2], u)
    assert state.undo_edit() and state.motion == m0 and not state.undo_edit()
    for _ in range(3):
        assert state.redo_edit()
    assert np.array_equal(state.codes_of(state.content), explicit) and not state.redo_edit()
    state.undo_edit()
    state.set_motion(Motion(9))
    assert not state.redo_edit(), "a new edit drops the redo branch"
    assert [c.label for c in state.history][:2] == ["projection", "seed 0, ψ 0.70"]


def test_undo_stack_ignores_no_op_and_is_bounded():
    stack = UndoStack(AppState().doc, limit=3)
    state = AppState()
    for seed in range(6):
        state.set_motion(Motion(seed))
        stack.push(state.doc, f"m{seed}")
    stack.push(state.doc, "same again")
    assert stack.undo_label == "m5"
    n = 0
    while stack.undo():
        n += 1
    assert n == 3


def test_swap_motions_between_favourites():
    state = AppState()
    for seed in (1, 2):
        state.set_pair(Content.from_seed(seed), Motion(10 + seed).with_override(0, codes(16)), f"s{seed}")
        state.add_favourite()
    before = [f.motion for f in state.favourites]
    state.swap_motions(0, 1)
    favs = state.favourites
    assert (favs[0].content.seed, favs[1].content.seed) == (1, 2)
    assert favs[0].motion == before[1] and favs[1].motion == before[0]
    assert (state.content, state.motion) == (favs[0].content, favs[0].motion)
    state.undo_edit()
    assert [f.motion for f in state.favourites] == before


def test_session_round_trip_is_exact(tmp_path):
    state = AppState()
    state.model_fingerprint = "fp"
    seed_ws = codes(4, 8)
    state.resolve("fp", Content.from_seed(7, 0.5).key, seed_ws)
    state.set_content(Content.from_seed(7, 0.5))
    u = codes(16)
    state.set_motion(Motion(3).with_override(5, u))
    state.add_favourite("mine")
    proj = codes(4, 8)
    state.set_content(Content.from_codes(proj, "projection of cat.png", image="cat.png"))
    state.timeline.set_t(1e6)
    state.timeline.fps = 60
    path = save_session(tmp_path / "s", state, "model.safetensors")
    assert path.name == "s.json" and (tmp_path / "s.npz").exists()
    loaded = AppState()
    load_session(path, loaded)
    assert np.array_equal(loaded.content.ws, proj) and loaded.content.provenance["image"] == "cat.png"
    assert loaded.motion == state.motion and np.array_equal(loaded.motion.overrides[5], u)
    fav = loaded.favourites[0]
    assert fav.name == "mine" and fav.content == Content.from_seed(7, 0.5)
    loaded.model_fingerprint = "fp"
    assert np.array_equal(loaded.codes_of(fav.content), seed_ws), "seed contents keep the codes they had"
    assert loaded.timeline.t == 1e6 and loaded.timeline.fps == 60 and not loaded.timeline.playing
    assert [c.label for c in loaded.history] == [c.label for c in state.history]


def test_session_errors_are_one_line(tmp_path):
    state = AppState()
    path = save_session(tmp_path / "s.json", state, None)
    (tmp_path / "s.npz").write_bytes(b"changed")
    with pytest.raises(SessionError, match="does not match s.json"):
        load_session(path, AppState())
    (tmp_path / "junk.json").write_text("{not json")
    with pytest.raises(SessionError, match="junk.json: not a session file"):
        load_session(tmp_path / "junk.json", AppState())
    (tmp_path / "other.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(SessionError, match="not an sgv-studio session"):
        load_session(tmp_path / "other.json", AppState())
    with pytest.raises(SessionError, match="no such file"):
        load_session(tmp_path / "missing.json", AppState())


# ----------------------------------------------------------------------------------------------------
# Playback and drag math


def test_playback_clock_is_on_the_export_frame_grid():
    clock = PlaybackClock(wall0=100.0, t0=10.0, fps=50, native_fps=25, time_scale=1.0)
    assert frame_step(50, 25, 1.0) == 0.5
    assert clock.t_at(100.0) == 10.0 and clock.t_at(100.0 + 0.1) == 12.5  # 5 frames at 50 fps
    assert clock.upcoming(100.0, 3) == (10.5, 11.0, 11.5)
    back = PlaybackClock(0.0, 5.0, 25, 25, -2.0, loop=(0.0, 8.0))
    assert back.t_at(1 / 25) == 3.0 and back.t_at(3 / 25) == pytest.approx(7.0), "wraps into the loop"
    assert wrap(9.0, 0, 8) == 1.0 and wrap(-1.0, 0, 8) == 7.0 and wrap(1e6 + 3, 1e6, 1e6 + 8) == 1e6 + 3


def test_ruler_drag_math():
    assert t_at(150, 100, 200, 0.0, 256.0) == 64.0
    assert t_at(50, 100, 200, 0.0, 256.0) == 0.0 and t_at(900, 100, 200, 10.0, 256.0) == 266.0, "clamped"
    for t in (0.0, 33.3, 256.0):
        assert t_at(x_at(t, 100, 200, 0.0, 256.0), 100, 200, 0.0, 256.0) == pytest.approx(t)
    start, span = zoom_view(0.0, 256.0, 64.0, 0.5)
    assert span == 128.0 and (64.0 - start) / span == pytest.approx(64.0 / 256.0), "pivot stays put"
    stride, anchors = anchor_ticks(0.0, 256.0, 16.0, 1000.0)
    assert stride == 1 and anchors == list(range(17))
    stride, anchors = anchor_ticks(1e6, 1e5, 16.0, 1000.0)
    assert stride >= 1 and all(b - a == stride for a, b in zip(anchors, anchors[1:]))
    assert (anchors[1] - anchors[0]) * 16.0 / 1e5 * 1000 >= 7.0
    assert label_step(256.0, 1000.0) == 20.0
    assert strip_times(0.0, 100.0, 4) == (12.5, 37.5, 62.5, 87.5)


def test_motion_slider_math_edits_only_what_it_touches():
    v = 16
    comps = np.linalg.qr(rng.standard_normal((v, v)))[0][:4].astype(np.float32)
    dirs = MotionDirections("fp", np.zeros(v, np.float32), comps, np.array([2.0, 1.0, 0.5, 0.1], np.float32), 10, False)
    base = codes(v)
    u = move(base, dirs, 1, 1.5)
    c = coords(u, base, dirs)
    assert c == pytest.approx([0, 1.5, 0, 0], abs=1e-5)
    u2 = move(u, dirs, 0, -0.5)
    assert coords(u2, base, dirs) == pytest.approx([-0.5, 1.5, 0, 0], abs=1e-5)
    m = set_anchors(Motion(1), {4: (u2, base)})
    assert m.edited_anchors == [4]
    back = move(move(u2, dirs, 0, 0.5), dirs, 1, -1.5)
    assert set_anchors(m, {4: (back, base)}) == Motion(1), "sliders back at 0 drop the override"
    assert nearest_anchor(23.9, 16.0) == 1 and nearest_anchor(24.1, 16.0) == 2
    assert near_anchors(40.0, 16.0) == [0, 1, 2, 3, 4, 5]
    assert loop_anchors(0.0, 256.0, 16.0) == list(range(0, 18))


# ----------------------------------------------------------------------------------------------------
# Args emission (widgets write their slice without drawing)


def model_info(**kw) -> ModelInfo:
    base = dict(
        path="m.safetensors", name="m", fingerprint="fp", resolution=32, z_dim=32, w_dim=32, num_ws=8, c_dim=0,
        motion_u_dim=32, delta_z=16.0, native_fps=25.0, num_params=1, device="cpu", load_s=0.0, summary="",
    )  # fmt: skip
    base.update(kw)
    return ModelInfo(**base)


class _Actions:
    recent_models: list = []
    model_loading = False
    drops_supported = False


def emit_all(state: AppState, view: RenderView) -> RenderArgs:
    args = RenderArgs()
    frame = Frame(state, view, args, _Actions(), JobManager(), now=0.0)
    for panel in default_panels():
        panel.emit(frame)
    return args


def test_args_emission_without_a_window():
    state, view = AppState(), RenderView()
    assert emit_all(state, view) == RenderArgs(), "no model: nothing to ask for"
    view.model = model_info()
    state.timeline.set_t(1e6 + 0.5)
    state.set_motion(Motion(4).with_override(62500, codes(32)))
    args = emit_all(state, view)
    assert args.frame == FrameRequest(state.content, state.motion, 1e6 + 0.5)
    assert set(args.thumbs) >= {"strip", "content_grid", "mix"}
    grid = args.thumbs["content_grid"]
    assert [c.seed for c, _, _ in grid.cells] == list(range(9)) and grid.columns == 3
    assert all(m == state.motion and t == 1e6 + 0.5 for _, m, t in grid.cells)
    assert args.anchors == AnchorRequest(4, ((62498, 62503), (0, 17))), "near the playhead + the loop range"
    assert emit_all(state, view) == args, "same state, same args: the renderer is not asked again"
    state.timeline.playing = True
    state.timeline.set_t(2e6)
    playing = emit_all(state, view)
    assert playing.thumbs["content_grid"].cells[0][2] != 2e6, "grid thumbnails hold still during playback"


# ----------------------------------------------------------------------------------------------------
# Jobs


def test_jobs_progress_result_cancel_and_errors():
    from engine.errors import SgvError

    jobs = JobManager()

    def work(ctx):
        for i in range(4):
            ctx.progress(i + 1, 4, f"step {i}")
        return "done"

    def steps(ctx):
        def gen():
            for i in range(3):
                yield Progress((i + 1) / 3, f"{i}")
            return 42

        return gen()

    started = threading.Event()

    def forever(ctx):
        started.set()
        while True:
            ctx.check_cancel()
            time.sleep(0.01)

    a, b = jobs.submit("a", work), jobs.submit("b", steps)
    c = jobs.submit("c", forever, kind="export")
    d = jobs.submit("d", lambda ctx: (_ for _ in ()).throw(SgvError("x.mp4: disk full")))
    e = jobs.submit("e", lambda ctx: 1 / 0)
    started.wait(5)
    assert jobs.running("export") == [c]
    c.cancel()
    for j in (a, b, c, d, e):
        assert j.wait(5)
    assert (a.state, a.result, a.progress.fraction, a.progress.message) == (JobState.DONE, "done", 1.0, "step 3")
    assert (b.state, b.result) == (JobState.DONE, 42)
    assert c.state == JobState.CANCELLED
    assert (d.state, d.error) == (JobState.FAILED, "x.mp4: disk full")
    assert e.state == JobState.FAILED and e.error.startswith("internal error in e: ZeroDivisionError")
    assert jobs.latest("export") is c


# ----------------------------------------------------------------------------------------------------
# Files


def test_file_dialog_logic(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "b.safetensors").write_bytes(b"x")
    (tmp_path / "A.safetensors").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / ".hidden.safetensors").write_bytes(b"x")
    names = [e.name for e in list_entries(tmp_path, (".safetensors",))]
    assert names == ["sub", "A.safetensors", "b.safetensors"]
    assert len(list_entries(tmp_path)) == 5 - 1
    d = FileDialog("Open checkpoint", "open", (".safetensors",))
    d.open(tmp_path)
    assert d.accept("b.safetensors") == str(tmp_path / "b.safetensors")
    assert d.accept("missing.safetensors") is None and "no such file" in d.error
    assert d.accept("sub") is None and d.folder == (tmp_path / "sub").resolve(), "a folder name navigates"
    assert d.accept(str(tmp_path / "A.safetensors")) == str(tmp_path / "A.safetensors"), "absolute paths work"
    s = FileDialog("Save session", "save", (".json",), ".json")
    s.open(tmp_path)
    assert s.accept("new") == str(tmp_path / "new.json")
    assert s.accept("nowhere/new.json") is None and "no such folder" in s.error


def test_recent_files(tmp_path):
    path = tmp_path / "cfg" / "recent.json"
    r = RecentFiles(path, limit=3)
    for name in ("a", "b", "a", "c", "d"):
        r.add(tmp_path / name)
    assert [Path(p).name for p in RecentFiles(path, limit=3).items] == ["d", "c", "a"]
    path.write_text("{broken")
    assert RecentFiles(path).items == []


# ----------------------------------------------------------------------------------------------------
# Boundaries


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


# app/renderer.py is the app's torch user: the renderer thread draws every frame. app/edit_jobs.py is the
# other module allowed to reach torch and the engine's compute modules, only inside its job bodies (function
# level, on a job's own thread): projection and CLIP edits run the engine in-process on a copy of the
# renderer's model. Every other file of app/ sees only the engine's torch-free modules below.
TORCH_USERS = {APP / "renderer.py", APP / "edit_jobs.py"}
TORCH_FREE_ENGINE = {"engine.errors", "engine.fileio", "engine.paths", "engine.extras", "engine.config"}
TORCH_FREE_ENGINE |= {"engine.suffixes"}  # file-name suffixes (the Open dialogs, dropped files)
TORCH_FREE_ENGINE |= {"engine.train.options"}  # the New run dialog derives its fields from TrainOptions


def test_only_the_renderer_touches_torch():
    """Every file in app/ but the torch users imports (at any level) neither torch nor the engine's compute
    modules, and importing all of app/ but the renderer loads no torch at all."""
    files = sorted(set(APP.rglob("*.py")) - TORCH_USERS)
    assert len(files) > 30 and APP / "main.py" in files and APP / "widgets" / "train_dialogs.py" in files
    for path in files:
        for name in imported_modules(path):
            assert name.split(".")[0] != "torch", f"{path.relative_to(APP)} imports {name}"
            if name == "engine" or name.startswith("engine."):
                assert name in TORCH_FREE_ENGINE, f"{path.relative_to(APP)} imports {name}; only the torch users may"
    modules = [
        ".".join(p.relative_to(APP.parent).with_suffix("").parts).removesuffix(".__init__") for p in APP.rglob("*.py")
    ]
    modules.remove("app.renderer")
    code = f"import importlib, sys\nfor m in {sorted(modules)!r}:\n    importlib.import_module(m)\n"
    code += "    assert 'torch' not in sys.modules, m + ' loads torch'\n"
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=APP.parent)
    assert r.returncode == 0, r.stderr[-2000:]


def test_no_display_exits_with_one_line():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.run([sys.executable, "-m", "app.main"], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no display" in lines[0] and "sgv generate" in lines[0]
