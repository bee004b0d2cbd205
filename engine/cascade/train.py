"""Training the SR level (`sgv train-sr`): the base loop's machinery with the SR level's objective.

Shared with engine/train: the run folder and its lock, snapshots (model before state, atomic), exact
`--resume latest`, Ctrl-C / SIGTERM writing a final snapshot, torchrun ranks with hand-averaged gradients,
`log.jsonl` ticks, the progress bar, deterministic per-(seed, step, slot) draws and the loader. Specific to the
SR level (docs/cascade.md):
  - clips of `num_frames` consecutive high-resolution frames and their low-resolution windows (engine.cascade.data);
  - G's low-resolution input is degraded with probability degrade_p; D conditions on the clean one;
  - the matching discriminator keeps each sample's low-resolution half with probability lr_cond_prob;
  - G: non-saturating loss + recon_weight · MSE to the real frames; D: logistic loss + lazy R1 (γ, every 16 steps).
"""

from __future__ import annotations

import copy
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from engine import distributed
from engine.cascade.checkpoint import load_sr, save_sr
from engine.cascade.config import SRDiscriminatorConfig, SRGeneratorConfig, SRModelConfig
from engine.cascade.data import SRClips, degrade, degrade_generator
from engine.cascade.nets import SRDiscriminator, SRGenerator, windows_of
from engine.cascade.options import RUN_KIND, SRTrainOptions
from engine.config import from_dict, to_json
from engine.fileio import append_jsonl, atomic_write_text
from engine.train.loop import (
    TickStats,
    _adam,
    _next_batch,
    _peak_memory,
    _trim_log,
    open_run,
    training_batches,
)
from engine.train.loss import d_logistic, g_nonsaturating, r1_penalty
from engine.train.options import TrainingError
from engine.train.sampling import rng
from engine.train.snapshot import write_snapshot
from engine.train.state import TrainingState

ProgressFn = Callable[[dict], None]


@dataclass
class SRTrainResult:
    run_dir: Path
    cur_nimg: int
    model: Path | None
    aborted: bool
    G_ema: SRGenerator | None = None


def to_float(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.float32) / 127.5 - 1


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR in dB of images in [-1, 1] (peak-to-peak 2), averaged as one MSE over everything."""
    mse = float((a.float().clamp(-1, 1) - b.float().clamp(-1, 1)).square().mean())
    return 10 * np.log10(4.0 / max(mse, 1e-12))


def bicubic(lr: torch.Tensor, size: int) -> torch.Tensor:
    """The baseline upscaler: [..., C, h, h] → [..., C, size, size]."""
    shape = lr.shape
    x = F.interpolate(lr.reshape(-1, *shape[-3:]).float(), size=(size, size), mode="bicubic", align_corners=False)
    return x.reshape(*shape[:-2], size, size)


# ----------------------------------------------------------------------------------------------------
# Setup


def _open_views(opts: SRTrainOptions, lr_res_hint: int | None):
    from engine.data import open_dataset

    probe = open_dataset(opts.data, resolution=None if lr_res_hint is None else lr_res_hint * opts.scale)
    if len(probe) == 0:
        raise TrainingError(f"{opts.data}: the dataset has no usable videos")
    lr_res = lr_res_hint if lr_res_hint is not None else probe.resolution // opts.scale
    if lr_res < 8 or lr_res & (lr_res - 1):
        raise TrainingError(
            f"{opts.data}: frames are {probe.resolution}x{probe.resolution}; ×{opts.scale} needs a power-of-two "
            f"input side >= 8 (give --base-res or prepare the data at another --res)"
        )
    hr = open_dataset(opts.data, resolution=lr_res * opts.scale)
    lr = open_dataset(opts.data, resolution=lr_res)
    return hr, lr, lr_res


def _base_facts(opts: SRTrainOptions) -> tuple[int | None, float | None]:
    if not opts.base:
        return opts.base_resolution, None
    from engine.checkpoint import read_model_file

    cfg, _, _ = read_model_file(opts.base)
    res = cfg.synthesis.img_resolution
    if opts.base_resolution is not None and opts.base_resolution != res:
        raise TrainingError(f"{opts.base}: renders {res}x{res}, but --base-res is {opts.base_resolution}")
    return res, cfg.native_fps


def _config_from_state(state: dict) -> SRModelConfig:
    import json

    data = json.loads(state["model_config"])
    return SRModelConfig(
        name=data["name"],
        generator=from_dict(SRGeneratorConfig, data["generator"], "state.generator"),
        discriminator=from_dict(SRDiscriminatorConfig, data["discriminator"], "state.discriminator"),
    )


# ----------------------------------------------------------------------------------------------------
# Entry points


def run_sr_training(
    opts: SRTrainOptions,
    resume: str | None = None,
    progress_fn: ProgressFn | None = None,
    abort_fn: Callable[[], bool] | None = None,
    make_progress: Callable[[int], ProgressFn] | None = None,
) -> SRTrainResult | None:
    """One process, a torchrun rank, or (opts.gpus > 1) that many spawned ranks, as `sgv train` starts them
    (engine/train/run.py); None after spawning. Ctrl-C / SIGTERM stop after the step with a snapshot.
    `make_progress(rank)` builds each rank's progress callback; it must be picklable."""
    from engine.train.run import launch

    return launch(sr_training_loop, opts, resume, progress_fn, abort_fn, make_progress)


def sr_training_loop(
    opts: SRTrainOptions,
    ranks: distributed.Ranks | None = None,
    progress_fn: ProgressFn | None = None,
    abort_fn: Callable[[], bool] | None = None,
    resume: str | None = None,
) -> SRTrainResult:
    opts.validate()
    if opts.metrics:  # a missing detector should fail now, as in `sgv train`, not at the first snapshot
        from engine.metrics.registry import check

        check(opts.metrics)
    ranks = ranks or distributed.Ranks(device=torch.device(opts.device or "cpu"))
    progress_fn = progress_fn or (lambda info: None)
    abort_fn = abort_fn or (lambda: False)
    with open_run(opts.outdir, ranks, resume, _check_sr_state) as (run_dir, state, loaders):
        return _train(opts, ranks, run_dir, progress_fn, abort_fn, state, loaders)


def _check_sr_state(path, state: dict) -> None:
    if state.get("kind") != RUN_KIND:
        raise TrainingError(f"{path}: a base-model training state, not an SR run (use `sgv train`)")


def _train(opts, ranks, run_dir, progress_fn, abort_fn, state, loaders) -> SRTrainResult:
    device = ranks.device
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False

    # -- config, data, networks -------------------------------------------------------------------------
    base_res, base_fps = _base_facts(opts)
    cfg = _config_from_state(state) if state is not None else None
    hr_ds, lr_ds, lr_res = _open_views(opts, cfg.generator.base_resolution if cfg else base_res)
    fps = base_fps or hr_ds.fps
    if base_fps is not None and abs(base_fps - hr_ds.fps) > 1e-6 * base_fps:
        raise TrainingError(f"{opts.data}: the data runs at {hr_ds.fps:g} fps, the base model at {base_fps:g} fps")
    if cfg is None:
        cfg = opts.model_config(lr_res, fps)
    gcfg = cfg.generator
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(opts.seed)
        G = SRGenerator(gcfg)
        D = SRDiscriminator(cfg.discriminator)
    G, D = G.to(device).train().requires_grad_(False), D.to(device).train().requires_grad_(False)
    G_ema = copy.deepcopy(G).eval()
    opt_G = _adam(G, opts.lr_g, 0)
    opt_D = _adam(D, opts.lr_d, opts.d_reg_interval)
    ts = TrainingState(modules={"G": G, "D": D, "G_ema": G_ema}, optimizers={"opt_G": opt_G, "opt_D": opt_D})
    if state is not None:
        ts.load_state_dict(state)
    cur_nimg, step, cur_tick = ts.cur_nimg, ts.step, ts.cur_tick
    if state is not None:
        if ranks.is_main:
            _trim_log(run_dir / "log.jsonl", cur_nimg)
    if ranks.is_main:
        atomic_write_text(run_dir / "training_options.json", opts.to_json())
        atomic_write_text(run_dir / "model_config.json", to_json(cfg))
        (run_dir / "samples").mkdir(exist_ok=True)

    # -- loader -------------------------------------------------------------------------------------------
    if opts.batch % ranks.world:
        raise TrainingError(f"--batch {opts.batch} must be divisible by the {ranks.world} ranks")
    per_rank = opts.batch // ranks.world
    batch_gpu = opts.batch_gpu or per_rank
    if per_rank % batch_gpu:
        raise TrainingError(f"--batch-gpu {batch_gpu} must divide the per-rank batch {per_rank}")
    group = min(cfg.discriminator.mbstd_group_size, batch_gpu)
    if batch_gpu % group:
        raise TrainingError(f"clips per pass ({batch_gpu}) must be a multiple of {group} (D's minibatch groups)")
    rounds = per_rank // batch_gpu
    clips = SRClips(hr_ds, lr_ds, opts.num_frames, gcfg.window, opts.mirror, opts.seed)
    batches = training_batches(clips, opts, ranks, batch_gpu, step, loaders)

    k, nf = gcfg.window, opts.num_frames
    samples = _SampleSet(hr_ds, lr_ds, opts, gcfg, device)
    total_nimg = int(round(opts.total_kimg * 1000))
    stats = TickStats()
    start_time = tick_start_time = time.time()
    total_sec_before = float(state["total_sec"]) if state is not None else 0.0
    tick_start_nimg = cur_nimg
    last_model, bad_steps = None, 0
    progress_fn({"event": "start", "nimg": cur_nimg, "total_nimg": total_nimg, "run_dir": str(run_dir)})
    while True:
        if cur_nimg >= total_nimg:
            done, aborted = True, False
        else:
            reals = []
            for _ in range(rounds):
                hr_u8, lr_u8 = _next_batch(batches)
                reals.append((to_float(hr_u8.to(device)), to_float(lr_u8.to(device))))
            for phase_idx, phase in enumerate(("Gmain", "Dmain", "Dreg")):
                if phase == "Dreg" and (opts.gamma <= 0 or step % opts.d_reg_interval):
                    continue
                module, opt = (G, opt_G) if phase == "Gmain" else (D, opt_D)
                module.requires_grad_(True)
                opt.zero_grad(set_to_none=True)
                phase_loss = torch.zeros((), dtype=torch.float64, device=device)
                for r, (hr, lr) in enumerate(reals):
                    first = step * opts.batch + ranks.rank * per_rank + r * batch_gpu
                    loss, phase_stats = _phase_loss(
                        phase, G, D, opts, hr, lr, k, nf, _draws(opts, step, phase_idx, first, batch_gpu, G.z_dim)
                    )
                    (loss * (batch_gpu / per_rank)).backward()
                    phase_loss += loss.detach().double() * (batch_gpu / per_rank)
                    for name, values in phase_stats.items():
                        stats.add(name, values)
                module.requires_grad_(False)
                if bool(torch.isfinite(distributed.reduce_sum(phase_loss.reshape(1), ranks.world)).all()):
                    distributed.average_gradients(list(module.parameters()), ranks.world)
                    opt.step()
                    bad_steps = 0
                else:
                    bad_steps += 1
                    stats.add("Progress/skipped_phases", torch.ones(1))
                    if bad_steps > opts.max_bad_steps:
                        raise TrainingError(
                            f"{run_dir}: losses were NaN/inf in {bad_steps} consecutive phases at kimg "
                            f"{cur_nimg / 1000:.1f}; the last good snapshot is kept (try a lower --lr or --gamma)"
                        )
            beta = 0.5 ** (opts.batch / max(opts.ema_nimg(), 1e-8))
            with torch.no_grad():
                for p_ema, p in zip(G_ema.parameters(), G.parameters()):
                    p_ema.copy_(p.lerp(p_ema, beta))
                for b_ema, b in zip(G_ema.buffers(), G.buffers()):
                    b_ema.copy_(b)
            cur_nimg += opts.batch * nf
            step += 1
            done = cur_nimg >= total_nimg
            aborted = distributed.broadcast_flag(bool(abort_fn()) if ranks.is_main else False, ranks)
            progress_fn({"event": "step", "nimg": cur_nimg, "total_nimg": total_nimg})
            if not (done or aborted or cur_nimg >= tick_start_nimg + opts.tick_kimg * 1000):
                continue

        # -- tick ---------------------------------------------------------------------------------------
        now = time.time()
        tick_kimg = (cur_nimg - tick_start_nimg) / 1000
        tick_stats = stats.reduce(ranks)
        sec_per_kimg = (now - tick_start_time) / tick_kimg if tick_kimg > 0 else float("nan")
        total_sec = total_sec_before + now - start_time
        snapshot = done or aborted or (cur_tick + 1) % max(opts.snap_ticks, 1) == 0
        line = {
            "tick": cur_tick,
            "kimg": cur_nimg / 1000,
            "nimg": cur_nimg,
            "step": step,
            "total_kimg": opts.total_kimg,
            "sec_per_tick": now - tick_start_time,
            "sec_per_kimg": sec_per_kimg,
            "total_sec": total_sec,
            "eta_sec": max(total_nimg - cur_nimg, 0) / 1000 * sec_per_kimg if tick_kimg > 0 else None,
            "loss_G": tick_stats.get("Loss/G/loss"),
            "loss_G_recon": tick_stats.get("Loss/G/recon"),
            "loss_D": tick_stats.get("Loss/D/loss"),
            "r1_penalty": tick_stats.get("Loss/r1_penalty"),
            "scores_real": tick_stats.get("Loss/scores/real"),
            "scores_fake": tick_stats.get("Loss/scores/fake"),
            "skipped_phases": tick_stats.get("Progress/skipped_phases", 0.0),
            "aug_p": opts.degrade_p,  # the progress bar's "p": how often G's input is degraded
            "lr_G": opt_G.param_groups[0]["lr"],
            "lr_D": opt_D.param_groups[0]["lr"],
            "r1_gamma": opts.gamma,
            "peak_mem_bytes": _peak_memory(device),
            "device": str(device),
            "ranks": ranks.world,
            "timestamp": now,
        }
        if ranks.is_main and tick_kimg > 0:
            if snapshot:
                rendered = samples.render(G_ema)  # once, for the PSNR figures and the sample files
                line.update(samples.evaluate(rendered))
                ts.cur_nimg, ts.step, ts.cur_tick, ts.total_sec = cur_nimg, step, cur_tick + 1, total_sec
                last_model = _snapshot(run_dir, opts, cfg, ts)
                samples.write(rendered, run_dir / "samples", cur_nimg)
                line["snapshot"] = str(last_model)
            append_jsonl(run_dir / "log.jsonl", line)
        if opts.metrics and snapshot and tick_kimg > 0:
            _snapshot_metrics(opts, G_ema, run_dir, ranks, cur_nimg)
        if tick_kimg > 0:
            progress_fn({"event": "tick", **line})
            cur_tick += 1
        tick_start_nimg, tick_start_time = cur_nimg, time.time()
        if done or aborted:
            break
    progress_fn(
        {"event": "done", "nimg": cur_nimg, "aborted": aborted, "model": str(last_model) if last_model else None}
    )
    return SRTrainResult(run_dir, cur_nimg, last_model, aborted, G_ema)


# ----------------------------------------------------------------------------------------------------
# One phase


@dataclass
class _Draws:
    z: torch.Tensor  # [n, z_dim]
    keep_real: torch.Tensor  # [n] in {0, 1}
    keep_fake: torch.Tensor
    degrade: torch.Generator


def _draws(opts: SRTrainOptions, step: int, phase: int, first: int, n: int, z_dim: int) -> _Draws:
    zs, kr, kf = [], [], []
    for slot in range(first, first + n):
        gen = rng(opts.seed, 2, step, phase, slot)
        zs.append(gen.standard_normal(z_dim))
        kr.append(float(gen.uniform() < opts.lr_cond_prob))
        kf.append(float(gen.uniform() < opts.lr_cond_prob))
    return _Draws(
        torch.from_numpy(np.stack(zs).astype(np.float32)),
        torch.tensor(kr),
        torch.tensor(kf),
        degrade_generator(opts.seed, step, phase, first),
    )


def _phase_loss(phase, G, D, opts, hr, lr, k, nf, draws: _Draws):
    """hr [N, F, C, H, H] and lr [N, F + 2k, C, h, h] in [-1, 1]."""
    device = hr.device
    lr_centre = lr[:, k : k + nf]  # what D is conditioned on: the clean low-resolution frames
    keep_real, keep_fake = draws.keep_real.to(device), draws.keep_fake.to(device)
    stats: dict[str, torch.Tensor] = {}

    def fake_clip():
        lr_in = degrade(lr, opts.degrade_p, draws.degrade) if opts.degrade_p > 0 else lr
        return G(draws.z.to(device), windows_of(lr_in, k))

    if phase == "Gmain":
        fake = fake_clip()
        logits = D(fake, lr_centre, keep_fake)
        loss = g_nonsaturating(logits)
        recon = (fake - hr).square().mean(dim=[1, 2, 3, 4])
        stats["Loss/G/loss"], stats["Loss/G/recon"] = loss.detach(), recon.detach()
        stats["Loss/scores/fake"] = logits.detach()
        return (loss + opts.recon_weight * recon).mean(), stats
    if phase == "Dmain":
        with torch.no_grad():
            fake = fake_clip()
        fake_logits = D(fake, lr_centre, keep_fake)
        real_logits = D(hr, lr_centre, keep_real)
        loss = d_logistic(real_logits, fake_logits)
        stats["Loss/D/loss"] = loss.detach()
        stats["Loss/scores/real"], stats["Loss/scores/fake"] = real_logits.detach(), fake_logits.detach()
        return loss.mean(), stats
    img = hr.detach().requires_grad_(True)
    logits = D(img, lr_centre, keep_real)
    penalty = r1_penalty(logits, img)
    stats["Loss/r1_penalty"] = penalty.detach()
    return (penalty * (opts.gamma / 2) + logits * 0).mean() * opts.d_reg_interval, stats


# ----------------------------------------------------------------------------------------------------
# Snapshots and samples


def _snapshot(run_dir, opts: SRTrainOptions, cfg: SRModelConfig, ts: TrainingState) -> Path:
    state = ts.state_dict(extra={"kind": RUN_KIND, "model_config": to_json(cfg), "options": opts.to_json()})
    cur_nimg = ts.cur_nimg
    provenance = {
        "trained_by": "sgv train-sr",
        "preset": opts.preset,
        "data": str(opts.data),
        "base": str(opts.base) if opts.base else None,
        "kimg": round(cur_nimg / 1000, 3),
        "run": str(Path(run_dir).resolve()),
    }
    G_ema = ts.modules["G_ema"]
    return write_snapshot(run_dir, cur_nimg, G_ema, state, provenance, opts.keep_states, save_model=save_sr)


def _snapshot_metrics(opts: SRTrainOptions, G_ema: SRGenerator, run_dir, ranks, cur_nimg: int) -> None:
    """Every rank: the whole cascade (the --base model through G_ema) against the high-resolution data, into
    run_dir/metric-<name>.jsonl like a base run's metrics."""
    import engine.metrics
    from engine.cascade.metrics import CascadeMetricsG
    from engine.checkpoint import load_generator
    from engine.train.snapshot import model_path

    cascade = CascadeMetricsG(load_generator(opts.base, ranks.device), G_ema)
    for name in opts.metrics:
        engine.metrics.calc(
            name, cascade, opts.data, run_dir=run_dir, snapshot=str(model_path(run_dir, cur_nimg)),
            rank=ranks.rank, world=ranks.world,
        )  # fmt: skip


class _SampleSet:
    """Fixed clips (the first videos, from frame 0) shown and scored at every snapshot."""

    def __init__(self, hr_ds, lr_ds, opts: SRTrainOptions, gcfg: SRGeneratorConfig, device):
        self.k, self.device, self.opts = gcfg.window, device, opts
        n_vid = min(opts.sample_clips, len(hr_ds))
        length = max(1, int(round(opts.sample_seconds * hr_ds.fps)))
        self.videos = []
        for i in range(n_vid):
            n = hr_ds.num_frames(i)
            f = min(length, n)
            hr = hr_ds.read_frames(i, list(range(f)))
            lr = lr_ds.read_frames(i, np.clip(np.arange(-self.k, f + self.k), 0, n - 1).tolist())
            to = lambda x: to_float(torch.from_numpy(x).permute(0, 3, 1, 2))  # noqa: E731
            self.videos.append((to(hr), to(lr)))
        self.fps = hr_ds.fps

    @torch.no_grad()
    def _render(self, G, lr: torch.Tensor) -> torch.Tensor:
        z = torch.from_numpy(np.random.RandomState(0).randn(1, G.z_dim).astype(np.float32)).to(self.device)
        ws = G.mapping(z)
        wins = windows_of(lr[None].to(self.device), self.k)
        return torch.cat([G.synthesis(ws, wins[:, i : i + 16]) for i in range(0, wins.shape[1], 16)], 1)[0].cpu()

    def render(self, G) -> list[torch.Tensor]:
        return [self._render(G, lr) for _, lr in self.videos]

    def evaluate(self, rendered: list[torch.Tensor]) -> dict:
        sr_psnr, bic_psnr = [], []
        for (hr, lr), sr in zip(self.videos, rendered):
            lr_c = lr[self.k : self.k + hr.shape[0]]
            sr_psnr.append(psnr(sr, hr))
            bic_psnr.append(psnr(bicubic(lr_c, hr.shape[-1]), hr))
        return {"psnr_sr": float(np.mean(sr_psnr)), "psnr_bicubic": float(np.mean(bic_psnr))}

    def write(self, rendered: list[torch.Tensor], out_dir: Path, nimg: int) -> None:
        """grid-<nimg>.png: rows = sample clips, columns low-res (nearest) | SR | real at frames 0 and last;
        video-<nimg>.mp4: the same three columns over sample_seconds."""
        from engine.media import open_video_writer, write_image
        from engine.video import tile, to_uint8

        rows, movies = [], []
        for (hr, lr), sr in zip(self.videos, rendered):
            size = hr.shape[-1]
            lr_c = F.interpolate(lr[self.k : self.k + hr.shape[0]], size=(size, size), mode="nearest")
            cells = to_uint8(torch.stack([lr_c, sr, hr]))  # [3, F, H, W, 3]
            rows.append(cells)
            movies.append(cells)
        picked = [0, rows[0].shape[1] - 1] if rows else []
        grid = np.stack([r[:, picked] for r in rows])  # [rows, 3, 2, H, W, 3]
        n_rows, _, n_t = grid.shape[:3]
        grid = grid.transpose(0, 2, 1, 3, 4, 5).reshape(n_rows * n_t, 3, 1, *grid.shape[3:])
        write_image(out_dir / f"grid-{nimg:010d}.png", tile(grid)[0])
        try:
            f = min(m.shape[1] for m in movies[:2])
            frames = tile(np.stack([m[:, :f] for m in movies[:2]]))
            with open_video_writer(
                out_dir / f"video-{nimg:010d}.mp4", fps=self.fps, size=(frames.shape[2], frames.shape[1]), quality=7
            ) as w:
                w.write(frames)
        except Exception as e:  # noqa: BLE001 (a broken ffmpeg must not stop training; the grid is written)
            print(f"sgv train-sr: sample video not written ({e})", file=sys.stderr)


def load_sr_from_run(run_dir: Path, device="cpu") -> SRGenerator:
    return load_sr(Path(run_dir) / "model-latest.safetensors", device)
