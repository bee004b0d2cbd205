"""Projection: a known frame is recovered, any image runs, bad images give one line, LPIPS loads from files."""

import numpy as np
import pytest
import torch
from edit_helpers import one_thread, photo, random_vgg_file  # noqa: F401  (one_thread: autouse fixture)
from PIL import Image

from engine.edit import losses
from engine.edit.images import as_rgb8, fit_square, psnr
from engine.edit.projection import ProjectionConfig, Projector
from engine.edit.schedule import learning_rate
from engine.errors import SgvError
from engine.latents import from_seed
from engine.media import MediaError, tensor_to_uint8
from engine.weights import WeightsError, WeightsMissing

FAST = dict(w_avg_samples=500)


def known_frame(G, seed=5, motion=3):
    lat = from_seed(G, seed, motion=motion)
    with torch.no_grad():
        x = G.synthesis(lat.ws_batch(), G.motion([lat.motion], [0.0]))[0, 0]
    return lat, tensor_to_uint8(x)


def test_learning_rate_schedule():
    assert learning_rate(0.0, 0.1) == 0.0
    assert learning_rate(0.05, 0.1) == pytest.approx(0.1)
    assert learning_rate(0.5, 0.1) == pytest.approx(0.1)
    assert learning_rate(0.875, 0.1) == pytest.approx(0.05)
    assert learning_rate(1.0, 0.1) == pytest.approx(0.0)


def test_projection_recovers_a_rendered_frame(tiny_G):
    """A frame the model rendered at t = 0 from a known latent: loss falls, PSNR >= 22 dB in 150 pixel-loss steps."""
    lat, target = known_frame(tiny_G)
    p = Projector(tiny_G, target, motion=lat.motion, config=ProjectionConfig(num_steps=150), image_loss="pixel")
    states = list(p)
    assert len(states) == 150 and states[-1].done and states[-1].progress == 1.0
    assert states[0].preview.shape == (32, 32, 3) and states[0].preview.dtype == np.uint8
    assert p.best_loss < 0.1 * p.losses[0]
    assert np.mean(p.losses[-10:]) < np.mean(p.losses[:10])
    result = p.result()
    assert result.motion.same_motion(lat.motion) and result.ws.shape == lat.ws.shape
    assert result.provenance["source"] == "projection" and result.provenance["loss"] == "pixel"
    assert p.psnr() >= 22.0, p.psnr()
    assert result.provenance["psnr_db"] == pytest.approx(p.psnr(), abs=1e-3)


def test_projection_is_deterministic_and_cancellable(tiny_G):
    img = photo()
    cfg = ProjectionConfig(num_steps=20, **FAST)
    a = Projector(tiny_G, img, config=cfg, image_loss="pixel")
    calls = []
    res = a.run(progress=calls.append, should_stop=lambda: len(calls) >= 4)
    assert len(calls) == 4 and res.provenance["steps"] == 4 and not a.done
    b = Projector(tiny_G, img, config=cfg, image_loss="pixel")
    for _ in range(4):
        b.step()
    assert torch.equal(a.result().ws, b.result().ws)
    one = Projector(tiny_G, img, config=ProjectionConfig(num_steps=1, **FAST), image_loss="pixel")
    one.run()
    with pytest.raises(RuntimeError, match="already finished"):
        one.step()


@pytest.mark.parametrize(
    "variant",
    ["rgb.png", "rgba.png", "grey.png", "grey16.png", "rgb.jpg", "rgb.webp", "cmyk.jpg", "palette.gif", "la.png"],
)
def test_any_image_file_projects(tmp_path, tiny_G, variant):
    rgb = photo()
    im = Image.fromarray(rgb)
    path = tmp_path / variant
    stem = variant.split(".")[0]
    if stem == "rgba":
        im = Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 180, np.uint8)]), "RGBA")
    elif stem == "grey":
        im = im.convert("L")
    elif stem == "grey16":
        im = Image.fromarray(np.asarray(im.convert("L")).astype(np.uint16) * 257)
    elif stem == "cmyk":
        im = im.convert("CMYK")
    elif stem == "palette":
        im = im.convert("P")
    elif stem == "la":
        im = im.convert("LA")
    im.save(path)
    p = Projector(tiny_G, path, config=ProjectionConfig(num_steps=2, **FAST), image_loss="pixel")
    assert p.target_uint8.shape == (32, 32, 3)
    p.step()
    assert p.result().provenance["image"] == str(path)


def test_arrays_fits_and_psnr():
    rgb = photo(90, 30)
    crop, pad = fit_square(rgb, 32, "crop"), fit_square(rgb, 32, "pad")
    assert crop.shape == pad.shape == (32, 32, 3)
    assert pad[0, 0].sum() == 0 and crop[0, 0].sum() > 0  # pad fills with black above and below
    assert np.array_equal(as_rgb8(rgb[..., 0]), np.repeat(rgb[..., :1], 3, axis=2))  # grey array
    assert np.array_equal(as_rgb8(rgb.astype(np.uint16) * 257), rgb)  # 16-bit array
    assert psnr(crop, crop) == float("inf") and 0 < psnr(crop, pad) < 100
    with pytest.raises(SgvError, match="uint8 or uint16"):
        as_rgb8(rgb.astype(np.float32))
    with pytest.raises(SgvError, match="at least 2 px"):
        as_rgb8(np.zeros((1, 1, 3), np.uint8))


def test_bad_images_are_handled_or_one_line(tmp_path, tiny_G):
    cfg = ProjectionConfig(num_steps=1, **FAST)
    (tmp_path / "junk.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"junk" * 50)
    (tmp_path / "empty.jpg").write_bytes(b"")
    (tmp_path / "text.webp").write_text("hello")
    Image.new("RGB", (1, 1)).save(tmp_path / "one.png")
    for name in ["junk.png", "empty.jpg", "text.webp", "one.png", "missing.png"]:
        with pytest.raises(MediaError) as err:
            Projector(tiny_G, tmp_path / name, config=cfg, image_loss="pixel")
        assert str(err.value).startswith(str(tmp_path / name)) and "\n" not in str(err.value)
    huge = tmp_path / "huge.png"
    Image.new("L", (10000, 10000), 90).save(huge)  # 10^8 pixels: read, then shrunk to the model's size
    with pytest.warns(Image.DecompressionBombWarning):
        p = Projector(tiny_G, huge, config=cfg, image_loss="pixel")
    assert p.target_uint8.shape == (32, 32, 3) and np.all(p.target_uint8 == 90)


@pytest.fixture(scope="module")
def vgg_file(tmp_path_factory):
    return random_vgg_file(tmp_path_factory.mktemp("vgg") / "vgg16-random.pth")


def test_lpips_loads_from_files_and_projection_uses_it(tiny_G, vgg_file, tmp_path):
    loss = losses.load_lpips("cpu", vgg_path=vgg_file)
    assert loss.kind == "lpips"
    assert torch.equal(loss.net.net.slice1[0].weight, torch.load(vgg_file)["features.0.weight"])
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    d = loss(x, x.flip(0))
    assert d.shape == (2,) and torch.all(d > 0) and torch.allclose(loss(x, x), torch.zeros(2), atol=1e-6)
    lat, target = known_frame(tiny_G)
    p = Projector(tiny_G, target, motion=lat.motion, config=ProjectionConfig(num_steps=12, **FAST), image_loss=loss)
    list(p)
    assert p.result().provenance["loss"] == "lpips" and min(p.losses[-3:]) < p.losses[0]
    # damaged or foreign files: one line naming the file
    lin = tmp_path / "lin.pth"
    torch.save({"lin0.model.1.weight": torch.zeros(1, 64, 1, 1)}, lin)
    with pytest.raises(WeightsError, match="lin.pth: not LPIPS VGG linear layers"):
        losses.load_lpips("cpu", lin_path=lin, vgg_path=vgg_file)
    wrong = tmp_path / "wrong.pth"
    torch.save({"features.0.weight": torch.zeros(3)}, wrong)
    with pytest.raises(WeightsError, match="wrong.pth: not VGG16 weights"):
        losses.load_lpips("cpu", vgg_path=wrong)


def test_missing_lpips_weights_fall_back_with_a_label(tmp_path, monkeypatch):
    monkeypatch.setenv("SGV_WEIGHTS_DIR", str(tmp_path / "empty-cache"))
    with pytest.raises(WeightsMissing, match="sgv weights fetch vgg16"):
        losses.make_image_loss("lpips")
    fallback = losses.make_image_loss("auto")
    assert fallback.kind == "pixel" and "not LPIPS" in fallback.label and "vgg16" in fallback.fallback_reason
    assert losses.make_image_loss("pixel").fallback_reason is None
