"""The training loop (docs/model.md §8-§10): one function, tick-gated, phases as data.

Every random draw is keyed by (seed, step, phase, global slot) (engine/train/sampling.py), so a run
resumed from a state file, a run on N ranks and a run on one rank with the same global batch (and
the same per-pass batch) compute the same thing. Snapshots, samples, logs and metrics happen at tick
boundaries; `progress_fn` and `abort_fn` let the CLI and the app drive the same loop.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import os
import resource
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from engine import distributed
from engine.compiled import compile_networks
from engine.config import DiscriminatorConfig, GeneratorConfig, ModelConfig, from_dict, to_dict, to_json
from engine.fileio import append_jsonl, atomic_write_text
from engine.fileio import read_jsonl as read_log
from engine.nets import Discriminator, Generator
from engine.train.loss import VideoGANLoss, phases
from engine.train.options import TrainingError, TrainOptions
from engine.train.sampling import StepBatches, TrainClips, fake_draws, fake_motions, torch_generator
from engine.train.snapshot import list_states, resolve_resume, write_snapshot
from engine.train.state import TrainingState

ProgressFn = Callable[[dict], None]


@dataclass
class TrainResult:
    run_dir: Path
    cur_nimg: int
    model: Path | None  # newest model snapshot written by this call
    aborted: bool
    G_ema: torch.nn.Module | None = None  # this rank's final G_ema (ranks hold identical weights)


# ----------------------------------------------------------------------------------------------------
# Setup


def _open_data(opts: TrainOptions, resolution: int, ranks: distributed.Ranks):
    from engine.data import open_dataset

    # A folder of videos is converted into a frame cache on first use: rank 0 first, the others reuse it.
    if ranks.world > 1 and not ranks.is_main:
        torch.distributed.barrier()
    ds = open_dataset(opts.data, resolution=resolution)
    if ranks.world > 1 and ranks.is_main:
        torch.distributed.barrier()
    if len(ds) == 0:
        raise TrainingError(f"{opts.data}: the dataset has no usable videos")
    if ds.resolution != resolution:
        raise TrainingError(
            f"{opts.data}: frames are {ds.resolution}x{ds.resolution} but the model is {resolution}x{resolution}"
            f" (prepare the data with --res {resolution} or train with --res {ds.resolution})"
        )
    return ds


def _model_config(opts: TrainOptions, state: dict | None) -> ModelConfig:
    if state is not None:  # a resumed run keeps the architecture it was started with
        data = json.loads(state["model_config"])
        return ModelConfig(
            name=data["name"],
            generator=from_dict(GeneratorConfig, data["generator"], "state.generator"),
            discriminator=from_dict(DiscriminatorConfig, data["discriminator"], "state.discriminator"),
        )
    return None  # filled in once the dataset is open (c_dim, fps)


def _precision(opts: TrainOptions, device: torch.device) -> str:
    if opts.precision != "auto":
        return opts.precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "fp32"


def _adam(module: torch.nn.Module, lr: float, reg_interval: int) -> torch.optim.Adam:
    ratio = reg_interval / (reg_interval + 1) if reg_interval > 0 else 1.0  # lazy-regularisation scaling
    # Not fused=True: tried (2.7x faster optimizer step on a CPU, ~1 % of a step), it broke the bit-exact resume
    # that tests/test_train.py holds the loop to (weights off by ~1e-5 after a resume), and exactness wins.
    return torch.optim.Adam(module.parameters(), lr=lr * ratio, betas=(0.0, 0.99**ratio), eps=1e-8)


class _RunLock:
    """One training process per run folder (the app and a terminal may both try)."""

    def __init__(self, run_dir: Path):
        self.file = open(run_dir / ".lock", "a+")  # noqa: SIM115 (held for the run's lifetime)
        try:
            fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.close()
            raise TrainingError(f"{run_dir}: another training process is using this run folder") from None
        self.file.truncate(0)
        self.file.write(str(os.getpid()))
        self.file.flush()

    def release(self) -> None:
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()


def training_batches(clips, opts, ranks: distributed.Ranks, batch_gpu: int, start_step: int, loaders: list):
    """An iterator over this rank's batches of `clips` from step `start_step` on (StepBatches), read by
    `opts.workers` loader processes (default: up to 3, leaving a core); added to `loaders` (open_run's list,
    which stops its workers at the end). With `opts.data_on_device`, gathered from the whole dataset held on
    the device instead (engine/train/device_data.py)."""
    workers = opts.workers if opts.workers is not None else max(0, min(3, (os.cpu_count() or 1) - 1))
    if getattr(opts, "data_on_device", False):
        from engine.train.device_data import DeviceClips, device_budget

        on_device = DeviceClips(clips, ranks.device, device_budget(ranks.device), threads=max(workers, 1))
        return on_device.batches(StepBatches(opts.batch, ranks.rank, ranks.world, batch_gpu, start_step=start_step))
    loader = torch.utils.data.DataLoader(
        clips,
        batch_sampler=StepBatches(opts.batch, ranks.rank, ranks.world, batch_gpu, start_step=start_step),
        num_workers=workers,
        pin_memory=ranks.device.type == "cuda",
        persistent_workers=workers > 0,
        prefetch_factor=2 if workers > 0 else None,
        worker_init_fn=_ignore_stop_signals,
    )
    batches = iter(loader)
    loaders.append(batches)
    return batches


@contextlib.contextmanager
def open_run(outdir, ranks: distributed.Ranks, resume: str | None, check_state: Callable | None = None):
    """The run folder of a training loop (base or SR): made and locked by the main rank, `resume` resolved
    ("latest", a state file or a run folder), a fresh run refused in a folder that already holds one. Yields
    (run_dir, the resumed state dict or None, a list the loop adds its data iterators to); on the way out, also
    after an error, their loader workers are stopped and the lock released. `check_state(path, state)` may
    refuse a state before the loop starts."""
    run_dir = Path(outdir)
    lock = None
    loaders: list = []
    if ranks.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        lock = _RunLock(run_dir)
    try:
        resumed = resolve_resume(resume, run_dir)
        if resume is None and ranks.is_main and ((run_dir / "log.jsonl").exists() or list_states(run_dir)):
            raise TrainingError(
                f"{run_dir}: this run folder already holds a training run; continue it with --resume latest "
                "or choose another --outdir"
            )
        if resumed is not None and check_state is not None:
            check_state(*resumed)
        if resumed is None and ranks.is_main:  # `--resume latest` with nothing to resume: a fresh start
            _trim_log(run_dir / "log.jsonl", 0)
        yield run_dir, (resumed[1] if resumed else None), loaders
    finally:
        for it in loaders:  # stop loader workers now, also after an error (else exit can wait on them forever)
            shutdown = getattr(it, "_shutdown_workers", None)
            if shutdown is not None:
                shutdown()
        if lock is not None:
            lock.release()


# ----------------------------------------------------------------------------------------------------
# Per-tick statistics, owned by the loop (no globals), summed over ranks at tick boundaries.


class TickStats:
    """Sums stay on the values' device until the tick: reading them every phase would make the host wait for
    the GPU several times a step."""

    def __init__(self):
        self.sums: dict[str, list] = {}  # name -> [Σ values (float64 tensor on the values' device), count]

    def add(self, name: str, values: torch.Tensor) -> None:
        v = values.detach().double()
        s = self.sums.setdefault(name, [0.0, 0])
        s[0] = v.sum() + s[0]
        s[1] += v.numel()

    def reduce(self, ranks: distributed.Ranks) -> dict[str, float]:
        names = sorted(self.sums)
        names = _agreed_names(names, ranks)
        parts = [
            torch.as_tensor(x, dtype=torch.float64, device=ranks.device).reshape(1)
            for n in names
            for x in self.sums.get(n, [0.0, 0])
        ]
        flat = torch.cat(parts) if parts else torch.zeros(0, dtype=torch.float64, device=ranks.device)
        flat = distributed.reduce_sum(flat, ranks.world).cpu()
        self.sums = {}
        return {n: flat[2 * i].item() / flat[2 * i + 1].item() for i, n in enumerate(names) if flat[2 * i + 1] > 0}


def _agreed_names(names: list[str], ranks: distributed.Ranks) -> list[str]:
    if ranks.world == 1:
        return names
    gathered: list = [None] * ranks.world
    torch.distributed.all_gather_object(gathered, names)
    return sorted(set().union(*gathered))


# ----------------------------------------------------------------------------------------------------
# The loop


def training_loop(
    opts: TrainOptions,
    ranks: distributed.Ranks | None = None,
    progress_fn: ProgressFn | None = None,
    abort_fn: Callable[[], bool] | None = None,
    resume: str | None = None,
) -> TrainResult:
    """Train (or continue, with `resume` = "latest", a state file or a run folder) until total_kimg or abort."""
    opts.validate()
    if opts.metrics:  # a missing detector should fail now, not at the first snapshot hours from now
        from engine.metrics.registry import check

        check(opts.metrics)
    ranks = ranks or distributed.Ranks(device=torch.device(opts.device or "cpu"))
    progress_fn = progress_fn or (lambda info: None)
    abort_fn = abort_fn or (lambda: False)
    with open_run(opts.outdir, ranks, resume) as (run_dir, state, loaders):
        return _train(opts, ranks, ranks.device, run_dir, progress_fn, abort_fn, state, loaders)


def _train(opts, ranks, device, run_dir, progress_fn, abort_fn, state: dict | None, loaders: list) -> TrainResult:
    torch.backends.cuda.matmul.allow_tf32 = False  # upstream trains with TF32 off
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = not opts.deterministic
    if opts.deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)

    # -- resume state, data, networks -------------------------------------------------------------------
    cfg = _model_config(opts, state)
    res = cfg.generator.synthesis.img_resolution if cfg else opts.model_config().generator.synthesis.img_resolution
    dataset = _open_data(opts, res, ranks)
    if cfg is None:
        cfg = opts.model_config(c_dim=dataset.c_dim, fps=dataset.fps)
    if cfg.generator.mapping.c_dim != dataset.c_dim:
        raise TrainingError(
            f"{opts.data}: dataset has {dataset.c_dim} label dims, the model {cfg.generator.mapping.c_dim}"
        )
    lengths = np.array([dataset.num_frames(i) for i in range(len(dataset))], dtype=np.int64)
    labels = np.stack([dataset.label(i) for i in range(len(dataset))]).astype(np.float32) if dataset.c_dim else None

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(opts.seed)
        G = Generator(cfg.generator)
        D = Discriminator(cfg.discriminator)
    G, D = G.to(device).train().requires_grad_(False), D.to(device).train().requires_grad_(False)
    G_ema = copy.deepcopy(G).eval()
    augment = None
    if opts.aug != "noaug":
        from engine.train.augment import bgc

        augment = bgc().to(device)
        augment.p.fill_(opts.aug_p)
    lr_g, lr_d = opts.learning_rates(res)
    opt_G = _adam(G, lr_g, opts.g_reg_interval)
    opt_D = _adam(D, lr_d, opts.d_reg_interval)
    r1_gamma = opts.r1_gamma(res)
    precision = _precision(opts, device)
    note = lambda text: progress_fn({"event": "note", "text": text})  # noqa: E731
    compiled = compile_networks(G, D, opts.compile, note)
    loss_fn = VideoGANLoss(G, D, None, r1_gamma, precision, channels_last=device.type == "cpu", compiled=compiled)
    step_phases = phases(opts.d_reg_interval, r1_gamma)
    motion_cfg = cfg.generator.motion
    delta_z, motion_context, motion_z_dim = motion_cfg.delta_z, motion_cfg.context, motion_cfg.z_dim

    ts = TrainingState(
        modules={"G": G, "D": D, "G_ema": G_ema}, optimizers={"opt_G": opt_G, "opt_D": opt_D}, augment=augment
    )
    bad_steps = 0
    ada_sum: torch.Tensor | float = 0.0  # Σ sign(D(real)) not yet folded into ts.ada_signs (kept on the device)
    if state is not None:
        ts.load_state_dict(state)
        if ranks.is_main:
            _trim_log(run_dir / "log.jsonl", ts.cur_nimg)
    aug_p = float(augment.p) if augment is not None else 0.0  # host copy: read again only when ADA moves p

    if ranks.is_main:
        atomic_write_text(run_dir / "training_options.json", opts.to_json())
        atomic_write_text(run_dir / "model_config.json", json.dumps(to_dict(cfg), indent=2, sort_keys=True))
        (run_dir / "samples").mkdir(exist_ok=True)

    # -- data loader ------------------------------------------------------------------------------------
    per_rank = opts.batch // ranks.world
    batch_gpu = opts.batch_gpu or per_rank
    rounds = per_rank // batch_gpu
    k = opts.num_frames
    clips = TrainClips(dataset, k, opts.max_dist, opts.max_num_frames, opts.mirror, opts.seed)
    batches = training_batches(clips, opts, ranks, batch_gpu, ts.step, loaders)

    # -- loop -------------------------------------------------------------------------------------------
    total_nimg = int(round(opts.total_kimg * 1000))
    stats = TickStats()
    start_time = tick_start_time = time.time()
    total_sec_before = ts.total_sec
    tick_start_nimg = ts.cur_nimg
    last_model: Path | None = None
    progress_fn({"event": "start", "nimg": ts.cur_nimg, "total_nimg": total_nimg, "run_dir": str(run_dir)})
    while True:
        if ts.cur_nimg >= total_nimg:
            done, aborted = True, False
        else:
            reals = []
            for _ in range(rounds):
                frames, t_real, c_real = _next_batch(batches)
                img = frames.to(device, non_blocking=True).to(torch.float32) / 127.5 - 1  # [bg, k, 3, R, R]
                reals.append((img, t_real.to(device), c_real.to(device) if dataset.c_dim else None))

            # -- phases: accumulate over rounds, average over ranks, step -----------------------------------
            for phase_idx, phase in enumerate(step_phases):
                if ts.step % phase.interval:
                    continue
                module, opt = (G, opt_G) if phase.module == "G" else (D, opt_D)
                module.requires_grad_(True)
                opt.zero_grad(set_to_none=True)
                loss_fn.reset_w_stats()
                phase_loss = torch.zeros((), dtype=torch.float64, device=device)
                for r, real in enumerate(reals):
                    first = ts.step * opts.batch + ranks.rank * per_rank + r * batch_gpu
                    slots = range(first, first + batch_gpu)
                    z, seeds, t_fake, vids = fake_draws(
                        opts.seed, ts.step, phase_idx, slots, lengths, k, opts.max_dist, opts.max_num_frames, G.z_dim
                    )
                    c_fake = torch.from_numpy(labels[vids]).to(device) if labels is not None else None
                    motions = fake_motions(seeds, opts.max_num_frames, delta_z, motion_context, motion_z_dim)
                    fake = (z.to(device), c_fake, t_fake, motions)
                    if augment is not None and aug_p > 0:
                        gen = torch_generator(opts.seed, 3, ts.step, phase_idx, first)
                        loss_fn.augment = lambda x, gen=gen: augment(x, generator=gen)
                    else:
                        loss_fn.augment = None
                    loss, phase_stats = loss_fn.phase_loss(phase, real, fake)
                    (loss * (batch_gpu / per_rank)).backward()
                    phase_loss += loss.detach().double() * (batch_gpu / per_rank)
                    for name, values in phase_stats.items():
                        stats.add(name, values)
                    if "Loss/signs/real" in phase_stats and augment is not None:  # summed on the device
                        ada_sum = phase_stats["Loss/signs/real"].double().sum() + ada_sum
                        ts.ada_signs[1] += phase_stats["Loss/signs/real"].numel()
                module.requires_grad_(False)
                if phase.name == "Gmain":
                    _update_w_avg(G, loss_fn, ranks)
                finite = bool(torch.isfinite(distributed.reduce_sum(phase_loss.reshape(1), ranks.world)).all())
                if finite:
                    distributed.average_gradients([p for p in module.parameters()], ranks.world)
                    opt.step()
                else:
                    bad_steps += 1
                    stats.add("Progress/skipped_phases", torch.ones(1))
                    if bad_steps > opts.max_bad_steps:
                        raise TrainingError(
                            f"{run_dir}: losses were NaN/inf in {bad_steps} consecutive phases at "
                            f"kimg {ts.cur_nimg / 1000:.1f}; the last good snapshot is kept "
                            "(try a lower --lr or --gamma)"
                        )
                    continue
                bad_steps = 0

            # -- EMA, counters, ADA ------------------------------------------------------------------------
            ema_nimg = opts.ema_nimg()
            if opts.ema_rampup is not None:
                ema_nimg = min(ema_nimg, ts.cur_nimg * opts.ema_rampup)
            beta = 0.5 ** (opts.batch / max(ema_nimg, 1e-8))
            with torch.no_grad():
                for p_ema, p in zip(G_ema.parameters(), G.parameters()):
                    p_ema.copy_(p.lerp(p_ema, beta))
                for b_ema, b in zip(G_ema.buffers(), G.buffers()):
                    b_ema.copy_(b)
            ts.cur_nimg += opts.batch * k
            ts.step += 1
            if augment is not None and opts.aug == "ada" and ts.step % opts.ada_interval == 0:
                ts.ada_signs[0] += float(ada_sum)  # the one read of the signs, every ada_interval steps
                ada_sum = 0.0
                signs = distributed.reduce_sum(
                    torch.tensor(ts.ada_signs, dtype=torch.float64, device=device), ranks.world
                )
                if signs[1] > 0:
                    rt = float(signs[0] / signs[1])
                    adjust = np.sign(rt - opts.ada_target) * (opts.batch * opts.ada_interval) / (opts.ada_kimg * 1000)
                    augment.p.copy_((augment.p + adjust).clamp(0, 1))
                    aug_p = float(augment.p)
                ts.ada_signs = [0.0, 0.0]
            done = ts.cur_nimg >= total_nimg
            aborted = distributed.broadcast_flag(bool(abort_fn()) if ranks.is_main else False, ranks)
            progress_fn({"event": "step", "nimg": ts.cur_nimg, "total_nimg": total_nimg})
            if not (done or aborted or ts.cur_nimg >= tick_start_nimg + opts.tick_kimg * 1000):
                continue

        # -- tick: log, snapshot --------------------------------------------------------------------------
        now = time.time()
        tick_kimg = (ts.cur_nimg - tick_start_nimg) / 1000
        tick_stats = stats.reduce(ranks)
        ts.ada_signs[0] += float(ada_sum)  # the state a snapshot writes holds every sign seen
        ada_sum = 0.0
        sec_per_kimg = (now - tick_start_time) / tick_kimg if tick_kimg > 0 else float("nan")
        ts.total_sec = total_sec_before + now - start_time
        snapshot = done or aborted or (ts.cur_tick + 1) % max(opts.snap_ticks, 1) == 0
        line = {
            "tick": ts.cur_tick,
            "kimg": ts.cur_nimg / 1000,
            "nimg": ts.cur_nimg,
            "step": ts.step,
            "total_kimg": opts.total_kimg,
            "sec_per_tick": now - tick_start_time,
            "sec_per_kimg": sec_per_kimg,
            "total_sec": ts.total_sec,
            "eta_sec": max(total_nimg - ts.cur_nimg, 0) / 1000 * sec_per_kimg if tick_kimg > 0 else None,
            "loss_G": tick_stats.get("Loss/G/loss"),
            "loss_D": tick_stats.get("Loss/D/loss"),
            "r1_penalty": tick_stats.get("Loss/r1_penalty"),
            "loss_D_reg": tick_stats.get("Loss/D/reg"),
            "scores_real": tick_stats.get("Loss/scores/real"),
            "scores_fake": tick_stats.get("Loss/scores/fake"),
            "skipped_phases": tick_stats.get("Progress/skipped_phases", 0.0),
            "aug_p": float(augment.p) if augment is not None else 0.0,
            "lr_G": opt_G.param_groups[0]["lr"],
            "lr_D": opt_D.param_groups[0]["lr"],
            "r1_gamma": r1_gamma,
            "peak_mem_bytes": _peak_memory(device),
            "device": str(device),
            "ranks": ranks.world,
            "timestamp": now,
        }
        if tick_kimg > 0:
            ts.cur_tick += 1  # before the snapshot: a resumed run starts with the next tick
        if ranks.is_main and tick_kimg > 0:
            if snapshot:
                last_model = _snapshot(run_dir, opts, cfg, ts, labels)
                line["snapshot"] = str(last_model)
            append_jsonl(run_dir / "log.jsonl", line)  # readers (the app) skip a torn last line
        if opts.metrics and snapshot and tick_kimg > 0:
            _snapshot_metrics(opts, G_ema, run_dir, ranks, ts.cur_nimg)
        if tick_kimg > 0:
            progress_fn({"event": "tick", **line})
        tick_start_nimg, tick_start_time = ts.cur_nimg, time.time()
        if done or aborted:
            break

    progress_fn(
        {"event": "done", "nimg": ts.cur_nimg, "aborted": aborted, "model": str(last_model) if last_model else None}
    )
    return TrainResult(run_dir, ts.cur_nimg, last_model, aborted, G_ema)


# ----------------------------------------------------------------------------------------------------
# Tick helpers


def _snapshot(run_dir, opts: TrainOptions, cfg: ModelConfig, ts: TrainingState, labels) -> Path:
    """Model file, state file (`ts.state_dict()` plus the config and options) and sample grid of this tick."""
    cur_nimg, G_ema = ts.cur_nimg, ts.modules["G_ema"]
    state = ts.state_dict(extra={"model_config": to_json(cfg), "options": opts.to_json()})
    provenance = {
        "trained_by": "sgv train",
        "preset": opts.preset,
        "data": str(opts.data),
        "kimg": round(cur_nimg / 1000, 3),
        "run": str(Path(run_dir).resolve()),
    }
    model = write_snapshot(run_dir, cur_nimg, G_ema, state, provenance, opts.keep_states)
    from engine.train.samples import write_samples

    write_samples(G_ema, Path(run_dir) / "samples", cur_nimg, opts.sample_contents, opts.sample_seconds, labels)
    return model


def _snapshot_metrics(opts, G_ema, run_dir, ranks, cur_nimg) -> None:
    import engine.metrics
    from engine.train.snapshot import model_path

    for name in opts.metrics:
        engine.metrics.calc(
            name, G_ema, opts.data, run_dir=run_dir, snapshot=str(model_path(run_dir, cur_nimg)),
            rank=ranks.rank, world=ranks.world,
        )  # fmt: skip


def _next_batch(batches):
    """The next real batch; an error inside a loader worker becomes one line (the worker's own message)."""
    try:
        return next(batches)
    except Exception as e:
        text = str(e)
        if "Original Traceback" not in text:
            raise
        last = text.strip().splitlines()[-1]  # "engine.data.base.DatasetError: <path>: <problem>"
        kind, _, message = last.partition(": ")
        raise TrainingError(f"reading training data failed: {message if kind.endswith('Error') else last}") from None


def _ignore_stop_signals(worker_id: int) -> None:
    """Loader workers leave Ctrl-C / SIGTERM to the main process. Both reach the whole process group (a
    terminal's Ctrl-C, `timeout`, an app stopping its child group); a worker dying of them would crash the
    main process before it writes its snapshot (seen on a GPU run). The main process ends the workers."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _update_w_avg(G, loss_fn: VideoGANLoss, ranks: distributed.Ranks) -> None:
    """w_avg ← lerp(mean w of the global batch, w_avg, β): the same on every rank."""
    mapping = G.mapping
    if mapping.w_avg_beta is None or loss_fn.w_count == 0:
        return
    w_sum = loss_fn.w_sum.reshape(-1)
    packed = torch.cat([w_sum, torch.tensor([float(loss_fn.w_count)], dtype=torch.float64, device=w_sum.device)])
    packed = distributed.reduce_sum(packed.to(ranks.device), ranks.world)
    mean = (packed[:-1] / packed[-1]).to(mapping.w_avg.dtype)
    with torch.no_grad():
        mapping.w_avg.copy_(mean.lerp(mapping.w_avg, mapping.w_avg_beta))


def _peak_memory(device: torch.device) -> int:
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024  # Linux reports KiB


def _trim_log(path: Path, nimg: int) -> None:
    """On resume, drop ticks after the state being resumed (they will be redone)."""
    if not path.exists():
        return
    kept = [json.dumps(x) for x in read_log(path) if x.get("nimg", 0) <= nimg]
    atomic_write_text(path, "".join(k + "\n" for k in kept))
