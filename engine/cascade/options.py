"""Options of an SR-level training run (`sgv train-sr`), written as `training_options.json` in its run folder.

Units as the base loop (engine/train/options.py): progress counts high-resolution frames shown to D
(`cur_nimg` grows by batch · num_frames per step), `batch` is in clips.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.cascade.config import SRModelConfig, sr_preset
from engine.config import from_dict, to_dict
from engine.train.options import TrainingError

RUN_KIND = "cascade-sr"  # stored in the options and states, so base and SR runs never resume each other


@dataclass(frozen=True)
class SRTrainOptions:
    kind: str = RUN_KIND
    data: str = ""  # the base's dataset (any layout engine.data reads), read at the high resolution
    outdir: str = ""
    base: str | None = None  # base model file: sets the input resolution and fps (checked), recorded in provenance
    preset: str = "sr-small"  # engine.cascade.config.SR_PRESETS
    scale: int = 2  # ×2 or ×4
    window: int = 4  # k: each output frame sees base frames t−k … t+k
    base_resolution: int | None = None  # low-resolution side; None = the base model's, else the data's / scale
    overrides: dict[str, Any] = field(default_factory=dict)  # dotted SRModelConfig fields
    total_kimg: float = 1000.0  # thousands of high-resolution frames shown to D
    batch: int = 16  # clips per step
    batch_gpu: int | None = None  # clips per forward pass (gradient accumulation)
    num_frames: int = 4  # consecutive high-resolution frames per clip (D sees them stacked)
    lr_g: float = 0.005  # equalised-LR layers learn slowly at GAN rates; 0.01+ was unstable at 64² → 128²
    lr_d: float = 0.0025
    gamma: float = 1.0  # R1 weight (LongVideoGAN: 1)
    d_reg_interval: int = 16
    ema_kimg: float | None = None  # half-life of G_ema in thousands of clips; None = batch · 10 / 32
    lr_cond_prob: float = 0.1  # probability D keeps the low-resolution half of a sample (matching D)
    degrade_p: float = 0.1  # probability a clip's low-res input is degraded (blur, noise, resampling)
    recon_weight: float = 100.0  # weight of the MSE to the real high-resolution frames in G's loss (0 = pure GAN)
    mirror: bool = True
    tick_kimg: float = 1.0
    snap_ticks: int = 20
    keep_states: int = 2
    seed: int = 0
    workers: int | None = None
    device: str | None = None
    sample_clips: int = 4  # rows of the sample grid (first videos of the dataset, held fixed)
    sample_seconds: float = 2.0
    max_bad_steps: int = 8
    metrics: tuple[str, ...] = ()  # engine.metrics names, of the whole cascade (needs --base), at every snapshot
    gpus: int = 1  # ranks spawned by `sgv train-sr --gpus N` (torchrun sets its own)

    def model_config(self, base_resolution: int, fps: float) -> SRModelConfig:
        return sr_preset(
            self.preset,
            base_resolution=base_resolution,
            scale=self.scale,
            window=self.window,
            native_fps=fps,
            num_frames=self.num_frames,
            overrides=self.overrides,
        )

    def ema_nimg(self) -> float:
        return (self.ema_kimg if self.ema_kimg is not None else self.batch * 10 / 32) * 1000

    def validate(self) -> None:
        if self.kind != RUN_KIND:
            raise TrainingError(f"options of kind '{self.kind}' are not an SR run")
        if not self.data:
            raise TrainingError("--data is required")
        if not self.outdir:
            raise TrainingError("--outdir is required")
        if self.scale not in (2, 4):
            raise TrainingError(f"--scale must be 2 or 4, got {self.scale}")
        if self.window < 0:
            raise TrainingError(f"--window must be >= 0, got {self.window}")
        if self.batch < 1 or self.num_frames < 1:
            raise TrainingError("--batch and --frames must be positive")
        if self.batch_gpu is not None and (self.batch_gpu < 1 or self.batch % self.batch_gpu):
            raise TrainingError(f"--batch-gpu {self.batch_gpu} must divide --batch {self.batch}")
        if not (0 <= self.lr_cond_prob <= 1 and 0 <= self.degrade_p <= 1):
            raise TrainingError("--lr-cond-prob and --degrade-p are probabilities in [0, 1]")
        if self.total_kimg <= 0 or self.tick_kimg <= 0:
            raise TrainingError("--kimg and --tick-kimg must be positive")
        if self.metrics and not self.base:
            raise TrainingError("--metrics scores the whole cascade: give its base model with --base")
        if self.gpus < 1:
            raise TrainingError(f"--gpus must be at least 1, got {self.gpus}")

    def to_json(self) -> str:
        return json.dumps(to_dict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json_file(cls, path: Path) -> SRTrainOptions:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise TrainingError(f"{path}: cannot read training options ({e})") from None
        if not isinstance(data, dict) or data.get("kind") != RUN_KIND:
            run = Path(path).parent
            raise TrainingError(
                f"{run}: this is a base-model run folder; resume it with sgv train --outdir {run} --resume latest"
            )
        data["metrics"] = tuple(data.get("metrics", ()))
        try:
            return from_dict(cls, data, str(path))
        except (TypeError, ValueError) as e:
            raise TrainingError(f"{path}: {e}") from None

    def replace(self, **changes: Any) -> SRTrainOptions:
        return dataclasses.replace(self, **changes)
