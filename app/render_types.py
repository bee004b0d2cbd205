"""What widgets ask the renderer for (RenderArgs) and what comes back (events). No torch here.

Each UI frame starts from an empty RenderArgs; every widget writes its slice (even when its window is
hidden); the app submits the result. The renderer keeps only the newest args. Values compare by content
(Content/Motion keys), so re-submitting the same request is free.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from app.state import Content, Motion

PRECISIONS = ("fp32", "bf16", "fp16")


@dataclass(frozen=True)
class FrameRequest:
    content: Content
    motion: Motion
    t: float  # training-data frames


@dataclass(frozen=True)
class ThumbRequest:
    """A grid of small frames composed into one atlas image (one texture per widget)."""

    cells: tuple[tuple[Content, Motion, float], ...]
    columns: int
    cell_px: int  # thumbnails are resized to cell_px × cell_px


@dataclass(frozen=True)
class AnchorRequest:
    """Unedited anchor codes u of a motion seed (for motion sliders): anchors first..last of each range."""

    seed: int
    ranges: tuple[tuple[int, int], ...]  # inclusive (first, last) pairs

    def anchors(self) -> list[int]:
        return sorted({i for first, last in self.ranges for i in range(first, last + 1)})


@dataclass
class RenderArgs:
    frame: FrameRequest | None = None
    upcoming: tuple[float, ...] = ()  # playback: t of the next frames, prefetched in small batches
    thumbs: dict[str, ThumbRequest] = field(default_factory=dict)  # slot name → request
    anchors: AnchorRequest | None = None
    directions: bool = True  # principal motion directions of the model (computed once, cached on disk)
    precision: str = "fp32"
    sr: bool = False  # the viewport shows the SR level's frames too (rendered after the low-res frame)

    def copy(self) -> RenderArgs:
        return dataclasses.replace(self, thumbs=dict(self.thumbs))


@dataclass(frozen=True)
class ExportSpec:
    path: str
    t_start: float
    duration_s: float
    fps: float
    time_scale: float = 1.0
    scale: float = 1.0  # output size = model resolution × scale
    quality: int = 8
    precision: str = "fp32"
    sr: bool = False  # through the loaded SR level: output size = SR resolution × scale


# ----------------------------------------------------------------------------------------------------
# Events from the renderer (drained by the UI each frame with Renderer.poll()).


@dataclass(frozen=True)
class ModelInfo:
    path: str
    name: str
    fingerprint: str
    resolution: int
    z_dim: int
    w_dim: int
    num_ws: int
    c_dim: int
    motion_u_dim: int  # anchor code u (what motion edits change)
    delta_z: float  # frames between anchors
    native_fps: float
    num_params: int
    device: str
    load_s: float
    summary: str  # print(G)'s one-line description
    provenance: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ModelLoaded:
    info: ModelInfo


@dataclass(frozen=True)
class SRInfo:
    """A cascade SR level loaded beside the base model (docs/cascade.md)."""

    path: str
    name: str
    fingerprint: str
    scale: int
    base_resolution: int
    resolution: int  # of its output frames
    window: int  # ±k base frames per output frame
    native_fps: float
    num_params: int
    load_s: float


@dataclass(frozen=True)
class SRChanged:
    """The SR level beside the base: info None = off. `note` says why it changed on its own (one line)."""

    info: SRInfo | None
    note: str = ""


@dataclass(frozen=True)
class SRFailed:
    """An SR file that cannot be used (bad file, or it does not fit the base): the current state stays."""

    path: str
    message: str


def sr_precision(precision: str, sr_fingerprint: str) -> str:
    """The playback buffer's precision key of SR frames (app/playback.py keys frames by precision)."""
    return f"{precision}+sr:{sr_fingerprint}"


@dataclass(frozen=True)
class ModelFailed:
    path: str
    message: str


@dataclass(frozen=True)
class FrameResult:
    stamp: int  # RenderArgs generation this frame answers
    request: FrameRequest
    image: np.ndarray  # uint8 [H, W, 3]
    render_ms: float  # time to render it (0 when it came from the prefetch cache)
    cached: bool
    requested_at: float  # perf_counter when the request was submitted (for scrub-to-display latency)
    fingerprint: str
    sr: bool = False  # a frame of the SR level (its resolution), not the base model's


@dataclass(frozen=True)
class FrameFailed:
    stamp: int
    request: FrameRequest
    message: str


@dataclass(frozen=True)
class RenderError:
    """A failure outside the main frame (thumbnails, anchor codes, directions): shown, nothing else changes."""

    what: str
    message: str


@dataclass(frozen=True)
class ContentResolved:
    fingerprint: str
    content_key: tuple
    ws: np.ndarray  # [L, D] float32


@dataclass(frozen=True)
class ThumbResult:
    slot: str
    request: ThumbRequest
    atlas: np.ndarray  # uint8 [rows·px, columns·px, 3]
    fingerprint: str


@dataclass(frozen=True)
class AnchorCodes:
    fingerprint: str
    seed: int
    codes: dict  # anchor index → u [V] float32


@dataclass(frozen=True)
class MotionDirections:
    """Principal directions of anchor codes u over many motion seeds: u ≈ mean + Σ_j α_j σ_j d_j."""

    fingerprint: str
    mean: np.ndarray  # [V]
    components: np.ndarray  # [K, V] orthonormal rows
    std: np.ndarray  # [K] standard deviation along each
    samples: int
    from_cache: bool
    spread: float = 0.0  # σ of the codes: RMS distance of an anchor code from the mean code (the sliders' unit)


@dataclass(frozen=True)
class RendererStats:
    render_ms: float  # moving average per frame
    frames_rendered: int
    requests: int  # RenderArgs submitted that changed something
    prefetched: int
    cache_hits: int
    device: str
    busy: bool
