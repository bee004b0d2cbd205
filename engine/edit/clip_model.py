"""CLIP through open_clip, loaded only from local files, with CLIP's own input preprocessing.

`load_clip(model, pretrained)`:
- `model`: an open_clip built-in architecture name ("ViT-B-32") or a path to an open_clip model config
  `.json` ({"embed_dim", "vision_cfg", "text_cfg"[, "quick_gelu", "preprocess_cfg"]});
- `pretrained`: a tag that engine.weights knows ("openai" for ViT-B-32 → the `clip-vit-b-32-openai` entry),
  or a checkpoint path (OpenAI TorchScript archive, open_clip state dict `.pt`/`.bin`, or `.safetensors`).
open_clip itself never downloads (its cache and Hugging Face are bypassed): a missing file is a
WeightsMissing naming the file and `sgv weights fetch`.

Preprocessing (upstream's clip_edit skipped the normalisation): generator frames in [-1, 1] → [0, 1] →
bicubic resize of the (square) frame to the model's input size (antialiased when shrinking, as PIL is) →
(x − mean) / std with the model's CLIP mean/std. All differentiable, so gradients reach the codes.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from engine import weights
from engine.errors import SgvError
from engine.extras import require

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)

# (open_clip model name, pretrained tag) → engine.weights entry
KNOWN_TAGS = {("ViT-B-32", "openai"): "clip-vit-b-32-openai"}


class ClipError(SgvError):
    """A CLIP model or checkpoint that cannot be used."""


@dataclass(eq=False)
class ClipModel:
    model: torch.nn.Module  # open_clip CLIP, eval mode, frozen
    tokenizer: object
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    name: str
    pretrained: str

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def preprocess(self, x: torch.Tensor) -> torch.Tensor:
        """Generator frames [N, 3, H, W] in [-1, 1] → CLIP input [N, 3, S, S] (differentiable)."""
        x = (x.float() + 1.0) * 0.5
        h, w = x.shape[-2:]
        if h != w:  # CLIP's transform: resize the short side, centre crop
            side = min(h, w)
            top, left = (h - side) // 2, (w - side) // 2
            x = x[..., top : top + side, left : left + side]
        if x.shape[-1] != self.image_size:
            size = (self.image_size, self.image_size)
            x = F.interpolate(x, size=size, mode="bicubic", align_corners=False, antialias=x.shape[-1] > size[0])
        mean = torch.tensor(self.mean, device=x.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=x.device).view(1, 3, 1, 1)
        return (x - mean) / std

    def encode_image(self, x: torch.Tensor) -> torch.Tensor:
        """[N, 3, H, W] frames in [-1, 1] → unit-length embeddings [N, E]."""
        return F.normalize(self.model.encode_image(self.preprocess(x)).float(), dim=-1)

    @torch.no_grad()
    def encode_text(self, prompts: list[str] | str) -> torch.Tensor:
        """Unit-length text embeddings [P, E]."""
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        tokens = self.tokenizer(prompts).to(self.device)
        return F.normalize(self.model.encode_text(tokens).float(), dim=-1)

    def loss(self, x: torch.Tensor, text_features: torch.Tensor) -> torch.Tensor:
        """1 − cosine similarity between each frame and the (first) prompt: [N]. Upstream's 1 − logits/100."""
        return 1.0 - (self.encode_image(x) @ text_features[0].to(x.device)).reshape(-1)


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            sd = load_file(str(path), device="cpu")
        elif weights._is_torchscript(path):
            sd = dict(weights._jit_load(path, "cpu").state_dict())
        else:
            sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch/safetensors raise many types for damaged files
        raise ClipError(f"{path}: not a readable CLIP checkpoint ({type(err).__name__})") from None
    if isinstance(sd, dict) and isinstance(sd.get("state_dict"), dict):
        sd = sd["state_dict"]
    if not isinstance(sd, dict) or not sd:
        raise ClipError(f"{path}: CLIP checkpoint holds no state dict")
    sd = {(k[7:] if k.startswith("module.") else k): v for k, v in sd.items()}
    for key in ("input_resolution", "context_length", "vocab_size"):  # OpenAI archives keep these as tensors
        sd.pop(key, None)
    return sd


def _model_config(model: str) -> tuple[dict, str]:
    open_clip = require("open_clip", "CLIP editing")

    if model.endswith(".json"):
        path = Path(model)
        try:
            cfg = json.loads(path.read_text())
        except FileNotFoundError:
            raise ClipError(f"{path}: no such CLIP model config") from None
        except (OSError, json.JSONDecodeError) as e:
            raise ClipError(f"{path}: not a readable open_clip model config ({e})") from None
        if not isinstance(cfg, dict) or not {"embed_dim", "vision_cfg", "text_cfg"} <= set(cfg):
            raise ClipError(f"{path}: an open_clip model config needs embed_dim, vision_cfg and text_cfg")
        return cfg, path.stem
    cfg = open_clip.get_model_config(model.replace("/", "-"))
    if cfg is None:
        raise ClipError(f"unknown CLIP model '{model}' (an open_clip name such as ViT-B-32, or a config .json)")
    return cfg, model.replace("/", "-")


def load_clip(
    model: str = "ViT-B-32", pretrained: str | os.PathLike = "openai", device: torch.device | str = "cpu"
) -> ClipModel:
    open_clip = require("open_clip", "CLIP editing")
    from open_clip.model import CLIP

    cfg, name = _model_config(str(model))
    pretrained = str(pretrained)
    tag_cfg: dict = {}
    known = KNOWN_TAGS.get((name, pretrained))
    if known is not None:
        path = weights.resolve(known)
        tag_cfg = open_clip.get_pretrained_cfg(name, pretrained) or {}
    elif Path(pretrained).expanduser().is_file():
        path = Path(pretrained).expanduser()
    elif os.sep in pretrained or pretrained.endswith((".pt", ".pth", ".bin", ".safetensors")):
        raise weights.WeightsMissing(f"{pretrained}: no such CLIP checkpoint")
    else:
        known_tags = ", ".join(f"{m}/{t}" for m, t in KNOWN_TAGS)
        raise ClipError(
            f"CLIP weights '{name}/{pretrained}' are not in the weights registry (known: {known_tags}); "
            "download the checkpoint and pass its path as the pretrained value"
        )
    cfg = dict(cfg)
    pre = dict(cfg.pop("preprocess_cfg", {}) or {})
    if (
        cfg.get("custom_text")
        or "hf_model_name" in cfg.get("text_cfg", {})
        or "timm_model_name" in cfg.get("vision_cfg", {})
    ):
        raise ClipError(f"CLIP model '{name}': only plain CLIP towers (no timm / Hugging Face towers) are supported")
    # OpenAI's checkpoints were trained with QuickGELU; open_clip's config names leave it off by default.
    quick_gelu = bool(cfg.pop("quick_gelu", False) or tag_cfg.get("quick_gelu") or weights._is_torchscript(path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clip = CLIP(**cfg, quick_gelu=quick_gelu)
    sd = _read_state_dict(path)
    if "logit_scale" in sd and sd["logit_scale"].ndim != clip.logit_scale.ndim:
        sd["logit_scale"] = sd["logit_scale"].reshape(clip.logit_scale.shape)
    expected = clip.state_dict()
    missing = [k for k in expected if k not in sd]
    wrong = [k for k in expected if k in sd and tuple(sd[k].shape) != tuple(expected[k].shape)]
    if missing or wrong:
        what = f"missing {missing[0]}" if missing else f"{wrong[0]} has shape {list(sd[wrong[0]].shape)}"
        raise ClipError(f"{path}: does not fit CLIP model '{name}' ({what})")
    clip.load_state_dict({k: sd[k].float() for k in expected}, strict=True)
    clip = clip.to(device).eval().requires_grad_(False)

    text_cfg = cfg["text_cfg"]
    context_length = int(text_cfg.get("context_length", 77))
    vocab = int(text_cfg.get("vocab_size", 49408))
    if vocab != 49408:
        raise ClipError(f"CLIP model '{name}': vocab_size {vocab}; only CLIP's BPE tokenizer (49408) is supported")
    tokenizer = open_clip.tokenizer.SimpleTokenizer(context_length=context_length)
    size = cfg["vision_cfg"].get("image_size", 224)
    size = size[0] if isinstance(size, (list, tuple)) else int(size)
    mean = tuple(pre.get("mean", tag_cfg.get("mean", OPENAI_MEAN)))
    std = tuple(pre.get("std", tag_cfg.get("std", OPENAI_STD)))
    return ClipModel(clip, tokenizer, size, mean, std, name, str(pretrained))
