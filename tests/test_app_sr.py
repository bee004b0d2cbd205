"""The app's cascade SR level without a window: the real renderer on a tiny base and a tiny SR level.

Low-res frame first, then the SR frame of the same request, equal to engine.cascade.CascadeVideo's frame; a
newer request is served before the SR pass of an older one; neighbouring frames share their low-res window
frames; an SR file that does not fit the base is one line and the current level stays; the bundled base opens
the bundled level; export through the cascade writes the SR resolution; the view keeps SR frames apart.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import engine
from app.jobs import JobManager, JobState
from app.render_types import (
    ExportSpec,
    FrameRequest,
    FrameResult,
    ModelLoaded,
    RenderArgs,
    SRChanged,
    SRFailed,
)
from app.renderer import EngineBackend, Renderer
from app.state import AppState, Content, Motion
from app.view import RenderView
from engine.cascade import CascadeVideo, SRGenerator, load_sr, save_sr, sr_preset
from engine.media import read_video

WINDOW = 2


def tiny_sr(base_resolution: int, seed: int = 0) -> SRGenerator:
    """An SR level whose residual is not zero (a trained one's is not), so the window matters."""
    cfg = sr_preset("sr-tiny", base_resolution=base_resolution, scale=2, window=WINDOW, native_fps=25.0)
    torch.manual_seed(seed)
    G = SRGenerator(cfg.generator)
    with torch.no_grad():
        G.torgb.weight.normal_()
    return G.eval().requires_grad_(False)


@pytest.fixture(scope="module")
def files(tmp_path_factory, tiny_model_file) -> dict:
    tmp = tmp_path_factory.mktemp("sr")
    save_sr(tiny_sr(32), tmp / "sr.safetensors")
    save_sr(tiny_sr(16), tmp / "sr16.safetensors")  # trained for 16² input: does not fit the 32² base
    (tmp / "broken.safetensors").write_bytes(b"not a model")
    return {"base": tiny_model_file, "sr": tmp / "sr.safetensors", "sr16": tmp / "sr16.safetensors", "tmp": tmp}


def collect(r: Renderer, until, timeout=60.0) -> list:
    events, t0 = [], time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        events += r.poll()
        if until(events):
            return events
        time.sleep(0.005)
    raise AssertionError(f"timed out; got {[type(e).__name__ for e in events]}")


def sr_frames(events):
    return [e for e in events if isinstance(e, FrameResult) and e.sr]


def opened(files, loader=None, bundled_sr=None) -> Renderer:
    r = Renderer(device="cpu", loader=loader, bundled_sr=bundled_sr)
    r.open_model(str(files["base"]))
    r.open_sr(str(files["sr"]))
    collect(r, lambda ev: any(isinstance(e, SRChanged) and e.info for e in ev))
    return r


def reference(files, t: float) -> np.ndarray:
    """The SR frame engine.cascade renders for seed 3, motion 7 (what the app must show)."""
    G = engine.load_generator(files["base"], device="cpu")
    video = CascadeVideo(engine.Video(G, content=3, motion=7), load_sr(files["sr"], device="cpu"), seed=0)
    return video.frames_uint8([t])[0]


def test_low_res_first_then_the_sr_frame_of_the_same_request(files):
    r = opened(files)
    try:
        req = FrameRequest(Content(seed=3), Motion(7), 5.5)
        stamp = r.submit(RenderArgs(frame=req, sr=True, directions=False))
        events = collect(r, lambda ev: sr_frames(ev))
        frames = [e for e in events if isinstance(e, FrameResult)]
        assert [e.sr for e in frames] == [False, True], "the low-res frame is delivered before the SR one"
        low, sr = frames
        assert low.stamp == sr.stamp == stamp and low.request == sr.request == req
        assert low.image.shape == (32, 32, 3) and sr.image.shape == (64, 64, 3)
        assert np.abs(sr.image.astype(int) - reference(files, 5.5)).max() <= 1, "CascadeVideo's frame at that t"
        assert np.abs(sr.image.astype(int) - np.asarray(low.image).repeat(2, 0).repeat(2, 1)).mean() > 1
    finally:
        r.close()


def test_without_sr_asked_no_sr_pass(files):
    r = opened(files)
    try:
        r.submit(RenderArgs(frame=FrameRequest(Content(seed=3), Motion(7), 1.0), sr=False, directions=False))
        events = collect(r, lambda ev: any(isinstance(e, FrameResult) for e in ev))
        time.sleep(0.3)
        events += r.poll()
        assert not sr_frames(events)
    finally:
        r.close()


def test_a_newer_request_is_served_before_the_sr_pass_of_an_older_one(files):
    """The low-res frame of A is held until B is submitted: the worker renders B (low-res, then SR), never A's SR."""
    gate, entered = threading.Event(), threading.Event()

    class Gated(EngineBackend):
        def cascade(self, sr, content, motion, precision):
            if not gate.is_set():
                entered.set()
                gate.wait(30)
            return super().cascade(sr, content, motion, precision)

    r = opened(files, loader=lambda path, device: Gated.load(path, device), bundled_sr=Path("/nonexistent"))
    try:
        a = FrameRequest(Content(seed=3), Motion(7), 2.0)
        b = FrameRequest(Content(seed=3), Motion(7), 9.25)
        r.submit(RenderArgs(frame=a, sr=True, directions=False))
        assert entered.wait(30), "the worker started A"
        r.submit(RenderArgs(frame=b, sr=True, directions=False))
        gate.set()
        events = collect(r, lambda ev: sr_frames(ev))
        time.sleep(0.3)
        events += r.poll()
        assert [e.request.t for e in sr_frames(events)] == [9.25], "only the newest request gets its SR pass"
        lows = [e.request.t for e in events if isinstance(e, FrameResult) and not e.sr]
        assert lows[-1] == 9.25
    finally:
        r.close()


def test_neighbouring_frames_share_their_low_res_frames(files):
    r = opened(files)
    try:
        content, motion = Content(seed=3), Motion(7)
        for i, t in enumerate([10.0, 11.0, 12.0, 13.0]):
            r.submit(RenderArgs(frame=FrameRequest(content, motion, t), sr=True, directions=False))
            collect(r, lambda ev: sr_frames(ev))
            video = r.backend.cascade(r.sr_model, content, motion, "fp32")
            # 2k+1 base frames for the first window, then one new base frame per output frame
            assert video.base_frames_rendered == 2 * WINDOW + 1 + i
    finally:
        r.close()


def test_sr_file_that_does_not_fit_the_base_is_one_line_and_the_level_stays(files):
    r = opened(files)
    try:
        before = r.sr_model
        for name, words in (("sr16", "16x16 input"), ("broken", "broken.safetensors")):
            r.open_sr(str(files["tmp"] / f"{name}.safetensors"))
            e = [e for e in collect(r, lambda ev: any(isinstance(e, SRFailed) for e in ev)) if isinstance(e, SRFailed)]
            assert len(e) == 1 and words in e[0].message and "\n" not in e[0].message, e
            assert r.sr_model is before
        r.open_sr(None)
        changed = collect(r, lambda ev: any(isinstance(e, SRChanged) for e in ev))
        assert [e.info for e in changed if isinstance(e, SRChanged)] == [None] and r.sr_model is None
    finally:
        r.close()


def test_bundled_base_opens_the_bundled_sr_level(files):
    """open_model(None) is the bundled base: its SR level opens with it when the file exists; not for others."""

    def loader(path, device):
        return EngineBackend.load(files["base"] if path is None else path, device)

    r = Renderer(device="cpu", loader=loader, bundled_sr=files["sr"])
    try:
        r.open_model(None)
        events = collect(r, lambda ev: any(isinstance(e, SRChanged) for e in ev))
        info = next(e.info for e in events if isinstance(e, SRChanged))
        assert info is not None and info.path == str(files["sr"]) and info.resolution == 64
        r.open_sr(None)
        collect(r, lambda ev: any(isinstance(e, SRChanged) for e in ev))
        r.open_model(str(files["base"]))
        events = collect(r, lambda ev: any(isinstance(e, ModelLoaded) for e in ev))
        time.sleep(0.3)
        events += r.poll()
        assert r.sr_model is None and not [e for e in events if isinstance(e, SRChanged) and e.info]
    finally:
        r.close()


def test_export_through_the_cascade_writes_the_sr_resolution(files):
    r = opened(files)
    jobs = JobManager()
    try:
        out = files["tmp"] / "sr.mp4"
        spec = ExportSpec(str(out), t_start=3.0, duration_s=0.4, fps=10.0, sr=True)
        backend, sr = r.backend, r.sr_model
        job = jobs.submit("export", lambda ctx: backend.export(spec, Content(seed=3), Motion(7), ctx, sr=sr))
        while not job.finished:
            time.sleep(0.02)
        assert job.state == JobState.DONE, job.error
        video, _ = read_video(out)
        assert video.shape[:4] == (4, 64, 64, 3) and job.result["size"] == 64
        half = ExportSpec(str(files["tmp"] / "sr-half.mp4"), 3.0, 0.2, 10.0, scale=0.5, sr=True)
        job = jobs.submit("export", lambda ctx: backend.export(half, Content(seed=3), Motion(7), ctx, sr=sr))
        while not job.finished:
            time.sleep(0.02)
        assert job.state == JobState.DONE and job.result["size"] == 32, job.error  # scale is of the SR size
    finally:
        r.close()


def test_view_keeps_sr_frames_apart_and_shows_them_only_for_the_frame_on_screen():
    state, view = AppState(), RenderView()
    req_a = FrameRequest(Content(seed=1), Motion(0), 1.0)
    req_b = FrameRequest(Content(seed=1), Motion(0), 2.0)
    low = np.zeros((8, 8, 3), np.uint8)
    high = np.zeros((16, 16, 3), np.uint8)
    view.absorb([SRChanged(None)], state)
    view.absorb([FrameResult(1, req_a, low, 1.0, False, 0.0, "fp")], state)
    view.absorb([FrameResult(1, req_a, high, 1.0, False, 0.0, "fp", sr=True)], state)
    assert view.frame.image is low and view.current_sr_frame() is None, "no SR level: no SR frame shown"
    from app.render_types import SRInfo

    info = SRInfo("sr.safetensors", "sr.safetensors", "abc", 2, 8, 16, 4, 25.0, 10, 0.0)
    view.absorb([SRChanged(info)], state)
    view.absorb([FrameResult(1, req_a, high, 1.0, False, 0.0, "fp", sr=True)], state)
    assert view.frame.image is low and view.current_sr_frame().image is high
    view.absorb([FrameResult(2, req_b, low, 1.0, False, 0.0, "fp")], state)
    assert view.current_sr_frame() is None, "a newer low-res frame shows until its SR frame arrives"
    view.absorb([SRFailed("x.safetensors", "x.safetensors: trained for 16x16 input")], state)
    assert view.sr is info and view.sr_error.startswith("x.safetensors")


def test_playback_shows_sr_frames_with_their_low_res_frames(files):
    """The app's playback loop (app.playback.playback_step with the SR level's fingerprint): SR frames
    rendered ahead reach the view with their low-res frames, and the cascade renders about one base frame per
    SR frame (the window cache is shared by the prefetch batches)."""
    from app.playback import Player, playback_step

    r = opened(files)
    state, view, player = AppState(), RenderView(), Player()
    try:
        r.open_model(str(files["base"]))  # again (opened() took the first events): the SR level stays with it
        view.absorb(collect(r, lambda ev: any(isinstance(e, SRChanged) for e in ev)), state)
        assert view.sr is not None and view.model is not None
        tl = state.timeline
        tl.fps, tl.loop, tl.t, tl.playing = 5.0, False, 0.0, True
        stamp, shown, pairs_ok = 0, set(), True
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < 4.0 or not shown:
            now = time.perf_counter()
            view.absorb(player.take(r.poll()), state, now)
            showing, upcoming = playback_step(player, now, state, view, stamp, 0.05, view.sr.fingerprint)
            t = showing if showing is not None else tl.t
            stamp = r.submit(RenderArgs(FrameRequest(state.content, state.motion, t), upcoming, sr=True))
            sr = view.current_sr_frame()
            if sr is not None:
                shown.add(sr.request.t)
                pairs_ok &= sr.image.shape == (64, 64, 3) and view.frame.image.shape == (32, 32, 3)
            assert time.perf_counter() - t0 < 120, "no SR frame reached the view"
            time.sleep(0.01)
        video = r.backend.cascade(r.sr_model, state.content, state.motion, "fp32")
        sr_rendered = len(r._sr_frames)
        print(f"SR frames shown {len(shown)}, SR rendered {sr_rendered}, base {video.base_frames_rendered}")
        assert pairs_ok and len(shown) >= 2
        assert video.base_frames_rendered <= sr_rendered * 5 + 2 * WINDOW + 1  # 5 fps of 25: 5 base frames each
    finally:
        r.close()


def test_session_records_the_sr_level_and_view(tmp_path):
    from app.state import load_session, save_session

    state = AppState()
    state.sr_view = "side by side"
    path = save_session(tmp_path / "s.json", state, "base.safetensors", "sr.safetensors")
    again = AppState()
    data = load_session(path, again)
    assert data["model"]["sr"] == "sr.safetensors" and again.sr_view == "side by side"
    assert load_session(save_session(tmp_path / "t.json", AppState(), "base.safetensors"), again)["model"]["sr"] is None
