"""Starting a run: one process, N spawned ranks, or ranks started by torchrun; and stopping it well.

Ctrl-C or SIGTERM asks the loop to stop after the current step: it writes a snapshot and returns. A
second Ctrl-C interrupts at once (the atomic writes keep the previous snapshot whole). With N ranks the
parent forwards SIGTERM to its children and waits for them to finish their snapshot.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from engine import distributed
from engine.devices import device_kind
from engine.train.loop import ProgressFn, TrainResult, training_loop
from engine.train.options import TrainingError, TrainOptions


class StopFlag:
    """Set by SIGINT/SIGTERM; polled by the loop as its abort_fn."""

    def __init__(self):
        self.requested = False
        self.signals = 0

    def __call__(self) -> bool:
        return self.requested

    def install(self) -> Callable[[], None]:
        if threading.current_thread() is not threading.main_thread():
            return lambda: None  # signals can only be handled on the main thread (e.g. inside the app)
        previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

        def handler(signum, frame):
            self.signals += 1
            if self.requested and signum == signal.SIGINT and self.signals > 1:
                raise KeyboardInterrupt  # second Ctrl-C: stop now
            self.requested = True
            print(
                "\nsgv train: stopping after this step and writing a snapshot (Ctrl-C again to stop at once)",
                file=sys.stderr,
            )

        for s in previous:
            signal.signal(s, handler)
        return lambda: [signal.signal(s, h) for s, h in previous.items()]


def run_training(
    opts: TrainOptions,
    resume: str | None = None,
    progress_fn: ProgressFn | None = None,
    abort_fn: Callable[[], bool] | None = None,
    make_progress: Callable[[int], ProgressFn] | None = None,
) -> TrainResult | None:
    """Run to completion or until stopped. `make_progress(rank)` builds a progress callback inside each
    spawned rank (callbacks cannot cross process boundaries); it must be picklable (a module-level function).
    """
    return launch(training_loop, opts, resume, progress_fn, abort_fn, make_progress)


def launch(loop: Callable, opts, resume=None, progress_fn=None, abort_fn=None, make_progress=None):
    """Run `loop(opts, ranks, progress_fn, abort_fn, resume)` (training_loop, or the SR level's loop; a
    module-level function, so spawned ranks can import it) in this process, as a torchrun rank, or in
    opts.gpus spawned ranks (then None). Ctrl-C / SIGTERM stop it after the step with a snapshot."""
    opts.validate()
    kind = device_kind(opts.device)
    if kind == "cuda" and opts.gpus > torch.cuda.device_count():
        raise TrainingError(f"--gpus {opts.gpus}: only {torch.cuda.device_count()} CUDA device(s) visible")
    under = distributed.from_torchrun()
    if under is not None:
        rank, world = under
        if opts.batch % world:
            raise TrainingError(f"--batch {opts.batch} must be divisible by the {world} torchrun ranks")
        return _rank(
            loop, rank, world, None, opts.replace(gpus=world), resume, kind, make_progress, progress_fn, abort_fn
        )
    if opts.gpus == 1:
        return _rank(loop, 0, 1, None, opts, resume, kind, make_progress, progress_fn, abort_fn)
    _spawn(loop, opts, resume, kind, make_progress)
    return None


def _rank(loop, rank, world, port, opts, resume, kind, make_progress, progress_fn=None, abort_fn=None):
    ranks = distributed.init(rank, world, kind, port)
    stop = StopFlag()
    restore = stop.install()
    if progress_fn is None and make_progress is not None:
        progress_fn = make_progress(rank)
    polled = stop if abort_fn is None else (lambda: stop() or abort_fn())
    try:
        return loop(opts, ranks, progress_fn, polled, resume)
    finally:
        restore()
        distributed.shutdown()


def _spawned(rank, world, port, loop, opts, resume, kind, make_progress) -> None:
    _rank(loop, rank, world, port, opts, resume, kind, make_progress)


def _spawn(loop, opts, resume, kind: str, make_progress) -> None:
    """opts.gpus ranks each running `loop`; SIGTERM is forwarded to them."""
    import torch.multiprocessing as mp

    port = distributed.free_port()
    ctx = mp.start_processes(
        _spawned,
        args=(opts.gpus, port, loop, opts, resume, kind, make_progress),
        nprocs=opts.gpus,
        join=False,
        start_method="spawn",
    )

    def forward(signum, frame):  # children in our process group get Ctrl-C themselves; SIGTERM is ours alone
        if signum == signal.SIGTERM:
            for p in ctx.processes:
                if p.is_alive():
                    p.terminate()

    previous = {s: signal.signal(s, forward) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not ctx.join():
            pass
    except mp.ProcessRaisedException as e:
        # The child's traceback is in the message; its last line names the error.
        last = str(e).strip().splitlines()[-1]
        raise TrainingError(f"a training rank failed: {last}") from None
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


@dataclass(frozen=True)
class RunPlan:
    """What a run would do, found by opening everything and writing nothing (`sgv train --dry-run`)."""

    dataset: dict  # the dataset's describe()
    model_name: str
    resolution: int
    g_params: int
    d_params: int
    steps: int  # optimizer steps to total_kimg
    resume_from: Path | None  # the state file a resume would read
    resume_nimg: int  # its cur_nimg (0 without resume)


def check_run(opts: TrainOptions, resume: str | None = None) -> RunPlan:
    """Open the dataset, build both networks and find the resume state: bad input fails here, with one line."""
    from engine.data import open_dataset
    from engine.nets import Discriminator, Generator
    from engine.train.snapshot import resolve_resume

    cfg = opts.model_config()
    res = cfg.generator.synthesis.img_resolution
    ds = open_dataset(opts.data, resolution=res)
    cfg = opts.model_config(c_dim=ds.c_dim, fps=ds.fps)
    G, D = Generator(cfg.generator), Discriminator(cfg.discriminator)
    resumed = resolve_resume(resume, Path(opts.outdir))
    return RunPlan(
        dataset=ds.describe(),
        model_name=cfg.name,
        resolution=res,
        g_params=sum(p.numel() for p in G.parameters()),
        d_params=sum(p.numel() for p in D.parameters()),
        steps=int(opts.total_kimg * 1000 // (opts.batch * opts.num_frames)),
        resume_from=resumed[0] if resumed else None,
        resume_nimg=resumed[1]["cur_nimg"] if resumed else 0,
    )


def read_run_options(run_dir: Path) -> TrainOptions | None:
    path = Path(run_dir) / "training_options.json"
    return TrainOptions.from_json_file(path) if path.exists() else None
