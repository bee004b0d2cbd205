"""Training options: one frozen record, written as `training_options.json` in every run folder.

Units follow upstream (docs/model.md §10): progress is counted in real frames shown to D (`cur_nimg`
grows by batch·k per step), so `kimg` is thousands of frames; `batch` is in videos.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.config import ModelConfig, from_dict, override, preset, to_dict
from engine.errors import SgvError


class TrainingError(SgvError):
    """A run cannot start or continue (bad options, no usable data, repeated non-finite losses)."""


@dataclass(frozen=True)
class TrainOptions:
    data: str = ""  # dataset path: folder of videos, folder of frame folders, zip, or sharded layout
    outdir: str = ""  # the run folder (created; `--resume latest` continues the newest state in it)
    preset: str = "tiny"  # model preset (engine.config.PRESETS)
    resolution: int | None = None  # None = the preset's; the dataset is read at this size
    overrides: dict[str, Any] = field(
        default_factory=dict
    )  # dotted config fields, e.g. {"generator.motion.delta_z": 32}
    total_kimg: float = 25000.0  # length of training, thousands of real frames shown to D
    batch: int = 64  # videos per step, all ranks together
    batch_gpu: int | None = None  # videos per forward pass per rank; None = batch / ranks (no accumulation)
    num_frames: int = 3  # k frames per video seen by D
    max_dist: int = 32  # largest span (frames) between the first and last of the k frames
    max_num_frames: int = 1024  # real videos longer than this are windowed first
    gamma: float | None = None  # R1 weight; None = 0.0002·res²/batch (upstream's auto)
    lr_g: float | None = None  # None = 0.0025 (0.002 at res ≥ 1024)
    lr_d: float | None = None
    d_reg_interval: int = 16  # lazy R1: every 16 steps, weighted ×16
    g_reg_interval: int = 4  # upstream scales G's Adam by 4/5 although its PL term is off
    ema_kimg: float | None = None  # half-life of G_ema in thousands of videos; None = batch·10/32
    ema_rampup: float | None = None  # upstream: None for fresh runs
    aug: str = "ada"  # "ada" (adaptive p), "fixed" (p = aug_p), "noaug"
    aug_p: float = 0.0  # initial (or fixed) augmentation probability
    ada_target: float = 0.6
    ada_interval: int = 4  # steps between p updates
    ada_kimg: float = 100.0  # p can go 0 → 1 in this many thousand videos
    mirror: bool = True  # whole-video x-flips double the dataset
    tick_kimg: float = 4.0  # log/progress interval, thousands of frames
    snap_ticks: int = 50  # snapshot (+ samples, metrics) every this many ticks
    keep_states: int = 2  # training-state files kept (model snapshots are all kept)
    seed: int = 0
    precision: str = "auto"  # "auto" (bf16/fp16 top layers on CUDA, fp32 on CPU), "fp32", "bf16", "fp16"
    workers: int | None = None  # data-loader processes per rank; None = min(3, cpus − 1)
    gpus: int = 1  # processes (ranks); CUDA devices when present, else CPU ranks under gloo
    device: str | None = None  # "cpu" / "cuda"; None = cuda if available
    metrics: tuple[str, ...] = ()  # metric names evaluated at snapshots
    sample_contents: int = 6  # sample grid rows (content seeds)
    sample_seconds: float = 2.0  # length of the sample video per snapshot
    max_bad_steps: int = 8  # consecutive non-finite losses before the run aborts
    deterministic: bool = False  # torch deterministic algorithms (exact resume on CPU holds without it)

    # -- derived ------------------------------------------------------------------------------------------
    def model_config(self, c_dim: int = 0, fps: float | None = None) -> ModelConfig:
        cfg = preset(self.preset, c_dim=c_dim, resolution=self.resolution)
        changes = dict(self.overrides)
        changes.setdefault("discriminator.num_frames", self.num_frames)
        changes.setdefault("discriminator.max_num_frames", self.max_num_frames)
        if fps:
            changes.setdefault("generator.native_fps", float(fps))
        return override(cfg, **changes)

    def r1_gamma(self, res: int) -> float:
        return self.gamma if self.gamma is not None else 0.0002 * res * res / self.batch

    def learning_rates(self, res: int) -> tuple[float, float]:
        base = 0.002 if res >= 1024 else 0.0025
        return (self.lr_g or base, self.lr_d or base)

    def ema_nimg(self) -> float:
        return (self.ema_kimg if self.ema_kimg is not None else self.batch * 10 / 32) * 1000

    def validate(self) -> None:
        if not self.data:
            raise TrainingError("--data is required")
        if not self.outdir:
            raise TrainingError("--outdir is required")
        if self.batch < 1 or self.gpus < 1:
            raise TrainingError(f"--batch ({self.batch}) and --gpus ({self.gpus}) must be positive")
        if self.batch % self.gpus:
            raise TrainingError(f"--batch {self.batch} must be divisible by --gpus {self.gpus}")
        per_rank = self.batch // self.gpus
        if self.batch_gpu is not None and (self.batch_gpu < 1 or per_rank % self.batch_gpu):
            raise TrainingError(f"--batch-gpu {self.batch_gpu} must divide the per-rank batch {per_rank}")
        if self.num_frames < 2:
            raise TrainingError("num_frames (k) must be at least 2: the discriminator conditions on time gaps")
        if self.aug not in ("ada", "fixed", "noaug"):
            raise TrainingError(f"--aug must be ada, fixed or noaug, got '{self.aug}'")
        if self.precision not in ("auto", "fp32", "bf16", "fp16"):
            raise TrainingError(f"--precision must be auto, fp32, bf16 or fp16, got '{self.precision}'")
        if self.total_kimg <= 0 or self.tick_kimg <= 0:
            raise TrainingError("--kimg and --tick-kimg must be positive")

    # -- files --------------------------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(to_dict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json_file(cls, path: Path) -> TrainOptions:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise TrainingError(f"{path}: cannot read training options ({e})") from None
        data["metrics"] = tuple(data.get("metrics", ()))
        try:
            return from_dict(cls, data, str(path))
        except TypeError as e:
            raise TrainingError(f"{path}: {e}") from None

    def replace(self, **changes: Any) -> TrainOptions:
        return dataclasses.replace(self, **changes)
