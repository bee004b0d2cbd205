"""`sgv project` and `sgv edit` end to end on tiny models (in-process `main`, one subprocess for --help)."""

import subprocess
import sys

import numpy as np
import pytest
import torch
from edit_helpers import (  # noqa: F401  (empty_weights_cache, one_thread: autouse fixtures)
    empty_weights_cache,
    one_thread,
    random_vgg_file,
    sgv,
    tiny_clip_files,
)
from PIL import Image

import engine
from engine.cli import main
from engine.edit.projection import Projector
from engine.latents import load_latents
from engine.media import probe_video, read_image


@pytest.fixture(scope="module")
def photo_rgba(tmp_path_factory):
    """A 'photograph': 90×60 RGBA with gradients and shapes (not square, not the model's size, has alpha)."""
    yy, xx = np.mgrid[0:60, 0:90].astype(np.float32)
    rgb = np.stack([xx / 90 * 255, yy / 60 * 255, np.full_like(xx, 90)], axis=2)
    rgb[(xx - 50) ** 2 + (yy - 25) ** 2 < 200] = (255, 240, 20)
    alpha = np.where(xx < 8, 0, 255)
    path = tmp_path_factory.mktemp("img") / "photo.png"
    Image.fromarray(np.dstack([rgb, alpha]).astype(np.uint8), "RGBA").save(path)
    return path


@pytest.fixture(scope="module")
def clip_files(tmp_path_factory):
    cfg, ckpt, _ = tiny_clip_files(tmp_path_factory.mktemp("clip"))
    return cfg, ckpt


def project(capsys, model, image, out, *args):
    """`sgv project --ckpt MODEL --image IMAGE --out OUT --quiet ARGS...`: (exit code, stderr)."""
    return sgv(capsys, "project", "--ckpt", model, "--image", image, "--out", out, "--quiet", *args)


def edit(capsys, model, out, *args):
    """`sgv edit --ckpt MODEL --out OUT --quiet ARGS...`: (exit code, stderr)."""
    return sgv(capsys, "edit", "--ckpt", model, "--out", out, "--quiet", *args)


def test_project_writes_latents_images_and_video(tiny_model_file, photo_rgba, tmp_path, capsys):
    out = tmp_path / "out" / "p"
    rc, err = project(capsys, tiny_model_file, photo_rgba, out, "--steps", 30, "--video", "--duration", 1)
    assert rc == 0, err
    assert "LPIPS unavailable" in err and "sgv weights fetch vgg16" in err and "pixel (fallback" in err
    assert "PSNR" in err
    G = engine.load_generator(tiny_model_file, device="cpu")
    lat = load_latents(out.with_suffix(".npz"), G)
    assert lat.provenance["loss"] == "pixel" and lat.provenance["steps"] == 30 and lat.motion.seed == 0
    assert read_image(out.with_suffix(".png")).shape == (32, 32, 3)
    assert read_image(tmp_path / "out" / "p-target.png").shape == (32, 32, 3)
    info = probe_video(out.with_suffix(".mp4"))
    assert info["frames"] == 25 and info["width"] == 32
    # the video's first frame is the reconstruction (same codes, same motion, t = 0)
    first = engine.Video(G, content=lat.ws_batch(), motion=lat.motion).frames_uint8([0.0])[0]
    assert np.array_equal(first, read_image(out.with_suffix(".png")))


def test_project_lpips_explicit(tiny_model_file, photo_rgba, tmp_path, capsys):
    rc, err = project(capsys, tiny_model_file, photo_rgba, tmp_path / "q", "--loss", "lpips", "--steps", 2)
    assert rc == 2 and err.count("\n") == 1 and "sgv weights fetch vgg16" in err
    vgg = random_vgg_file(tmp_path / "vgg.pth")
    rc, err = project(
        capsys, tiny_model_file, photo_rgba, tmp_path / "q", "--vgg16", vgg, "--steps", 3, "--motion-seed", 4
    )
    assert rc == 0, err
    lat = load_latents(tmp_path / "q.npz")
    assert lat.provenance["loss"] == "lpips" and lat.motion.seed == 4


def test_project_bad_inputs_are_one_line(tiny_model_file, tmp_path, capsys):
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    Image.new("RGB", (1, 1)).save(tmp_path / "dot.png")
    for image in (tmp_path / "bad.jpg", tmp_path / "dot.png", tmp_path / "none.png"):
        rc, err = project(capsys, tiny_model_file, image, tmp_path / "x", "--steps", 2, "--loss", "pixel")
        assert rc == 2 and err.startswith(f"sgv: {image}") and err.count("\n") == 1, err
    assert not (tmp_path / "x.npz").exists()


def test_project_ctrl_c_keeps_the_best_so_far(tiny_model_file, photo_rgba, tmp_path, capsys, monkeypatch):
    real_step = Projector.step

    def step(self):
        if self.step_index == 3:
            raise KeyboardInterrupt
        return real_step(self)

    monkeypatch.setattr(Projector, "step", step)
    rc, err = project(capsys, tiny_model_file, photo_rgba, tmp_path / "c", "--steps", 50, "--loss", "pixel", "--video")
    assert rc == 130 and "stopped early after 3/50" in err
    assert load_latents(tmp_path / "c.npz").provenance["steps"] == 3
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["c-target.png", "c.npz", "c.png"]


def test_edit_prompt_direction_and_errors(tiny_model_file, clip_files, tmp_path, capsys):
    cfg, ckpt = clip_files
    G = engine.load_generator(tiny_model_file, device="cpu")
    rc, err = edit(
        capsys, tiny_model_file, tmp_path / "e", "--seed", 3, "--motion-seed", 6, "--prompt", "a red cat",
        "--steps", 12, "--max-dist", 3, "--clip-model", cfg, "--clip-pretrained", ckpt,
        "--save-direction", tmp_path / "d.npz", "--video", tmp_path / "e-video.mp4", "--duration", 0.5,
    )  # fmt: skip
    assert rc == 0, err
    assert "CLIP loss" in err
    edited = load_latents(tmp_path / "e.npz", G)
    assert edited.motion.seed == 6 and not edited.motion.overrides  # motion unchanged
    start = engine.latents.from_seed(G, 3)
    assert 0 < float((edited.ws - start.ws).norm()) <= 3 + 1e-4
    assert read_image(tmp_path / "e.png").shape == (32, 66, 3)  # before | after
    assert probe_video(tmp_path / "e-video.mp4")["frames"] == 12

    rc, err = edit(
        capsys, tiny_model_file, tmp_path / "back", "--latents", tmp_path / "e.npz", "--direction", tmp_path / "d.npz",
        "--strength", -1,
    )  # fmt: skip
    assert rc == 0, err
    back = load_latents(tmp_path / "back.npz")
    assert torch.allclose(back.ws, start.ws, atol=1e-5) and back.motion.seed == 6

    other = tmp_path / "other.safetensors"
    engine.save_generator(engine.build_generator("tiny", seed=9), other)
    rc, err = edit(capsys, other, tmp_path / "o", "--latents", tmp_path / "e.npz", "--direction", tmp_path / "d.npz")
    assert rc == 0 and "warning:" in err and "results will differ" in err

    for args, message in [
        (["--seed", 1], "give --prompt"),
        (["--latents", tmp_path / "none.npz", "--prompt", "x"], "no such latents file"),
        (
            ["--seed", 1, "--prompt", "x", "--clip-pretrained", tmp_path / "none.pt", "--clip-model", cfg],
            "no such CLIP checkpoint",
        ),
        (["--seed", 1, "--prompt", "x"], "sgv weights fetch clip-vit-b-32-openai"),
    ]:
        rc, err = edit(capsys, tiny_model_file, tmp_path / "z", *args)
        assert rc == 2 and message in err and err.count("\n") == 1, err


def test_help_texts(capsys):
    for cmd in ("project", "edit", "weights"):
        with pytest.raises(SystemExit) as done:
            main([cmd, "--help"])
        assert done.value.code == 0 and "examples:" in capsys.readouterr().out


def test_installed_command_runs():
    res = subprocess.run([sys.executable, "-m", "engine.cli", "project", "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "--motion-seed" in res.stdout
