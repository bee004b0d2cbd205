"""Optional dependency groups: what a headless training node can leave out (pyproject.toml).

    core     torch, numpy, safetensors, imageio-ffmpeg, Pillow, tqdm, torchvision: generate, train, metrics, import
    [edit]   open_clip_torch, lpips: `sgv edit` (CLIP) and `sgv project` with the LPIPS loss
    [app]    imgui-bundle, psutil: the desktop app `sgv-studio`
    [dev]    both groups plus pytest and ruff (what `make` installs)

A feature whose package is missing fails with one line naming the package and the extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from engine.errors import SgvError

PACKAGES = {  # import name → (distribution on PyPI, extra that installs it)
    "open_clip": ("open_clip_torch", "edit"),
    "lpips": ("lpips", "edit"),
    "imgui_bundle": ("imgui-bundle", "app"),
    "psutil": ("psutil", "app"),
}


class MissingExtra(SgvError):
    """An optional package a feature needs is not installed."""


def missing_message(module: str, feature: str) -> str:
    dist, extra = PACKAGES[module]
    return f'{feature} needs the optional package {dist}: pip install "sgv-studio[{extra}]"'


def require(module: str, feature: str) -> ModuleType:
    """`import module`, or MissingExtra naming the package and the extra to install. A package that is
    installed but fails inside its own imports keeps its traceback (that is not a missing extra)."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as e:
        if e.name is None or e.name.split(".")[0] != module.split(".")[0]:
            raise
        raise MissingExtra(missing_message(module, feature)) from None
