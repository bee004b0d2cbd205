"""Video projection: a rendered clip's content and motion are recovered, the video continues without a jump,
clips sit at their real times, bad videos give one line; a projected photo keeps its look when animated."""

import subprocess

import imageio_ffmpeg
import numpy as np
import pytest
import torch
from edit_helpers import one_thread, photo  # noqa: F401  (one_thread: autouse fixture)

from engine.edit.images import psnr
from engine.edit.motion_stats import model_motion_stats, motion_stats
from engine.edit.projection import ProjectionConfig, Projector
from engine.edit.video_projection import (
    Clip,
    VideoProjectionConfig,
    VideoProjector,
    boundary_change_ratios,
    clip_time_range,
    load_clip,
    render_times,
)
from engine.errors import SgvError
from engine.latents import from_seed, load_latents, save_latents
from engine.media import VideoWriter
from engine.motion_codes import MotionCodes

FAST = dict(w_avg_samples=500, u_stat_seeds=16)
STEPS = 150


def known_clip(G, frames=32, seed=5, motion=3):
    lat = from_seed(G, seed, motion=motion)
    return lat, render_times(G, lat, np.arange(frames, dtype=np.float64))


@pytest.fixture(scope="module")
def fitted(tiny_G):
    """The tiny model's own 32-frame clip (content seed 5, motion seed 3), projected with the pixel loss."""
    _, target = known_clip(tiny_G)
    clip = Clip(target, tiny_G.config.native_fps, np.arange(32), "known.mp4")
    p = VideoProjector(tiny_G, clip, VideoProjectionConfig(num_steps=STEPS, **FAST), image_loss="pixel")
    states = list(p)
    return p, states, p.result(), target


def test_video_projection_recovers_content_and_motion(tiny_G, fitted):
    """Mean PSNR over the clip's frames well above projecting its first frame with default motion (the photo
    projector, upstream-style: one t, fixed motion). Bounds for an untrained 32² net after 150 steps (measured
    ~21 dB vs ~13 dB); the bundled model reaches ~40 dB vs ~31 dB (bench/video_projection.py)."""
    p, states, result, target = fitted
    assert len(states) == STEPS and states[-1].done
    assert states[0].preview.shape == (32, 64, 3)  # target | fit
    assert np.mean(p.image_losses[-10:]) < 0.5 * np.mean(p.image_losses[:10])
    video_db = result.provenance["psnr_db"]
    photo_cfg = ProjectionConfig(num_steps=STEPS, w_avg_samples=500, motions_per_step=0, w_prior_lambda=0.0)
    photo_p = Projector(tiny_G, target[0], motion=0, config=photo_cfg, image_loss="pixel")
    for _ in photo_p:
        pass
    recon = render_times(tiny_G, photo_p.result(), np.arange(32, dtype=np.float64))
    photo_db = float(np.mean([psnr(a, b) for a, b in zip(recon, target)]))
    assert video_db >= 18.0, video_db
    assert video_db >= photo_db + 3.0, (video_db, photo_db)


def test_continuation_has_no_jump(tiny_G, fitted):
    """Before and after the clip the seed's own motion takes over; the hand-over changes frames no faster than
    1.5x the clip's own frame-to-frame change."""
    _, _, result, _ = fitted
    before, after = boundary_change_ratios(tiny_G, result)
    assert before <= 1.5 and after <= 1.5, (before, after)
    # Far from the clip the motion is the seed's own: the same frames as the unedited motion.
    plain = result.replace(motion=result.motion.without_overrides())
    far = np.array([200.0, 201.0, -150.0])
    assert np.array_equal(render_times(tiny_G, result, far), render_times(tiny_G, plain, far))


def test_result_is_saved_with_clip_range_and_anchors(tiny_G, fitted, tmp_path):
    p, _, result, _ = fitted
    prov = result.provenance
    assert prov["source"] == "video-projection" and prov["loss"] == "pixel" and prov["clip"] == "known.mp4"
    assert clip_time_range(result) == (0.0, 31.0)
    lo, hi = prov["fitted_anchors"]
    assert (lo, hi) == (-1, 3)  # δz = 16: anchors 0..2 cover t 0..31, plus one margin anchor each side
    assert sorted(result.motion.overrides) == list(range(lo, hi + 1))
    path = save_latents(tmp_path / "clip.npz", result)
    back = load_latents(path, tiny_G)
    assert back.motion.same_motion(result.motion) and back.provenance["fitted_anchors"] == [lo, hi]
    # The saved latents render the reconstruction exactly (the app and `sgv generate --latents` use this path).
    assert np.array_equal(render_times(tiny_G, back, p.times.numpy()), p.reconstruction(result))


def test_clip_frames_sit_at_their_real_times(tiny_G):
    """A 50 fps clip on a 25 fps model: frame k at t = k/2; subsampled frames keep their times."""
    _, target = known_clip(tiny_G, frames=8)
    clip = Clip(np.repeat(target, 5, axis=0)[:40], 50.0, np.arange(40), "fast.mp4")
    p = VideoProjector(tiny_G, clip, VideoProjectionConfig(num_steps=2, **FAST), image_loss="pixel")
    assert p.times[1] == pytest.approx(0.5) and p.time_range() == (0.0, 19.5)
    assert (p.lo, p.hi) == (-1, 3)
    wide = Clip.from_frames(np.zeros((3, 20, 50, 3), np.uint8), 30.0, 32, "wide.mp4")  # any size, cropped
    assert wide.frames.shape == (3, 32, 32, 3) and list(wide.indices) == [0, 1, 2] and wide.duration_s == 2 / 30
    sparse = Clip(target[:4], 25.0, np.array([0, 10, 20, 30]), "sub.mp4")
    assert list(VideoProjector(tiny_G, sparse, VideoProjectionConfig(num_steps=1, **FAST), "pixel").times) == [
        0.0,
        10.0,
        20.0,
        30.0,
    ]


def test_step_iterator_stops_early_and_is_deterministic(tiny_G):
    _, target = known_clip(tiny_G, frames=20)
    clip = Clip(target, 25.0, np.arange(20), "c")
    cfg = VideoProjectionConfig(num_steps=50, frames_per_step=4, **FAST)
    a = VideoProjector(tiny_G, clip, cfg, image_loss="pixel")
    seen = []
    res = a.run(progress=seen.append, should_stop=lambda: len(seen) >= 3)
    assert len(seen) == 3 and res.provenance["steps"] == 3 and not a.done
    b = VideoProjector(tiny_G, clip, cfg, image_loss="pixel")
    for _ in range(3):
        b.step()
    assert torch.equal(a.w_opt, b.w_opt) and torch.equal(a.u_delta, b.u_delta)


def test_clip_shorter_than_one_anchor_interval_is_one_line(tiny_G):
    _, target = known_clip(tiny_G, frames=10)
    with pytest.raises(SgvError, match="at least one anchor interval") as e:
        VideoProjector(tiny_G, Clip(target, 25.0, np.arange(10), "short.mp4"), image_loss="pixel")
    assert "\n" not in str(e.value) and "short.mp4" in str(e.value)


# ----------------------------------------------------------------------------------------------------
# Reading clips


def write_video(path, n, size=(48, 40), fps=25.0):
    rng = np.random.default_rng(0)
    with VideoWriter(path, fps=fps, size=size) as w:
        for k in range(n):
            frame = np.full((size[1], size[0], 3), (k * 7) % 255, dtype=np.uint8)
            frame[:, : size[0] // 2] = rng.integers(0, 255, 3)
            w.write(frame)
    return path


def test_load_clip_reads_a_part_at_its_times(tmp_path):
    path = write_video(tmp_path / "v.mp4", 30)
    clip = load_clip(path, 32, start_s=0.2, num_frames=12)
    assert clip.frames.shape == (12, 32, 32, 3) and clip.fps == pytest.approx(25.0) and clip.start_s == 0.2
    assert list(clip.indices) == list(range(12)) and clip.notes == ()
    whole = load_clip(path, 32, max_frames=8)  # longer than max_frames: spread over the whole clip, with a note
    assert len(whole.frames) == 8 and whole.indices[0] == 0 and whole.indices[-1] == 29
    assert "fitting 8" in whole.notes[0]
    assert load_clip(path, 32, fps=50.0).times(25.0)[1] == pytest.approx(0.5)  # --fps overrides the file's rate


def _one_line(exc_info, *words):
    msg = str(exc_info.value)
    assert "\n" not in msg and "Traceback" not in msg, msg
    for w in words:
        assert w in msg, msg


def test_bad_videos_are_one_line_each(tmp_path, monkeypatch):
    from engine import media

    with pytest.raises(SgvError) as e:
        load_clip(tmp_path / "missing.mp4", 32)
    _one_line(e, "missing.mp4", "no such file")
    (tmp_path / "empty.mp4").write_bytes(b"")
    with pytest.raises(SgvError) as e:
        load_clip(tmp_path / "empty.mp4", 32)
    _one_line(e, "empty.mp4", "empty")
    (tmp_path / "junk.mp4").write_bytes(b"this is not a video at all" * 100)
    with pytest.raises(SgvError) as e:
        load_clip(tmp_path / "junk.mp4", 32)
    _one_line(e, "junk.mp4")
    audio = tmp_path / "audio.mp4"
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i", "sine=duration=1"]
    subprocess.run([*cmd, "-c:a", "aac", str(audio)], check=True, capture_output=True)
    with pytest.raises(SgvError) as e:
        load_clip(audio, 32)
    _one_line(e, "audio.mp4", "audio-only")
    one = write_video(tmp_path / "one.mp4", 1)
    with pytest.raises(SgvError) as e:
        load_clip(one, 32)
    _one_line(e, "one.mp4", "single frame")
    path = write_video(tmp_path / "v.mp4", 10)
    with pytest.raises(SgvError) as e:
        load_clip(path, 32, start_s=5.0)
    _one_line(e, "past the end")
    real_probe = media.probe_video
    for fake, words in [
        (dict(fps=0.0), ("frame rate", "--fps")),
        (dict(width=9000, height=5000), ("9000x5000",)),
        (dict(duration_s=7200.0), ("120 min", "--frames")),
    ]:
        monkeypatch.setattr(media, "probe_video", lambda p, count_frames=True, f=fake: {**real_probe(p, False), **f})
        with pytest.raises(SgvError) as e:
            load_clip(path, 32)
        _one_line(e, "v.mp4", *words)
    monkeypatch.setattr(media, "probe_video", real_probe)
    assert load_clip(path, 32, fps=10.0).fps == 10.0


# ----------------------------------------------------------------------------------------------------
# Photo animation


def test_projected_photo_keeps_its_look_when_animated(tiny_G):
    """The photo projector now also matches the photo under other motions and times and keeps W+ near W: played
    over t in [0, 100] with other motions, its frames stay closer to the photo than upstream-style projection's
    (one t, fixed motion), its W+ rows stay together, and it moves like the model's own samples: frame-to-frame
    change and colour drift within 0.5-2x of theirs. Measured here: distance 0.104 vs 0.189, row spread 4.6 vs
    11.3, change/drift 0.56x/0.56x (upstream-style 1.09x/1.18x: this random net does not smear a photo; the bundled
    model does, 2.3x, and the fix brings it into the band, see bench/video_projection.py)."""
    img = photo()
    runs = {}
    for name, extra in [("upstream", dict(motions_per_step=0, w_prior_lambda=0.0)), ("default", {})]:
        cfg = ProjectionConfig(num_steps=100, w_avg_samples=500, **extra)
        p = Projector(tiny_G, img, motion=0, config=cfg, image_loss="pixel")
        for _ in p:
            pass
        runs[name] = p
    target = runs["default"].target
    later = []
    for p in runs.values():
        ws = p.result().ws
        ds = []
        for s in (11, 12, 13):
            frames = render_times(tiny_G, p.result().replace(motion=MotionCodes(seed=s)), [30.0, 60.0, 90.0])
            x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 127.5 - 1
            ds.append(float((x - target).square().mean()))
        spread = float((ws - ws.mean(0)).norm())
        later.append((np.mean(ds), spread))
    (d_up, spread_up), (d_new, spread_new) = later
    assert d_new < 0.9 * d_up, later
    assert spread_new < 0.5 * spread_up, later
    ref = model_motion_stats(tiny_G, num_contents=4, motion_seeds=[0, 1])
    change, drift = motion_stats(tiny_G, [runs["default"].result().ws], [0, 1]).ratio(ref)
    assert 0.5 <= change <= 2.0 and 0.5 <= drift <= 2.0, (change, drift)
