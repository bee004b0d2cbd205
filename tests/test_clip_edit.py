"""CLIP editing with a tiny RANDOM open_clip model the test builds, saves and loads through load_clip."""

import json
import warnings

import numpy as np
import pytest
import torch
from edit_helpers import TINY_CLIP, one_thread, tiny_clip_files  # noqa: F401  (one_thread: autouse fixture)
from open_clip.model import CLIP

from engine.edit.clip_edit import ClipEditor, EditConfig
from engine.edit.clip_model import ClipError, load_clip
from engine.edit.directions import Direction
from engine.edit.losses import PixelPyramidLoss
from engine.errors import SgvError
from engine.latents import from_seed
from engine.weights import WeightsMissing


@pytest.fixture(scope="module")
def clip_files(tmp_path_factory):
    return tiny_clip_files(tmp_path_factory.mktemp("clip"))


@pytest.fixture(scope="module")
def clip(clip_files):
    cfg, ckpt, _ = clip_files
    return load_clip(str(cfg), str(ckpt))


def test_loads_the_saved_weights(clip, clip_files):
    _, _, model = clip_files
    for k, v in model.state_dict().items():
        assert torch.equal(clip.model.state_dict()[k], v), k
    assert clip.image_size == 32 and clip.name == "tiny-clip"
    assert not any(p.requires_grad for p in clip.model.parameters())


def test_preprocessing_is_clip_normalisation(clip):
    x = torch.full((1, 3, 64, 64), 0.5)  # generator range [-1, 1]: 0.5 → 0.75 in [0, 1]
    y = clip.preprocess(x)
    assert y.shape == (1, 3, 32, 32)
    expected = (0.75 - torch.tensor(clip.mean)) / torch.tensor(clip.std)
    assert torch.allclose(y[0, :, 5, 5], expected, atol=1e-5)
    assert clip.mean == pytest.approx((0.48145466, 0.4578275, 0.40821073))
    feats = clip.encode_image(torch.rand(2, 3, 16, 16) * 2 - 1)
    assert feats.shape == (2, 16) and torch.allclose(feats.norm(dim=-1), torch.ones(2), atol=1e-5)


def test_edit_lowers_clip_loss_within_the_bound_and_keeps_motion(tiny_G, clip):
    start = from_seed(tiny_G, 3, motion=5)
    cfg = EditConfig(num_steps=30, l2_lambda=0.0, max_distance=4.0, seed=0, preview_every=10)
    ed = ClipEditor(tiny_G, start, "a red square", clip, cfg)
    before = ed.clip_score()
    states = list(ed)
    after = ed.clip_score()
    assert after < before - 0.02, (before, after)
    assert all(s.terms["distance"] <= 4.0 + 1e-4 for s in states)
    assert max(s.terms["distance"] for s in states) > 3.0  # the bound is what held it, not a stuck optimiser
    assert [s.preview is not None for s in states].count(True) == 3 and states[-1].preview.shape == (32, 32, 3)
    edited = ed.result()
    assert edited.motion is start.motion and edited.motion.same_motion(from_seed(tiny_G, 3, motion=5).motion)
    assert edited.provenance["prompt"] == "a red square" and edited.provenance["parent"]["seed"] == 3
    assert float((edited.ws - start.ws).norm()) <= 4.0 + 1e-4
    d = Direction.between(start, edited)
    assert torch.allclose(d.apply(start, 1.0).ws, edited.ws, atol=1e-6)


def test_l2_term_pulls_towards_the_start(tiny_G, clip):
    start = from_seed(tiny_G, 1, motion=2)
    dist = {}
    for lam in (0.0, 1.0):
        ed = ClipEditor(tiny_G, start, "sky", clip, EditConfig(num_steps=15, l2_lambda=lam, preview_every=0))
        ed.run()
        dist[lam] = ed.distance()
    assert dist[1.0] < 0.5 * dist[0.0], dist


def test_masked_term_and_bad_inputs(tiny_G, clip):
    start = from_seed(tiny_G, 0)
    cfg = EditConfig(num_steps=2, mask_lambda=1.0, preview_every=0)
    ed = ClipEditor(tiny_G, start, "x", clip, cfg, mask=np.ones((32, 32)), image_loss=PixelPyramidLoss())
    assert "mask" in ed.step().terms
    with pytest.raises(SgvError, match="mask must be"):
        ClipEditor(tiny_G, start, "x", clip, cfg, mask=np.ones((8, 8)), image_loss=PixelPyramidLoss())
    with pytest.raises(SgvError, match="needs both a mask"):
        ClipEditor(tiny_G, start, "x", clip, cfg)
    with pytest.raises(SgvError, match="prompt is empty"):
        ClipEditor(tiny_G, start, "  ", clip)


def test_loading_errors_are_one_line(clip_files, tmp_path, monkeypatch):
    cfg, ckpt, _ = clip_files
    monkeypatch.setenv("SGV_WEIGHTS_DIR", str(tmp_path / "empty"))
    with pytest.raises(WeightsMissing, match="sgv weights fetch clip-vit-b-32-openai"):
        load_clip("ViT-B-32", "openai")
    with pytest.raises(ClipError, match="not in the weights registry"):
        load_clip("ViT-B-32", "laion2b_s34b_b79k")
    with pytest.raises(WeightsMissing, match="no such CLIP checkpoint"):
        load_clip(str(cfg), str(tmp_path / "nope.pt"))
    with pytest.raises(ClipError, match="unknown CLIP model"):
        load_clip("ViT-Q-99", str(ckpt))
    other = dict(TINY_CLIP, embed_dim=8)
    (tmp_path / "other.json").write_text(json.dumps(other))
    with pytest.raises(ClipError, match="does not fit CLIP model 'other'"):
        load_clip(str(tmp_path / "other.json"), str(ckpt))
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ClipError, match="bad.json: not a readable open_clip model config"):
        load_clip(str(tmp_path / "bad.json"), str(ckpt))
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(ClipError, match="junk.pt: not a readable CLIP checkpoint"):
        load_clip(str(cfg), str(tmp_path / "junk.pt"))


def test_openai_style_torchscript_archive(clip_files, tmp_path):
    """OpenAI ships CLIP as a TorchScript archive; its tensors are read without unpickling Python objects and
    QuickGELU is switched on, as OpenAI trained with it."""
    cfg, _, model = clip_files
    model = CLIP(**TINY_CLIP, quick_gelu=True).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(
            model, (torch.zeros(1, 3, 32, 32), torch.zeros(1, 77, dtype=torch.long)), check_trace=False
        )
    traced.save(str(tmp_path / "ViT-tiny.pt"))
    loaded = load_clip(str(cfg), str(tmp_path / "ViT-tiny.pt"))
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(loaded.model.encode_image(x), model.encode_image(x), atol=1e-5)
