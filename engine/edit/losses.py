"""Image distances for projection and masked editing: LPIPS (VGG16) and a labelled pixel fallback.

LPIPS comes from the `lpips` package, but its weights never come from the network at run time: the linear
calibration layers and the VGG16 backbone are loaded from the files engine.weights resolves (the backbone
via `sgv weights fetch vgg16`). The network is built on the meta device and filled from those state dicts,
so torchvision neither downloads nor spends seconds initialising VGG's unused 120 M-parameter classifier.
"""

from __future__ import annotations

import os
import warnings

import torch
import torch.nn.functional as F

from engine import weights
from engine.errors import SgvError
from engine.extras import MissingExtra, require

LOSS_KINDS = ("lpips", "pixel")

# lpips' VGG16 slices take torchvision `features` layers 0..29 in these ranges (lpips/pretrained_networks.py).
_VGG_SLICES = ((1, 0, 4), (2, 4, 9), (3, 9, 16), (4, 16, 23), (5, 23, 30))
_VGG_CONVS = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)


class ImageLoss(torch.nn.Module):
    """Distance between image batches x, y [N, 3, H, W] in [-1, 1] → [N]. `label` says what it is."""

    kind = "?"
    label = "?"
    fallback_reason: str | None = None  # set when "auto" fell back to this loss


class LpipsLoss(ImageLoss):
    kind = "lpips"
    label = "LPIPS (VGG16)"

    def __init__(self, net: torch.nn.Module, min_size: int = 64):
        super().__init__()
        self.net = net
        self.min_size = min_size

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        # VGG's five poolings leave nothing of a 16² frame; tiny frames are upsampled so every layer sees >= 2².
        if x.shape[-1] < self.min_size:
            size = (self.min_size, self.min_size)
            x = F.interpolate(x, size=size, mode="bilinear", align_corners=False)
            y = F.interpolate(y, size=size, mode="bilinear", align_corners=False)
        return self.net(x, y).reshape(x.shape[0])


class PixelPyramidLoss(ImageLoss):
    """Fallback when the LPIPS weights are absent: mean squared error summed over an image pyramid (full size,
    then 2× box-downsampled copies down to `min_size`). Coarse levels match layout and colour, fine levels
    detail; it is sharper-blind than LPIPS, so reconstructions are blurrier. Labelled as such everywhere."""

    kind = "pixel"
    label = "pixel (fallback: MSE over a box-filtered image pyramid, not LPIPS)"

    def __init__(self, min_size: int = 8):
        super().__init__()
        self.min_size = min_size

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        total = x.new_zeros(x.shape[0])
        while True:
            total = total + (x - y).square().mean(dim=(1, 2, 3))
            if min(x.shape[-2:]) < 2 * self.min_size:
                return total
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)


def load_lpips(
    device: torch.device | str = "cpu",
    lin_path: str | os.PathLike | None = None,
    vgg_path: str | os.PathLike | None = None,
    min_size: int = 64,
) -> LpipsLoss:
    """LPIPS v0.1 with VGG16, from the registry's files (or explicit paths). Raises WeightsMissing / WeightsError."""
    lpips = require("lpips", "the LPIPS image loss")
    lin = weights.load_state_dict("lpips-vgg", lin_path)
    vgg = weights.load_state_dict("vgg16", vgg_path)
    vgg = {k[len("features.") :]: v for k, v in vgg.items() if k.startswith("features.")}
    lin_src = weights.resolve("lpips-vgg", lin_path)
    vgg_src = weights.resolve("vgg16", vgg_path)
    with warnings.catch_warnings(), torch.device("meta"):
        warnings.simplefilter("ignore")  # torchvision's "pretrained is deprecated" notices
        net = lpips.LPIPS(net="vgg", pretrained=False, pnet_rand=True, verbose=False)
    state: dict[str, torch.Tensor] = {}
    scaling = lpips.ScalingLayer()  # two constant buffers; built on the CPU, so they hold real values
    state["scaling_layer.shift"], state["scaling_layer.scale"] = scaling.shift, scaling.scale
    for s, lo, hi in _VGG_SLICES:
        for i in range(lo, hi):
            if i not in _VGG_CONVS:
                continue
            for p in ("weight", "bias"):
                if f"{i}.{p}" not in vgg:
                    raise weights.WeightsError(f"{vgg_src}: not VGG16 weights (no features.{i}.{p})")
                state[f"net.slice{s}.{i}.{p}"] = vgg[f"{i}.{p}"]
    for k in range(5):
        key = f"lin{k}.model.1.weight"
        if key not in lin:
            raise weights.WeightsError(f"{lin_src}: not LPIPS VGG linear layers (no {key})")
        state[key] = state[f"lins.{k}.model.1.weight"] = lin[key]  # lpips registers each layer twice
    expected = net.state_dict()
    for key, ref in expected.items():
        if key not in state or tuple(state[key].shape) != tuple(ref.shape):
            src = lin_src if key.startswith("lin") else vgg_src
            got = list(state[key].shape) if key in state else "nothing"
            raise weights.WeightsError(f"{src}: {key} has shape {got}, LPIPS-VGG needs {list(ref.shape)}")
    net = net.to_empty(device=device)
    net.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return LpipsLoss(net.eval().requires_grad_(False), min_size=min_size).to(device)


def make_image_loss(
    kind: str = "lpips",
    device: torch.device | str = "cpu",
    lin_path: str | os.PathLike | None = None,
    vgg_path: str | os.PathLike | None = None,
) -> ImageLoss:
    """ "lpips" (WeightsMissing if its files are absent), "pixel", or "auto" (LPIPS if present, else pixel)."""
    if kind == "pixel":
        return PixelPyramidLoss().to(device)
    if kind == "lpips":
        return load_lpips(device, lin_path, vgg_path)
    if kind == "auto":
        try:
            return load_lpips(device, lin_path, vgg_path)
        except (weights.WeightsMissing, MissingExtra) as err:
            fallback = PixelPyramidLoss().to(device)
            fallback.fallback_reason = str(err)  # the caller shows it: which file is missing and how to fetch it
            return fallback
    raise SgvError(f"unknown loss '{kind}' (choose lpips, pixel or auto)")
