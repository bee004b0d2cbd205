"""Evaluating a model: FVD / FID by name, on one process, N spawned ranks, or ranks started by torchrun.

`evaluate(request)` is what `sgv metrics` runs: it checks the request, starts the ranks, loads the model and
the detectors on each, and hands every metric's result (a dict, as `calc` returns it) to `on_result` on rank 0.
Callbacks cross process boundaries with `--gpus N`, so they must be picklable (module-level functions).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from engine.errors import SgvError
from engine.metrics.detectors import MetricError
from engine.model_source import ModelSource

ResultFn = Callable[[dict], None]
ProgressFactory = Callable[[str], object]  # metric name → a (done, total) callable with close()


@dataclass(frozen=True)
class MetricsRequest:
    metrics: tuple[str, ...]  # registry names, e.g. ("fvd2048_16f",)
    data: Path  # the real dataset
    model: ModelSource = ModelSource()
    num_runs: int = 1  # repeats with new generated videos (mean and std)
    gpus: int = 1  # ranks: one per GPU, CPU ranks under gloo without CUDA
    detector: Path | None = None  # I3D / Inception TorchScript file; None: the weights cache
    num_videos: int | None = None  # override the protocol's video count (results not comparable)
    seed: int = 0  # seed of real clip offsets and generated videos
    run_dir: Path | None = None  # where metric-<name>.jsonl goes; None: the checkpoint's run folder
    cache: bool = True  # reuse / store real-data statistics
    cache_dir: Path | None = None
    batch_frames: int | None = None
    workers: int = 2  # data loader processes per rank

    def checked(self) -> MetricsRequest:
        """MetricError for bad names and combinations; the run folder filled in from the checkpoint."""
        from engine.metrics.registry import METRICS

        names = tuple(m for m in self.metrics if m)
        unknown = [m for m in names if m not in METRICS]
        if not names or unknown:
            raise MetricError(f"unknown metric {', '.join(unknown) or '(none)'}; known: {', '.join(METRICS)}")
        if self.detector is not None and len({METRICS[m].detector for m in names}) > 1:
            raise MetricError(
                "--detector names one file, but these metrics need both I3D and Inception; run them apart"
            )
        if self.gpus < 1:
            raise MetricError(f"--gpus must be at least 1, got {self.gpus}")
        run_dir = self.run_dir
        if run_dir is None and self.model.ckpt is not None:
            parent = Path(self.model.ckpt).expanduser().resolve().parent
            run_dir = parent.parent if parent.name == "snapshots" else parent
        return replace(self, metrics=names, run_dir=run_dir)


class RankFailed(SgvError):
    """A spawned rank stopped on bad input and already printed its one line (exit status 2)."""


def evaluate(
    request: MetricsRequest, on_result: ResultFn | None = None, make_progress: ProgressFactory | None = None
) -> None:
    """Run every metric of `request`; rank 0 passes each result to `on_result`."""
    from engine import distributed

    request = request.checked()
    launched = distributed.from_torchrun()
    if launched is not None:
        rank, world = launched
        _run(rank, world, None, request, on_result, make_progress)
    elif request.gpus > 1:
        preflight(request)  # bad input: one clear line here, not a traceback from every rank
        import torch.multiprocessing as mp

        try:
            distributed.launch(request.gpus, _spawned, (request, on_result, make_progress))
        except mp.ProcessExitedException as e:
            if e.exit_code == 2:  # an SgvError a rank already printed as one line
                raise RankFailed("a metrics rank stopped on bad input") from None
            raise
    else:
        _run(0, 1, None, request, on_result, make_progress)


def preflight(request: MetricsRequest) -> None:
    """Open everything once in this process so a missing file fails here with one line."""
    from engine.metrics.fvd import real_clips
    from engine.metrics.registry import METRICS, _dataset, check

    check(request.metrics, request.detector)
    G = request.model.load("cpu")
    ds = _dataset(request.data, G)
    for name in request.metrics:
        if METRICS[name].kind == "fvd":
            real_clips(ds, METRICS[name], request.seed, 1)  # at least one video long enough


def _spawned(rank: int, world: int, port: int, request, on_result, make_progress) -> None:
    """A rank started by `gpus > 1`: input errors print one line (rank 0) and exit 2 instead of a traceback."""
    try:
        _run(rank, world, port, request, on_result, make_progress)
    except SgvError as e:
        if rank == 0:
            print(f"sgv: {e}", file=sys.stderr, flush=True)
        sys.exit(2)


def _run(rank: int, world: int, port: int | None, request: MetricsRequest, on_result, make_progress) -> None:
    from engine import distributed
    from engine.devices import device_kind
    from engine.metrics.registry import METRICS, calc, load_detector

    ranks = distributed.init(rank, world, device_kind(request.model.device), port)
    try:
        device = request.model.device
        if world > 1 or device is None:
            device = str(ranks.device)  # rank r uses GPU r
        G = request.model.load(device)
        detectors = {}
        for name in request.metrics:
            kind = METRICS[name].detector
            if kind not in detectors:
                detectors[kind] = load_detector(kind, request.detector, device=G.device)
            progress = make_progress(name) if (make_progress is not None and rank == 0) else None
            try:
                result = calc(
                    name, G, request.data, detector=detectors[kind], run_dir=request.run_dir,
                    snapshot=request.model.ckpt, num_runs=request.num_runs, num_videos=request.num_videos,
                    seed=request.seed, rank=rank, world=world, cache=request.cache, cache_dir=request.cache_dir,
                    batch_frames=request.batch_frames, workers=request.workers, progress=progress,
                )  # fmt: skip
            finally:
                if progress is not None:
                    progress.close()
            if rank == 0 and on_result is not None:
                on_result(result)
    finally:
        distributed.shutdown()
