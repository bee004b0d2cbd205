"""The renderer: the only torch user in app/. One worker thread owns the model; the UI never waits on it.

The UI submits RenderArgs every frame (cheap when nothing changed) and drains events with poll(). The
worker keeps only the newest args (latest request wins) and works through them in priority order, one
small task at a time, re-reading the newest args between tasks:

1. the main frame at the playhead (from the prefetch cache when it is there),
2. anchor codes for the motion sliders and the model's principal motion directions,
3. prefetching the next playback frames in small batches,
4. thumbnails (content grid, mix grid, timeline strip), composed into one atlas per slot.

With a cascade SR level loaded beside the base (docs/cascade.md) and the viewport asking for it (args.sr),
the main frame is the low-resolution frame, delivered at once; the SR frame for the same request is the next
task, so a newer request (a scrub) is served first and the SR pass for a stale t is never run. Both come from
one engine.cascade.CascadeVideo per (content, motion), whose base-frame cache is keyed by t: the low-res
frame on screen is a frame of the SR window, and playback renders about one new base frame plus one SR pass
per frame. Thumbnails stay low-resolution.

Every result carries the stamp of the args it answers; exceptions become events with one line of text
and the UI keeps showing the last good frame. Models load on the worker too: a bad file leaves the
current model in place.
"""

from __future__ import annotations

import math
import os
import sys
import threading
import time
import traceback
from collections import OrderedDict, deque
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

import engine
from app.jobs import JobContext
from app.playback import PlaybackFrames
from app.render_types import (
    AnchorCodes,
    ContentResolved,
    ExportSpec,
    FrameFailed,
    FrameRequest,
    FrameResult,
    ModelFailed,
    ModelInfo,
    ModelLoaded,
    MotionDirections,
    RenderArgs,
    RenderError,
    RendererStats,
    SRChanged,
    SRFailed,
    SRInfo,
    ThumbRequest,
    ThumbResult,
    sr_precision,
)
from app.state import Content, Motion
from engine.checkpoint import BUNDLED_MODEL
from engine.devices import default_device
from engine.errors import SgvError
from engine.fileio import atomic_path
from engine.video import to_uint8

FRAME_CACHE_BYTES = 384 << 20
THUMB_CACHE_BYTES = 64 << 20
TASK_BUDGET_S = 0.1  # a batch should take about this long, so a new request waits at most ~one batch
MAX_BATCH = 8
DIRECTION_SEEDS, DIRECTION_ANCHORS, NUM_DIRECTIONS = 48, 24, 8


def _at(req: FrameRequest, t: float) -> FrameRequest:
    return FrameRequest(req.content, req.motion, t)


def describe_error(e: BaseException) -> str:
    """One line for the UI. SgvError is the user's problem and already says it; anything else is a bug."""
    if isinstance(e, SgvError):
        return str(e)
    traceback.print_exception(e, file=sys.stderr)
    return f"internal error: {type(e).__name__}: {e}"


class _LRUBytes(OrderedDict):
    """key → numpy array, evicting least recently used entries beyond a byte budget."""

    def __init__(self, max_bytes: int):
        super().__init__()
        self.max_bytes, self.bytes = max_bytes, 0

    def get(self, key, default=None):
        if key in self:
            self.move_to_end(key)
            return self[key]
        return default

    def put(self, key, value: np.ndarray) -> None:
        if key in self:
            self.bytes -= self[key].nbytes
        self[key] = value
        self.move_to_end(key)
        self.bytes += value.nbytes
        while self.bytes > self.max_bytes and len(self) > 1:
            _, old = self.popitem(last=False)
            self.bytes -= old.nbytes


# ----------------------------------------------------------------------------------------------------
# Backend: a model and what the app needs from it. Tests swap in a fake with the same methods.


class EngineBackend:
    """A loaded generator: maps contents, renders frames and cells, computes anchor codes and directions."""

    def __init__(self, G: engine.Generator, path: str, load_s: float, cache_dir: Path | None = None):
        self.G, self.path, self.cache_dir = G, path, cache_dir
        self.fingerprint = engine.generator_fingerprint(G)
        self._ws: dict[tuple, torch.Tensor] = {}
        self._videos: OrderedDict = OrderedDict()
        cfg = G.config
        self.info = ModelInfo(
            path=path,
            name=Path(path).name,
            fingerprint=self.fingerprint,
            resolution=G.img_resolution,
            z_dim=G.z_dim,
            w_dim=G.w_dim,
            num_ws=G.num_ws,
            c_dim=G.c_dim,
            motion_u_dim=cfg.motion.v_dim,
            delta_z=float(G.delta_z),
            native_fps=float(cfg.native_fps),
            num_params=sum(p.numel() for p in G.parameters()),
            device=str(G.device),
            load_s=load_s,
            summary=G.extra_repr(),
            provenance=_provenance(path),
        )

    @classmethod
    def load(cls, path: str | None, device: str, cache_dir: Path | None = None) -> EngineBackend:
        t0 = time.perf_counter()
        G = engine.load_generator(path, device=device)
        return cls(G, str(path or BUNDLED_MODEL), time.perf_counter() - t0, cache_dir)

    # -- codes -------------------------------------------------------------------------------------------
    def _class(self, content: Content) -> torch.Tensor | None:
        if self.G.c_dim == 0:
            return None
        return engine.video.class_vector(content.c if content.c is not None else 0, self.G.c_dim).to(self.G.device)

    @torch.no_grad()
    def content_codes(self, content: Content) -> torch.Tensor:
        """[1, L, D] on the model's device."""
        ws = self._ws.get(content.key)
        if ws is None:
            if content.ws is not None:
                shape = (self.G.num_ws, self.G.w_dim)
                if tuple(content.ws.shape) != shape:
                    raise SgvError(f"content codes are {list(content.ws.shape)}, this model needs {list(shape)}")
                ws = torch.from_numpy(np.array(content.ws)).unsqueeze(0).to(self.G.device)
            else:
                z = engine.video.content_z(content.seed, self.G.z_dim).to(self.G.device)
                ws = self.G.mapping(z, self._class(content), psi=content.psi)
            self._ws[content.key] = ws
        return ws

    def motion_codes(self, motion: Motion) -> engine.MotionCodes:
        mc = engine.MotionCodes(seed=motion.seed)
        u_dim = self.info.motion_u_dim
        for i, u in motion.overrides.items():
            if u.shape[0] != u_dim:
                raise SgvError(f"motion edit of anchor {i} has {u.shape[0]} dims, this model's codes have {u_dim}")
            mc = mc.with_override(i, torch.from_numpy(np.array(u)))
        return mc

    def cascade(self, sr, content: Content, motion: Motion, precision: str):
        """The CascadeVideo of (content, motion) through SR level `sr`: its low-res window cache is shared by
        the main frame, the SR frame and playback prefetch of the same video."""
        from engine.cascade import CascadeVideo

        key = ("sr", id(sr), content.key, motion.key, precision)
        video = self._videos.get(key)
        if video is None:
            video = CascadeVideo(self._video(content, motion, precision), sr, seed=0)
            self._videos[key] = video
            while len(self._videos) > 8:
                self._videos.popitem(last=False)
        self._videos.move_to_end(key)
        return video

    def _video(self, content: Content, motion: Motion, precision: str) -> engine.Video:
        key = (content.key, motion.key, precision)
        video = self._videos.get(key)
        if video is None:
            c = content.c if (self.G.c_dim and content.c is not None) else (0 if self.G.c_dim else None)
            ws = self.content_codes(content)
            video = engine.Video(self.G, content=ws, motion=self.motion_codes(motion), c=c, precision=precision)
            self._videos[key] = video
            while len(self._videos) > 8:
                self._videos.popitem(last=False)
        self._videos.move_to_end(key)
        return video

    # -- frames ------------------------------------------------------------------------------------------
    def render(self, content: Content, motion: Motion, ts, precision: str) -> np.ndarray:
        """uint8 [T, H, W, 3]."""
        return self._video(content, motion, precision).frames_uint8(ts)

    @torch.no_grad()
    def render_cells(self, cells, px: int, precision: str) -> np.ndarray:
        """Different (content, motion, t) per cell in one batch, resized to px × px: uint8 [N, px, px, 3]."""
        G = self.G
        ws = torch.cat([self.content_codes(c) for c, _, _ in cells])  # [N, L, D]
        t = torch.tensor([[t] for _, _, t in cells], dtype=torch.float64)  # [N, 1]
        labels = [self._class(c) for c, _, _ in cells]
        c = torch.cat(labels) if labels[0] is not None else None
        v = G.motion([self.motion_codes(m) for _, m, _ in cells], t, c)  # [N, 1, 2D]
        x = G.synthesis(ws, v, precision=precision, channels_last=G.device.type == "cpu")[:, 0]  # [N, 3, H, W]
        if px != x.shape[-1]:
            x = torch.nn.functional.interpolate(x, size=(px, px), mode="bilinear", antialias=True, align_corners=False)
        return to_uint8(x)

    @torch.no_grad()
    def anchor_codes(self, seed: int, first: int, last: int) -> np.ndarray:
        """Unedited u of anchors first..last: float32 [last - first + 1, V]."""
        enc = self.G.synthesis.motion_encoder
        c = engine.video.class_vector(0, self.G.c_dim) if self.G.c_dim else None  # motion of class 0
        u = enc.anchor_codes([engine.MotionCodes(seed=seed)], first, last - first + 1, c)  # [1, n, V] float64
        return u[0].to(torch.float32).cpu().numpy()

    def motion_directions(self) -> MotionDirections:
        """PCA of anchor codes over many seeds, computed once per model and cached by fingerprint."""
        path = self.cache_dir / "motion-directions" / f"{self.fingerprint}.npz" if self.cache_dir else None
        if path is not None and path.exists():
            try:
                with np.load(path, allow_pickle=False) as z:
                    mean, comps, std, n = z["mean"], z["components"], z["std"], int(z["samples"])
                    spread = float(z["spread"])  # entries written before it existed are recomputed
                if comps.shape[1] == mean.shape[0] == self.info.motion_u_dim and std.shape[0] == comps.shape[0]:
                    return MotionDirections(self.fingerprint, mean, comps, std, n, True, spread)
            except (OSError, ValueError, KeyError):
                pass  # a damaged cache entry is recomputed and replaced
        u = np.concatenate([self.anchor_codes(s, 0, DIRECTION_ANCHORS - 1) for s in range(DIRECTION_SEEDS)])
        u = u.astype(np.float64)  # [S·A, V]
        mean = u.mean(0)
        _, s, vt = np.linalg.svd(u - mean, full_matrices=False)
        k = min(NUM_DIRECTIONS, vt.shape[0])
        std = s[:k] / math.sqrt(max(len(u) - 1, 1))
        spread = float(math.sqrt((s**2).sum() / max(len(u) - 1, 1)))  # all directions, not only the top k
        out = MotionDirections(
            self.fingerprint,
            mean.astype(np.float32),
            vt[:k].astype(np.float32),
            std.astype(np.float32),
            len(u),
            False,
            spread,
        )
        if path is not None:
            try:
                with atomic_path(path) as tmp:
                    np.savez(
                        tmp, mean=out.mean, components=out.components, std=out.std, samples=out.samples, spread=spread
                    )
            except OSError:
                pass  # no cache dir: recompute next time
        return out

    # -- export ------------------------------------------------------------------------------------------
    def export(self, spec: ExportSpec, content: Content, motion: Motion, ctx: JobContext, sr=None) -> dict:
        """Write the video; with `sr` (an SR generator) through the cascade at the SR resolution × scale."""
        video = engine.Video(
            self.G,
            content=self.content_codes(content).clone(),
            motion=self.motion_codes(motion),
            c=(content.c or 0) if self.G.c_dim else None,
            precision=spec.precision,
            batch_size=8,
        )
        if sr is not None:
            from engine.cascade import CascadeVideo

            video = CascadeVideo(video, sr, seed=0)  # the same SR latent as the viewport's
        native = video.resolution
        size = max(8, int(round(native * spec.scale / 2)) * 2)  # even sizes for yuv420p
        target = video if size == native else _ResizedVideo(video, size)
        t0 = time.perf_counter()
        frames = engine.export_video(
            target,
            spec.path,
            t_start=spec.t_start,
            duration_s=spec.duration_s,
            fps=spec.fps,
            time_scale=spec.time_scale,
            quality=spec.quality,
            progress=lambda done, total: ctx.progress(done, total, f"{done}/{total} frames"),
            should_stop=lambda: ctx.cancelled,
        )
        return {"path": spec.path, "frames": frames, "size": size, "seconds": time.perf_counter() - t0}


class _ResizedVideo:
    """A Video whose frames come out at another size, for export_video (which reads G.img_resolution)."""

    def __init__(self, video: engine.Video, size: int):
        self.video, self.size = video, size
        self.G = SimpleNamespace(img_resolution=size)
        self.resolution = size
        self.native_fps, self.batch_size = video.native_fps, video.batch_size

    @torch.no_grad()
    def frames_uint8(self, ts) -> np.ndarray:
        x = self.video.frames(ts)  # [T, 3, H, W]
        x = torch.nn.functional.interpolate(
            x, size=(self.size, self.size), mode="bilinear", antialias=x.shape[-1] > self.size, align_corners=False
        )
        return to_uint8(x)


def _load_sr(path: str, device: str):
    from engine.cascade import load_sr

    return load_sr(path, device=device)


def _bundled_sr() -> Path:
    from engine.cascade import BUNDLED_SR

    return BUNDLED_SR


def _sr_fingerprint(sr) -> str:
    from engine.cascade.checkpoint import sr_fingerprint

    return sr_fingerprint(sr)


def _provenance(path: str) -> dict:
    try:
        from safetensors import safe_open

        with safe_open(path, framework="pt", device="cpu") as f:
            meta = f.metadata() or {}
        import json

        return json.loads(meta["provenance"]) if "provenance" in meta else {}
    except Exception:  # provenance is decoration; the model itself loaded fine
        return {}


# ----------------------------------------------------------------------------------------------------
# The worker.


class Renderer:
    """Owns the model on one worker thread. submit()/open_model()/poll() are for the UI thread and never block."""

    def __init__(
        self,
        device: str | None = None,
        cache_dir: Path | None = None,
        render_delay_s: float = 0.0,
        wake: Callable[[], None] | None = None,
        loader: Callable[[str | None, str], object] | None = None,
        sr_loader: Callable[[str, str], object] | None = None,
        bundled_sr: Path | None = None,
    ):
        self.device = device or default_device().type
        self.cache_dir = cache_dir
        self.render_delay_s = render_delay_s  # debugging/tests: pretend each frame takes this long
        self._wake = wake or (lambda: None)
        self._loader = loader or (lambda path, device: EngineBackend.load(path, device, cache_dir))
        self._sr_loader = sr_loader or _load_sr
        # The SR level opened with the bundled base when that file exists (tests with their own loader pass theirs).
        self.bundled_sr = bundled_sr if bundled_sr is not None else _bundled_sr() if loader is None else None
        self._cv = threading.Condition()
        self._args: RenderArgs | None = None
        self._stamp = 0
        self._requested_at = 0.0
        self._version = 0
        self._commands: deque = deque()
        self._events: deque = deque()
        self._stop = False
        self._loading = False
        # Worker-owned from here on.
        self._backend = None
        self._sr = None  # the SR generator beside the base, and its SRInfo
        self._sr_info: SRInfo | None = None
        self._sr_frames = _LRUBytes(FRAME_CACHE_BYTES)
        self._sr_shown_key = None
        self._sr_ms_per_frame = 50.0
        self._frames = _LRUBytes(FRAME_CACHE_BYTES)
        self._cells = _LRUBytes(THUMB_CACHE_BYTES)
        self._anchors: dict[tuple, np.ndarray] = {}
        self._failed: set = set()
        self._shown_key = None
        self._thumbs_shown: dict[str, ThumbRequest] = {}
        self._anchors_shown: tuple | None = None
        self._directions_shown: str | None = None
        self._resolved_shown: set = set()
        self._ms_per_frame = 20.0
        self._counts = {"frames": 0, "requests": 0, "prefetched": 0, "hits": 0}
        self._busy = False
        self._thread = threading.Thread(target=self._run, name="sgv-renderer", daemon=True)
        self._thread.start()

    # -- UI side -----------------------------------------------------------------------------------------
    def submit(self, args: RenderArgs) -> int:
        """Make `args` the newest request; returns its stamp. Identical args are not re-sent."""
        with self._cv:
            if args == self._args:
                return self._stamp
            self._args = args.copy()
            self._stamp += 1
            self._requested_at = time.perf_counter()
            self._version += 1
            self._counts["requests"] += 1
            self._cv.notify()
            return self._stamp

    def open_model(self, path: str | None) -> None:
        """Load a model file (None = the bundled model) on the worker; ModelLoaded or ModelFailed follows."""
        with self._cv:
            self._loading = True
            self._commands.append(("open", path))
            self._version += 1
            self._cv.notify()

    def open_sr(self, path: str | None) -> None:
        """Load an SR level beside the base on the worker (None = SR off); SRChanged or SRFailed follows."""
        with self._cv:
            self._loading = True
            self._commands.append(("sr", path))
            self._version += 1
            self._cv.notify()

    @property
    def sr_model(self):
        """The SR generator beside the base, or None; export jobs read it once when they start."""
        return self._sr

    def poll(self) -> list:
        with self._cv:
            events = list(self._events)
            self._events.clear()
        return events

    @property
    def loading(self) -> bool:
        return self._loading

    def stats(self) -> RendererStats:
        c = self._counts
        args = self._args
        # With SR on, a playback frame costs an SR frame (its new base frames included): prefetch plans by it.
        ms = self._sr_ms_per_frame if self._sr is not None and args is not None and args.sr else self._ms_per_frame
        return RendererStats(ms, c["frames"], c["requests"], c["prefetched"], c["hits"], self.device, self._busy)

    @property
    def backend(self):
        """The loaded model (EngineBackend) or None; jobs read it once when they start (see StudioApp)."""
        return self._backend

    def close(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._thread.join(timeout=5)

    # -- worker ------------------------------------------------------------------------------------------
    def _post(self, event) -> None:
        with self._cv:
            self._events.append(event)
        self._wake()

    def _run(self) -> None:
        torch.set_grad_enabled(False)
        if self.device == "cpu" and torch.get_num_threads() >= (os.cpu_count() or 1):
            # Leave a core to the UI thread and the GL driver, or every UI frame waits behind a render.
            torch.set_num_threads(max(1, (os.cpu_count() or 1) - 1))
        planned = -1
        while True:
            with self._cv:
                while not self._stop and not self._commands and self._version == planned:
                    self._busy = False
                    self._cv.wait()
                if self._stop:
                    return
                self._busy = True
                command = self._commands.popleft() if self._commands else None
                args, stamp, requested_at, version = self._args, self._stamp, self._requested_at, self._version
            if command is not None:
                try:
                    if command[0] == "sr":
                        self._open_sr(command[1])
                    else:
                        self._open(command[1])
                finally:
                    with self._cv:
                        self._loading = bool(self._commands)
                planned = -1
                continue
            task = self._next_task(args, stamp, requested_at) if args is not None and self._backend else None
            if task is None:
                planned = version
                continue
            planned = -1
            task()

    def _open(self, path: str | None) -> None:
        try:
            backend = self._loader(path, self.device)
        except Exception as e:
            where = str(path) if path else str(BUNDLED_MODEL)
            self._post(ModelFailed(where, describe_error(e)))
        else:
            self._backend = backend
            self._frames.clear()
            self._frames.bytes = 0
            self._cells.clear()
            self._cells.bytes = 0
            self._anchors.clear()
            self._failed.clear()
            self._shown_key, self._anchors_shown, self._directions_shown = None, None, None
            self._thumbs_shown.clear()
            self._resolved_shown.clear()
            self._post(ModelLoaded(backend.info))
            self._sr_after_base(path)
        finally:
            with self._cv:
                self._loading = bool(self._commands)

    def _sr_after_base(self, path: str | None) -> None:
        """A new base: the SR level stays if it fits it, else goes (with a note); the bundled base gets the
        bundled SR level when that file exists and no level is open."""
        self._sr_frames.clear()
        self._sr_frames.bytes = 0
        self._sr_shown_key = None
        if self._sr is not None:
            try:
                self._check_fits(self._sr, self._sr_info.path)
            except Exception as e:
                self._set_sr(None, None)
                self._post(SRChanged(None, f"SR level off: {describe_error(e)}"))
            else:
                self._post(SRChanged(self._sr_info))
                return
        bundled = path is None or Path(path).resolve() == Path(BUNDLED_MODEL).resolve()
        if self._sr is None and bundled and self.bundled_sr is not None and Path(self.bundled_sr).exists():
            self._open_sr(str(self.bundled_sr))

    def _check_fits(self, sr, name: str) -> None:
        from engine.cascade import check_fits

        G = self._backend.G
        check_fits(sr.config, G.img_resolution, float(G.config.native_fps), name)

    def _set_sr(self, sr, info: SRInfo | None) -> None:
        self._sr, self._sr_info = sr, info
        self._sr_frames.clear()
        self._sr_frames.bytes = 0
        self._sr_shown_key = None

    def _open_sr(self, path: str | None) -> None:
        if path is None:
            self._set_sr(None, None)
            self._post(SRChanged(None))
            return
        try:
            if self._backend is None:
                raise SgvError(f"{path}: open a base model first (an SR level upscales a base model's frames)")
            t0 = time.perf_counter()
            sr = self._sr_loader(path, self.device)
            self._check_fits(sr, str(path))
            cfg = sr.config
            info = SRInfo(
                path=str(path),
                name=Path(path).name,
                fingerprint=_sr_fingerprint(sr),
                scale=int(cfg.scale),
                base_resolution=int(cfg.base_resolution),
                resolution=int(cfg.resolution),
                window=int(cfg.window),
                native_fps=float(cfg.native_fps),
                num_params=sum(p.numel() for p in sr.parameters()),
                load_s=time.perf_counter() - t0,
            )
        except Exception as e:
            self._post(SRFailed(str(path), describe_error(e)))
            return
        self._set_sr(sr, info)
        self._post(SRChanged(info))

    def _frame_key(self, req: FrameRequest, precision: str) -> tuple:
        return (self._backend.info.fingerprint, req.content.key, req.motion.key, float(req.t), precision)

    def _next_task(self, args: RenderArgs, stamp: int, requested_at: float) -> Callable[[], None] | None:
        fp = self._backend.info.fingerprint
        sr = args.sr and self._sr is not None
        if args.frame is not None:
            key = self._frame_key(args.frame, args.precision)
            if key != self._shown_key:
                return lambda: self._main_frame(args, stamp, requested_at, key)
            if sr and (sr_key := self._sr_key(args.frame, args.precision)) != self._sr_shown_key:
                return lambda: self._sr_frame(args, stamp, requested_at, sr_key)
        if args.anchors is not None and (fp, args.anchors) != self._anchors_shown:
            return lambda: self._anchor_task(args.anchors)
        if args.directions and self._directions_shown != fp:
            return self._directions_task
        if sr and args.frame is not None and args.upcoming:
            todo = [
                t
                for t in args.upcoming
                if self._sr_key(_at(args.frame, t), args.precision) not in self._sr_frames
                and self._sr_key(_at(args.frame, t), args.precision) not in self._failed
            ]
            if todo:
                return lambda: self._sr_prefetch(args, todo[: self._sr_batch()])
        elif args.frame is not None and args.upcoming:
            todo = [
                t
                for t in args.upcoming
                if (k := self._frame_key(FrameRequest(args.frame.content, args.frame.motion, t), args.precision))
                not in self._frames
                and k not in self._failed
            ]
            if todo:
                return lambda: self._prefetch(args, todo[: self._batch()])
        for slot, req in args.thumbs.items():
            if self._thumbs_shown.get(slot) != req:
                return lambda slot=slot, req=req: self._thumb_task(slot, req, args.precision)
        return None

    def _sr_key(self, req: FrameRequest, precision: str) -> tuple:
        return ("sr", self._sr_info.fingerprint, *self._frame_key(req, precision))

    def _sr_batch(self) -> int:
        return int(min(MAX_BATCH, max(1, TASK_BUDGET_S * 1000 / max(self._sr_ms_per_frame, 1e-3))))

    def _batch(self) -> int:
        return int(min(MAX_BATCH, max(1, TASK_BUDGET_S * 1000 / max(self._ms_per_frame, 1e-3))))

    def _render(self, content: Content, motion: Motion, ts, precision: str) -> np.ndarray:
        t0 = time.perf_counter()
        frames = self._backend.render(content, motion, ts, precision)
        if self.render_delay_s:
            time.sleep(self.render_delay_s * len(ts))
        ms = (time.perf_counter() - t0) * 1000 / max(len(ts), 1)
        self._ms_per_frame = 0.7 * self._ms_per_frame + 0.3 * ms
        self._counts["frames"] += len(ts)
        return frames

    def _main_frame(self, args: RenderArgs, stamp: int, requested_at: float, key: tuple) -> None:
        req = args.frame
        self._shown_key = key
        image = self._frames.get(key)
        try:
            self._resolve(req.content)
            if image is not None:
                self._counts["hits"] += 1
                self._post(FrameResult(stamp, req, image, 0.0, True, requested_at, key[0]))
                return
            if args.sr and self._sr is not None:
                # The low-res frame of the cascade's window cache: the SR pass that follows reuses it.
                t0 = time.perf_counter()
                video = self._backend.cascade(self._sr, req.content, req.motion, args.precision)
                image = to_uint8(video.lowres_frames([req.t]))[0]
                self._frames.put(key, image)
                self._counts["frames"] += 1
                ms = (time.perf_counter() - t0) * 1000
                self._post(FrameResult(stamp, req, image, ms, False, requested_at, key[0]))
                return
            # During playback render the next frames in the same batch: a batch costs less per frame, and
            # the playhead will ask for them next (a frame rendered alone is already late when it is done).
            ahead = [
                t
                for t in args.upcoming
                if self._frame_key(FrameRequest(req.content, req.motion, t), args.precision) not in self._frames
            ][: self._batch() - 1]
            t0 = time.perf_counter()
            images = self._render(req.content, req.motion, [req.t, *ahead], args.precision)
            image = images[0]
            self._frames.put(key, image)
            for t, im in zip(ahead, images[1:]):
                self._frames.put(self._frame_key(FrameRequest(req.content, req.motion, t), args.precision), im)
            self._counts["prefetched"] += len(ahead)
            ms = (time.perf_counter() - t0) * 1000
            self._post(FrameResult(stamp, req, image, ms, False, requested_at, key[0]))
            if args.upcoming:  # playing: the UI shows each of these at its time (app.playback.Player)
                self._post_playback(req, args.precision, [req.t, *ahead], images)
        except Exception as e:
            self._post(FrameFailed(stamp, req, describe_error(e)))

    def _render_sr(self, req: FrameRequest, ts, precision: str) -> tuple[np.ndarray, np.ndarray]:
        """(low-res, SR) uint8 frames at ts through the cascade (the low-res ones come from its cache)."""
        t0 = time.perf_counter()
        video = self._backend.cascade(self._sr, req.content, req.motion, precision)
        sr = video.frames_uint8(ts)
        low = to_uint8(video.lowres_frames(ts))
        if self.render_delay_s:
            time.sleep(self.render_delay_s * len(ts))
        ms = (time.perf_counter() - t0) * 1000 / max(len(ts), 1)
        self._sr_ms_per_frame = 0.7 * self._sr_ms_per_frame + 0.3 * ms
        self._counts["frames"] += len(ts)
        return low, sr

    def _sr_frame(self, args: RenderArgs, stamp: int, requested_at: float, sr_key: tuple) -> None:
        """The SR frame of the request whose low-res frame is on screen (a newer request is served first)."""
        req = args.frame
        self._sr_shown_key = sr_key
        image = self._sr_frames.get(sr_key)
        fp = self._backend.info.fingerprint
        try:
            if image is not None:
                self._counts["hits"] += 1
                self._post(FrameResult(stamp, req, image, 0.0, True, requested_at, fp, sr=True))
                return
            t0 = time.perf_counter()
            low, sr = self._render_sr(req, [req.t], args.precision)
            image = sr[0]
            self._sr_frames.put(sr_key, image)
            ms = (time.perf_counter() - t0) * 1000
            self._post(FrameResult(stamp, req, image, ms, False, requested_at, fp, sr=True))
            if args.upcoming:
                self._post_sr_playback(req, args.precision, [req.t], low, sr)
        except Exception as e:
            self._post(FrameFailed(stamp, req, f"SR: {describe_error(e)}"))

    def _sr_prefetch(self, args: RenderArgs, ts: list[float]) -> None:
        req = args.frame
        keys = [self._sr_key(_at(req, t), args.precision) for t in ts]
        try:
            low, sr = self._render_sr(req, ts, args.precision)
        except Exception:
            self._failed.update(keys)
            return  # the SR frame at that t reports the error when the playhead gets there
        for t, key, image, lr in zip(ts, keys, sr, low):
            self._sr_frames.put(key, image)
            self._frames.put(self._frame_key(_at(req, t), args.precision), lr)
        self._counts["prefetched"] += len(ts)
        self._post_sr_playback(req, args.precision, ts, low, sr)

    def _post_sr_playback(self, req: FrameRequest, precision: str, ts, low, sr) -> None:
        """Playback frames of both kinds: the UI shows the SR ones at their time, the low-res ones beside."""
        self._post_playback(req, precision, ts, low)
        fp = self._backend.info.fingerprint
        frames = dict(zip(map(float, ts), sr))
        self._post(
            PlaybackFrames(
                fp, req.content.key, req.motion.key, sr_precision(precision, self._sr_info.fingerprint), frames
            )
        )

    def _resolve(self, content: Content) -> None:
        """Tell the UI the exact codes of a seed content (undo, sessions and exports use them)."""
        if content.ws is not None or content.key in self._resolved_shown:
            return
        ws = self._backend.content_codes(content)[0].to(torch.float32).cpu().numpy()
        self._resolved_shown.add(content.key)
        self._post(ContentResolved(self._backend.info.fingerprint, content.key, ws))

    def _prefetch(self, args: RenderArgs, ts: list[float]) -> None:
        req = args.frame
        try:
            frames = self._render(req.content, req.motion, ts, args.precision)
        except Exception:
            self._failed.update(self._frame_key(FrameRequest(req.content, req.motion, t), args.precision) for t in ts)
            return  # the main frame at that t will report the error when the playhead gets there
        for t, image in zip(ts, frames):
            self._frames.put(self._frame_key(FrameRequest(req.content, req.motion, t), args.precision), image)
        self._counts["prefetched"] += len(ts)
        self._post_playback(req, args.precision, ts, frames)

    def _post_playback(self, req: FrameRequest, precision: str, ts, images) -> None:
        """Send playback frames to the UI as soon as they exist: the UI shows each at its time, whatever the
        worker is doing then (before, a prefetched frame had to be asked for again, and the worker answers
        only the newest request, so frames due while it rendered a batch or thumbnails were never shown)."""
        fp = self._backend.info.fingerprint
        self._post(PlaybackFrames(fp, req.content.key, req.motion.key, precision, dict(zip(map(float, ts), images))))

    def _anchor_task(self, req) -> None:
        fp = self._backend.info.fingerprint
        self._anchors_shown = (fp, req)
        if len(self._anchors) > 100_000:
            self._anchors.clear()  # codes are cheap to recompute; keep memory bounded on long sessions
        try:
            for first, last in req.ranges:
                missing = [i for i in range(first, last + 1) if (fp, req.seed, i) not in self._anchors]
                if missing:
                    u = self._backend.anchor_codes(req.seed, missing[0], missing[-1])
                    for k, i in enumerate(range(missing[0], missing[-1] + 1)):
                        self._anchors[(fp, req.seed, i)] = u[k]
            codes = {i: self._anchors[(fp, req.seed, i)] for i in req.anchors()}
        except Exception as e:
            self._post(RenderError("anchor codes", describe_error(e)))
            return
        self._post(AnchorCodes(fp, req.seed, codes))

    def _directions_task(self) -> None:
        fp = self._backend.info.fingerprint
        self._directions_shown = fp
        try:
            self._post(self._backend.motion_directions())
        except Exception as e:
            self._post(RenderError("motion directions", describe_error(e)))

    def _thumb_task(self, slot: str, req: ThumbRequest, precision: str) -> None:
        fp = self._backend.info.fingerprint

        def key(cell):
            return (fp, cell[0].key, cell[1].key, float(cell[2]), req.cell_px, precision)

        missing = [cell for cell in req.cells if key(cell) not in self._cells and key(cell) not in self._failed]
        if missing:
            batch = missing[: self._batch()]
            try:
                t0 = time.perf_counter()
                images = self._backend.render_cells(batch, req.cell_px, precision)
                if self.render_delay_s:
                    time.sleep(self.render_delay_s * len(batch))
                ms = (time.perf_counter() - t0) * 1000 / len(batch)
                self._ms_per_frame = 0.7 * self._ms_per_frame + 0.3 * ms
                for cell, image in zip(batch, images):
                    self._cells.put(key(cell), image)
            except Exception as e:
                self._failed.update(key(c) for c in batch)
                self._post(RenderError(slot, describe_error(e)))
            return
        self._thumbs_shown[slot] = req
        px, cols = req.cell_px, max(1, req.columns)
        rows = max(1, math.ceil(len(req.cells) / cols))
        atlas = np.full((rows * px, cols * px, 3), 40, np.uint8)
        for n, cell in enumerate(req.cells):
            image = self._cells.get(key(cell))
            if image is not None:
                r, c = divmod(n, cols)
                atlas[r * px : (r + 1) * px, c * px : (c + 1) * px] = image
        self._post(ThumbResult(slot, req, atlas, fp))
