"""One persistent GL texture per image slot, updated in place from uint8 [H, W, 3] arrays (GUI thread only)."""

from __future__ import annotations

import numpy as np
from imgui_bundle import imgui, immvision


class Texture:
    def __init__(self) -> None:
        self._tex: immvision.GlTexture | None = None
        self.version = None  # what the texture currently shows (a stamp or request), to skip re-uploads
        self.shape: tuple[int, int] = (0, 0)  # (H, W)

    def update(self, image: np.ndarray, version=None) -> None:
        if version is not None and version == self.version and self._tex is not None:
            return
        image = np.ascontiguousarray(image, dtype=np.uint8)
        if self._tex is None:
            self._tex = immvision.GlTexture()
        self._tex.update_from_image(image)
        self.version, self.shape = version, (image.shape[0], image.shape[1])

    @property
    def ready(self) -> bool:
        return self._tex is not None

    @property
    def texture_id(self) -> int:
        return int(self._tex.texture_id) if self._tex is not None else 0

    @property
    def ref(self) -> imgui.ImTextureRef:
        return imgui.ImTextureRef(self._tex.texture_id)
