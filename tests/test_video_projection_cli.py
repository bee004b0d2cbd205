"""`sgv project --clip` and `sgv generate --latents` end to end on a tiny model (in-process `main`)."""

import subprocess

import imageio_ffmpeg
import numpy as np
import pytest
from edit_helpers import empty_weights_cache, one_thread, sgv  # noqa: F401  (autouse fixtures)

import engine
from engine.edit.video_projection import render_times, write_video_frames
from engine.latents import from_seed, load_latents
from engine.media import probe_video, read_video


@pytest.fixture(scope="module")
def clip_file(tmp_path_factory, tiny_model_file):
    """40 frames the tiny model renders from content seed 5, motion seed 3, as a 25 fps mp4."""
    G = engine.load_generator(tiny_model_file)
    frames = render_times(G, from_seed(G, 5, motion=3), np.arange(40.0))
    return write_video_frames(tmp_path_factory.mktemp("clip") / "clip.mp4", frames, 25.0)


def test_project_clip_writes_latents_reconstruction_and_continuation(tiny_model_file, clip_file, tmp_path, capsys):
    out = tmp_path / "out" / "c"
    rc, err = sgv(
        capsys, "project", "--ckpt", tiny_model_file, "--clip", clip_file, "--start", "0.2", "--frames", "32",
        "--out", out, "--steps", "20", "--continue", "1", "--quiet", "--device", "cpu",
    )  # fmt: skip
    assert rc == 0, err
    assert "LPIPS unavailable" in err and "pixel" in err  # the labelled fallback, said once
    assert err.count("LPIPS unavailable") == 1
    lat = load_latents(out.with_suffix(".npz"))
    prov = lat.provenance
    assert prov["source"] == "video-projection" and prov["clip_start_s"] == 0.2 and prov["clip_frames"] == 32
    assert (prov["t_start"], prov["t_end"]) == (0.0, 31.0) and prov["steps"] == 20
    assert sorted(lat.motion.overrides) == list(range(prov["fitted_anchors"][0], prov["fitted_anchors"][1] + 1))
    recon = probe_video(out.with_suffix(".mp4"))
    assert recon["frames"] == 32 and recon["width"] == 66 and recon["height"] == 32  # target | fit
    cont = probe_video(tmp_path / "out" / "c-continued.mp4")
    assert cont["frames"] == 32 + 25 and cont["fps"] == pytest.approx(25.0)
    # Rendered again from the file: the fit half of the reconstruction.
    again = tmp_path / "again.mp4"
    rc, err = sgv(capsys, "generate", "--ckpt", tiny_model_file, "--latents", out.with_suffix(".npz"), "--out", again,
                  "--frames", "32", "--quiet", "--device", "cpu")  # fmt: skip
    assert rc == 0, err
    a, _ = read_video(again)
    b, _ = read_video(out.with_suffix(".mp4"))
    assert a.shape == (32, 32, 32, 3)
    assert np.abs(a.astype(float) - b[:, :, 34:].astype(float)).mean() < 4.0  # equal up to the codec


def test_generate_latents_of_a_seed_equals_seed(tiny_model_file, tmp_path, capsys):
    from engine.latents import save_latents

    G = engine.load_generator(tiny_model_file)
    save_latents(tmp_path / "s.npz", from_seed(G, 4, motion=2))
    for name, extra in [("lat.mp4", ["--latents", tmp_path / "s.npz"]), ("seed.mp4", ["--seeds", 4])]:
        rc, err = sgv(capsys, "generate", "--ckpt", tiny_model_file, *extra, "--motion-seed", 2, "--frames", 8,
                      "--out", tmp_path / name, "--quiet", "--device", "cpu")  # fmt: skip
        assert rc == 0, err
    assert np.array_equal(read_video(tmp_path / "lat.mp4")[0], read_video(tmp_path / "seed.mp4")[0])
    rc, err = sgv(capsys, "generate", "--ckpt", tiny_model_file, "--latents", tmp_path / "nope.npz",
                  "--out", tmp_path / "x.mp4", "--quiet")  # fmt: skip
    assert rc == 2 and err.strip().splitlines()[-1] == f"sgv: {tmp_path / 'nope.npz'}: no such latents file"


def test_bad_clips_are_one_line(tiny_model_file, clip_file, tmp_path, capsys):
    audio = tmp_path / "audio.m4a"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i", "sine=duration=1", str(audio)],
        check=True,
        capture_output=True,
    )
    (tmp_path / "empty.mp4").write_bytes(b"")
    cases = [
        (["--clip", tmp_path / "empty.mp4"], "empty"),
        (["--clip", audio], "audio-only"),
        (["--clip", clip_file, "--frames", "5"], "at least one anchor interval"),
        (["--clip", clip_file, "--start", "9"], "past the end"),
        (["--clip", clip_file, "--fps", "-3"], "--fps"),
        (["--image", clip_file, "--continue", "2"], "go with --clip"),
    ]
    for extra, words in cases:
        rc, err = sgv(capsys, "project", "--ckpt", tiny_model_file, *extra, "--out", tmp_path / "o", "--loss",
                      "pixel", "--quiet", "--device", "cpu")  # fmt: skip
        lines = [ln for ln in err.strip().splitlines() if not ln.startswith("sgv: note:")]
        assert rc == 2 and len(lines) == 1 and words in lines[0] and "Traceback" not in err, (extra, err)
    assert not (tmp_path / "o.npz").exists()
