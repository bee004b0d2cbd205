"""The renderer without a window: latest request wins (with a fake slow model), stamps, prefetch, errors
that keep the last good frame, bad model files, thumbnails; and the engine backend on a tiny model."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

import engine
from app.jobs import JobManager, JobState
from app.render_types import (
    AnchorCodes,
    AnchorRequest,
    ExportSpec,
    FrameFailed,
    FrameRequest,
    FrameResult,
    ModelFailed,
    ModelInfo,
    ModelLoaded,
    MotionDirections,
    RenderArgs,
    ThumbRequest,
    ThumbResult,
)
from app.renderer import EngineBackend, Renderer
from app.state import AppState, Content, Motion
from app.view import RenderView
from engine.errors import CheckpointError, SgvError
from engine.media import read_video


class FakeBackend:
    """Frames whose pixels encode t; each frame takes `delay` seconds; t in `fail` raises."""

    def __init__(self, name="fake", delay=0.0, fail=()):
        self.info = ModelInfo(
            path=name, name=name, fingerprint=name, resolution=8, z_dim=4, w_dim=4, num_ws=2, c_dim=0,
            motion_u_dim=4, delta_z=16.0, native_fps=25.0, num_params=0, device="cpu", load_s=0.0, summary="",
        )  # fmt: skip
        self.delay, self.fail = delay, set(fail)
        self.rendered: list[float] = []

    def content_codes(self, content):
        return torch.full((1, 2, 4), float(content.seed))

    def render(self, content, motion, ts, precision):
        time.sleep(self.delay * len(ts))
        self.rendered += list(ts)
        if self.fail & set(ts):
            raise SgvError(f"cannot render t={sorted(self.fail & set(ts))[0]:g}")
        return np.stack([np.full((8, 8, 3), int(t) % 256, np.uint8) for t in ts])

    def render_cells(self, cells, px, precision):
        return np.stack([np.full((px, px, 3), c.seed, np.uint8) for c, _, _ in cells])

    def anchor_codes(self, seed, first, last):
        return np.arange(first, last + 1, dtype=np.float32)[:, None].repeat(4, 1)

    def motion_directions(self):
        return MotionDirections(self.info.fingerprint, np.zeros(4), np.eye(4)[:2], np.ones(2), 8, False)


def make_renderer(backends: dict) -> Renderer:
    def loader(path, device):
        if path not in backends:
            raise CheckpointError(f"{path}: no such file")
        return backends[path]

    return Renderer(device="cpu", loader=loader)


def collect(r: Renderer, until, timeout=10.0) -> list:
    events, t0 = [], time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        events += r.poll()
        if until(events):
            return events
        time.sleep(0.002)
    raise AssertionError(f"timed out; got {[type(e).__name__ for e in events]}")


def frame_args(t, content=None, motion=None, **kw) -> RenderArgs:
    return RenderArgs(FrameRequest(content or Content.from_seed(1), motion or Motion(0), t), directions=False, **kw)


def test_latest_request_wins_with_a_slow_model():
    fake = FakeBackend(delay=0.2)
    r = make_renderer({"m": fake})
    try:
        r.open_model("m")
        collect(r, lambda ev: any(isinstance(e, ModelLoaded) for e in ev))
        stamps = [r.submit(frame_args(float(t))) for t in range(20)]  # a fast scrub: 20 positions in ~0 s
        assert stamps == sorted(stamps) and len(set(stamps)) == 20
        assert r.submit(frame_args(19.0)) == stamps[-1], "identical args are not a new request"
        events = collect(r, lambda ev: any(isinstance(e, FrameResult) and e.request.t == 19.0 for e in ev))
        frames = [e for e in events if isinstance(e, FrameResult)]
        assert frames[-1].stamp == stamps[-1] and frames[-1].image[0, 0, 0] == 19
        assert len(fake.rendered) <= 2, f"rendered {fake.rendered}: positions in between were dropped"
        time.sleep(0.3)
        assert r.poll() == [] and len(fake.rendered) <= 2, "nothing left queued"
    finally:
        r.close()


def test_errors_keep_the_last_good_frame_and_bad_models_keep_the_current_one():
    fake = FakeBackend(fail={5.0})
    r = make_renderer({"m": fake})
    state, view = AppState(), RenderView()
    try:
        r.open_model("m")
        collect(r, lambda ev: view.absorb(ev, state) is not None and view.model is not None)
        r.submit(frame_args(4.0))
        collect(r, lambda ev: view.absorb(ev, state) is not None and view.frame is not None)
        r.submit(frame_args(5.0))
        events = collect(r, lambda ev: any(isinstance(e, FrameFailed) for e in ev))
        view.absorb(events, state)
        assert view.frame.request.t == 4.0 and view.frame_error == "cannot render t=5"
        r.open_model("broken.safetensors")
        events = collect(r, lambda ev: any(isinstance(e, ModelFailed) for e in ev))
        view.absorb(events, state)
        assert view.model_error == "broken.safetensors: no such file" and view.model.name == "fake"
        r.submit(frame_args(6.0))
        events = collect(r, lambda ev: any(isinstance(e, FrameResult) for e in ev))
        view.absorb(events, state)
        assert view.frame.request.t == 6.0 and view.frame_error is None and not r.loading
    finally:
        r.close()


def test_stale_results_are_dropped_by_stamp():
    state, view = AppState(), RenderView()
    req = FrameRequest(Content(), Motion(), 0.0)
    new = FrameResult(5, req, np.zeros((2, 2, 3), np.uint8), 1.0, False, 0.0, "fp")
    old = FrameResult(4, req, np.ones((2, 2, 3), np.uint8), 1.0, False, 0.0, "fp")
    view.absorb([new, old], state)
    assert view.frame is new and view.frames_shown == 1


def test_prefetch_thumbnails_and_anchor_codes():
    fake = FakeBackend()
    r = make_renderer({"m": fake})
    try:
        r.open_model("m")
        cells = tuple((Content.from_seed(s), Motion(0), 0.0) for s in range(5))
        args = frame_args(
            0.0,
            upcoming=(1.0, 2.0, 3.0),
            thumbs={"grid": ThumbRequest(cells, 3, 4)},
            anchors=AnchorRequest(7, ((0, 2),)),
        )
        args.directions = True
        r.submit(args)
        events = collect(r, lambda ev: any(isinstance(e, ThumbResult) for e in ev))
        assert sorted(fake.rendered) == [0.0, 1.0, 2.0, 3.0]
        thumb = next(e for e in events if isinstance(e, ThumbResult))
        assert thumb.atlas.shape == (8, 12, 3) and thumb.atlas[4, 4, 0] == 4 and thumb.atlas[4, 8, 0] == 40
        codes = next(e for e in events if isinstance(e, AnchorCodes))
        assert codes.seed == 7 and sorted(codes.codes) == [0, 1, 2]
        assert any(isinstance(e, MotionDirections) for e in events)
        r.submit(frame_args(2.0, upcoming=(3.0,)))
        events = collect(r, lambda ev: any(isinstance(e, FrameResult) for e in ev))
        hit = next(e for e in events if isinstance(e, FrameResult))
        assert hit.cached and hit.image[0, 0, 0] == 2 and len(fake.rendered) == 4, "served from the prefetch"
    finally:
        r.close()


# ----------------------------------------------------------------------------------------------------
# The engine backend on a tiny model


@pytest.fixture(scope="module")
def backend(tmp_path_factory, tiny_model_file):
    return EngineBackend.load(str(tiny_model_file), "cpu", tmp_path_factory.mktemp("cache"))


def test_backend_renders_what_the_engine_renders(backend, tiny_G):
    content, motion = Content.from_seed(3, 0.7), Motion(5)
    ts = [0.0, 12.37, 1e6]
    video = engine.Video(tiny_G, content=3, motion=5, psi=0.7)
    assert np.array_equal(backend.render(content, motion, ts, "fp32"), video.frames_uint8(ts))
    cells = backend.render_cells([(content, motion, 12.37), (Content.from_seed(4), Motion(6), 1e6)], 16, "fp32")
    assert cells.shape == (2, 16, 16, 3)
    assert backend.info.resolution == 32 and backend.info.motion_u_dim == 32 and backend.info.delta_z == 16.0


def test_backend_motion_edit_changes_only_its_time_range(backend):
    content, motion = Content.from_seed(1), Motion(2)
    base = backend.anchor_codes(2, 4, 4)[0]
    edited = motion.with_override(4, base + 0.5)
    dz = backend.info.delta_z
    inside, outside = [3.5 * dz, 4 * dz, 4.9 * dz], [3 * dz, 5 * dz, 5.5 * dz, 1e6]
    a, b = (
        backend.render(content, motion, inside + outside, "fp32"),
        backend.render(content, edited, inside + outside, "fp32"),
    )
    n = len(inside)
    assert all(not np.array_equal(a[i], b[i]) for i in range(n))
    assert np.array_equal(a[n:], b[n:]), "frames outside ((i-1)δz, (i+1)δz) are bit-identical"


def test_backend_directions_are_cached_per_model(backend, tiny_model_file):
    first = backend.motion_directions()
    again = EngineBackend.load(str(tiny_model_file), "cpu", backend.cache_dir).motion_directions()
    assert again.from_cache and np.array_equal(first.components, again.components)
    k, v = first.components.shape
    assert v == 32 and k == 8 and np.allclose(first.components @ first.components.T, np.eye(k), atol=1e-4)
    assert np.all(np.diff(first.std) <= 0), "sorted by variance"


def test_backend_export_job_scaled_and_cancelled(backend, tmp_path):
    jobs = JobManager()
    out = tmp_path / "clip.mp4"
    spec = ExportSpec(str(out), t_start=3.0, duration_s=1.0, fps=12, scale=2.0)
    job = jobs.submit("export", lambda ctx: backend.export(spec, Content.from_seed(2), Motion(3), ctx))
    assert job.wait(60) and job.state == JobState.DONE, job.error
    frames, fps = read_video(out)
    assert frames.shape == (12, 64, 64, 3) and fps == pytest.approx(12) and job.result["frames"] == 12
    before = out.read_bytes()
    slow = ExportSpec(str(out), 0.0, 30.0, 25)
    job = jobs.submit("export", lambda ctx: backend.export(slow, Content.from_seed(2), Motion(3), ctx))
    job.cancel()
    assert job.wait(60) and job.state == JobState.CANCELLED
    assert out.read_bytes() == before, "a cancelled export leaves the earlier file untouched"


def test_backend_rejects_codes_of_another_model(backend):
    with pytest.raises(SgvError, match="this model needs"):
        backend.render(Content.from_codes(np.zeros((3, 5), np.float32), "foreign"), Motion(0), [0.0], "fp32")
