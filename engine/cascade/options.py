"""Options of an SR-level training run (`sgv train-sr`), written as `training_options.json` in its run folder.

Units as the base loop (engine/train/options.py): progress counts high-resolution frames shown to D
(`cur_nimg` grows by batch · num_frames per step), `batch` is in clips.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from engine.cascade.config import SRModelConfig, sr_preset
from engine.config import to_dict
from engine.train.options import TrainingError, option, read_options_file

RUN_KIND = "cascade-sr"  # stored in the options and states, so base and SR runs never resume each other


@dataclass(frozen=True)
class SRTrainOptions:
    """Each field is defined once with option() (engine/train/options.py): `sgv train-sr` makes its flags,
    their types, choices and help (with the default) from it, as `sgv train` does from TrainOptions."""

    kind: str = option(RUN_KIND, "what the run trains (base and SR runs never resume each other)")
    # Read at the high resolution.
    data: str = option("", "the base's dataset (any layout `sgv train` reads)", flag="--data")
    outdir: str = option("", "run folder (created)")
    # Recorded in the SR level's provenance.
    base: str | None = option(None, "base model file: input size and fps come from it (checked)", flag="--base")
    # engine.cascade.config.SR_PRESETS.
    preset: str = option("sr-small", "sr-tiny, sr-small or sr-large", flag="--preset")
    scale: int = option(2, "upscaling factor", flag="--scale", choices=(2, 4))
    window: int = option(4, "k: each frame sees base frames t-k..t+k", flag="--window")
    # The low-resolution side; None = the base model's, else the data's / scale.
    base_resolution: int | None = option(
        None, "input side without --base (default: data side / scale)", flag="--base-res"
    )
    overrides: dict[str, Any] = option(help="dotted SRModelConfig fields", factory=dict)
    total_kimg: float = option(1000.0, "thousands of high-res frames shown to D", flag="--kimg")
    batch: int = option(16, "clips per step", flag="--batch")
    batch_gpu: int | None = option(None, "clips per forward pass (gradient accumulation)", flag="--batch-gpu")
    # High-resolution frames; D sees them stacked.
    num_frames: int = option(4, "consecutive frames per clip seen by D", flag="--frames")
    # Equalised-LR layers learn slowly at GAN rates; 0.01+ was unstable at 64² → 128².
    lr_g: float = option(0.005, "G learning rate", flag="--lr-g")
    lr_d: float = option(0.0025, "D learning rate", flag="--lr-d")
    # LongVideoGAN: 1.
    gamma: float = option(1.0, "R1 weight", flag="--gamma")
    d_reg_interval: int = option(16, "D steps per R1 step (lazy regularisation)")
    # None = batch · 10 / 32.
    ema_kimg: float | None = option(None, "G_ema half-life in thousands of clips", flag="--ema-kimg")
    # The matching D keeps the low-resolution half of a sample with this probability.
    lr_cond_prob: float = option(0.1, "P(D sees the low-res input)", flag="--lr-cond-prob")
    # Degradations: blur, noise, resampling.
    degrade_p: float = option(0.1, "P(G's low-res input is degraded)", flag="--degrade-p")
    # In G's loss; 0 = a pure GAN.
    recon_weight: float = option(100.0, "weight of the MSE to real frames", flag="--recon-weight")
    mirror: bool = option(True, "x-flip whole clips", flag="--mirror")
    tick_kimg: float = option(1.0, "log interval in kimg", flag="--tick-kimg")
    snap_ticks: int = option(20, "ticks per snapshot (`--snap-kimg` sets it)")
    keep_states: int = option(2, "training states kept (models: all)", flag="--keep-states")
    seed: int = option(0, "random seed", flag="--seed")
    workers: int | None = option(None, "data loader processes", flag="--workers")
    device: str | None = option(None, "cpu or cuda (default: cuda if available)", flag="--device")
    sample_clips: int = option(4, "rows of the sample grid (first videos of the dataset, held fixed)")
    sample_seconds: float = option(2.0, "seconds of each sample clip")
    max_bad_steps: int = option(8, "non-finite steps in a row before the run stops")
    metrics: tuple[str, ...] = option((), "metrics of the whole cascade (needs --base) at every snapshot")
    # torchrun sets its own.
    gpus: int = option(1, "ranks to spawn: one per GPU, gloo ranks on CPU (or torchrun)", flag="--gpus")

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
        def base_run(data) -> bool:
            return not isinstance(data, dict) or data.get("kind") != RUN_KIND

        return read_options_file(cls, path, base_run, "a base-model", "sgv train")

    def replace(self, **changes: Any) -> SRTrainOptions:
        return dataclasses.replace(self, **changes)
