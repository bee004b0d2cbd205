"""Training options: one frozen record, written as `training_options.json` in every run folder.

Units follow upstream (docs/model.md §10): progress is counted in real frames shown to D (`cur_nimg`
grows by batch·k per step), so `kimg` is thousands of frames; `batch` is in videos.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.config import ConfigError, ModelConfig, discriminator_problem, from_dict, override, preset, to_dict
from engine.errors import SgvError


class TrainingError(SgvError):
    """A run cannot start or continue (bad options, no usable data, repeated non-finite losses)."""


SNAP_KIMG = 200.0  # `sgv train --snap-kimg` default: a snapshot about every 200 kimg (snap_ticks = 200 / tick_kimg)


def auto_gamma(resolution: int, batch: int) -> float:
    """Upstream's automatic R1 weight, 0.0002·res²/batch (used when `gamma` is None)."""
    return 0.0002 * resolution * resolution / max(batch, 1)


def option(default: Any = dataclasses.MISSING, help: str = "", *, factory: Any = dataclasses.MISSING, **meta: Any):
    """An options field (TrainOptions, the SR run's SRTrainOptions) defined once: its default, its help, and
    what the command line (`sgv train`, `sgv train-sr`) and the app derive from it.

    meta: flag ("--kimg"; none = not a command-line option), min / max (inclusive), positive (> 0),
    choices (a tuple, or a callable returning one), power_of_two, metavar.
    """
    return field(default=default, default_factory=factory, metadata={"help": help, **meta})


def _preset_names() -> tuple[str, ...]:
    from engine.config import PRESETS

    return tuple(PRESETS)


@dataclass(frozen=True)
class TrainOptions:
    data: str = option("", "dataset: folder of videos / frame folders, zip, or sharded layout", flag="--data")
    outdir: str = option("", "run folder (created; `--resume latest` continues the newest state in it)")
    preset: str = option("tiny", "model preset", flag="--preset", choices=_preset_names)
    resolution: int | None = option(
        None, "resolution; none = the preset's (the dataset is read at this size)", flag="--res", power_of_two=True
    )
    overrides: dict[str, Any] = option(
        help="dotted model config fields, e.g. {'generator.motion.delta_z': 32}", factory=dict
    )
    total_kimg: float = option(
        25000.0, "length of training in thousands of real frames shown to D", flag="--kimg", positive=True
    )
    batch: int = option(64, "videos per step, all GPUs together", flag="--batch", min=1)
    batch_gpu: int | None = option(
        None, "videos per pass per GPU (gradient accumulation); none = batch / GPUs", flag="--batch-gpu", min=1
    )
    num_frames: int = option(3, "k frames per video seen by D", min=2)
    max_dist: int = option(32, "largest span (frames) between the first and last of the k frames", min=1)
    max_num_frames: int = option(1024, "real videos longer than this are windowed first", min=1)
    gamma: float | None = option(None, "R1 weight; none = auto: 0.0002 * res^2 / batch", flag="--gamma", min=0.0)
    lr_g: float | None = option(None, "G learning rate; none = 0.0025 (0.002 at res >= 1024)", positive=True)
    lr_d: float | None = option(None, "D learning rate; none = as G's", positive=True)
    d_reg_interval: int = option(16, "lazy R1: every this many steps, weighted by it", min=1)
    g_reg_interval: int = option(4, "upstream scales G's Adam by 4/5 although its PL term is off", min=1)
    ema_kimg: float | None = option(None, "half-life of G_ema in thousands of videos; none = batch·10/32", min=0.0)
    ema_rampup: float | None = option(None, "upstream: none for fresh runs", min=0.0)
    aug: str = option(
        "ada",
        "augmentation: ada (adaptive p), fixed (p = aug-p), noaug",
        flag="--aug",
        choices=("ada", "fixed", "noaug"),
    )
    aug_p: float = option(0.0, "initial (or fixed) augmentation probability", flag="--aug-p", min=0.0, max=1.0)
    ada_target: float = option(0.6, "ADA's target sign(D(real)) mean", min=0.0, max=1.0)
    ada_interval: int = option(4, "steps between p updates", min=1)
    ada_kimg: float = option(100.0, "p can go from 0 to 1 in this many thousand videos", positive=True)
    mirror: bool = option(True, "x-flip whole videos (doubles the dataset)", flag="--mirror")
    tick_kimg: float = option(4.0, "log and progress interval in kimg", flag="--tick-kimg", positive=True)
    snap_ticks: int = option(50, "snapshot (+ samples, metrics) every this many ticks", min=1)
    keep_states: int = option(
        2, "training-state files kept (model snapshots are all kept)", flag="--keep-states", min=1
    )
    seed: int = option(0, "random seed", flag="--seed", min=0)
    precision: str = option(
        "auto",
        "auto (bf16/fp16 top layers on CUDA, fp32 on CPU), fp32, bf16 or fp16",
        flag="--precision",
        choices=("auto", "fp32", "bf16", "fp16"),
    )
    workers: int | None = option(
        None, "data loader processes per rank; none = min(3, cpus - 1)", flag="--workers", min=0
    )
    gpus: int = option(1, "ranks: CUDA devices, or CPU processes under gloo", flag="--gpus", min=1)
    device: str | None = option(None, "cpu or cuda; none = cuda if available", flag="--device")
    metrics: tuple[str, ...] = option((), "metric names evaluated at snapshots")
    sample_contents: int = option(6, "sample grid rows (content seeds)", min=1)
    sample_seconds: float = option(2.0, "length of the sample video per snapshot", positive=True)
    max_bad_steps: int = option(8, "consecutive non-finite losses before the run aborts", min=1)
    deterministic: bool = option(
        False, "deterministic torch algorithms (exact resume on CPU holds without them)", flag="--deterministic"
    )
    data_on_device: bool = option(
        False,
        "decode the whole dataset once into the training device's memory and gather batches there "
        "(no loader workers; for small datasets on a GPU)",
        flag="--data-on-device",
    )
    compile: str = option(
        "off",
        "torch.compile G's synthesis and D for the G and D steps (R1 stays eager): off, default, "
        "reduce-overhead (CUDA graphs) or max-autotune; falls back to eager if compiling fails",
        flag="--compile",
        choices=("off", "default", "reduce-overhead", "max-autotune"),
    )

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
        return self.gamma if self.gamma is not None else auto_gamma(res, self.batch)

    def learning_rates(self, res: int) -> tuple[float, float]:
        base = 0.002 if res >= 1024 else 0.0025
        return (self.lr_g or base, self.lr_d or base)

    def ema_nimg(self) -> float:
        return (self.ema_kimg if self.ema_kimg is not None else self.batch * 10 / 32) * 1000

    def problems(self) -> list[str]:
        """Everything wrong with these options, one line each, named by their `sgv train` flags (empty: OK)."""
        out = []
        if not self.data:
            out.append("--data is required (the dataset to train on)")
        if not self.outdir:
            out.append("--outdir is required (the output run folder)")
        for f in dataclasses.fields(self):
            value, meta = getattr(self, f.name), f.metadata
            name = meta.get("flag") or f.name
            if value is None or isinstance(value, (dict, tuple)):
                continue
            choices = field_choices(f.name)
            if choices and value not in choices:
                out.append(f"{name} must be {_one_of(choices)}, got '{value}'")
            if meta.get("positive") and not value > 0:
                out.append(f"{name} must be positive, got {value:g}")
            if meta.get("min") is not None and not value >= meta["min"]:
                out.append(f"{name} must be at least {meta['min']:g}, got {value:g}")
            if meta.get("max") is not None and not value <= meta["max"]:
                out.append(f"{name} must be at most {meta['max']:g}, got {value:g}")
            if meta.get("power_of_two") and (value < 4 or value & (value - 1)):
                out.append(f"{name} {value} must be a power of two, at least 4")
        if self.preset in field_choices("preset") and (self.resolution is None or self.resolution >= 4):
            try:
                problem = discriminator_problem(self.model_config().discriminator)
            except ConfigError:  # a bad --res: the field checks above already said so
                problem = None
            if problem:
                out.append(f"--res: {problem}")
        if self.batch >= 1 and self.gpus >= 1:
            if self.batch % self.gpus:
                out.append(f"--batch {self.batch} must be divisible by --gpus {self.gpus}")
            elif self.batch_gpu is not None and self.batch_gpu >= 1 and (self.batch // self.gpus) % self.batch_gpu:
                out.append(f"--batch-gpu {self.batch_gpu} must divide the per-rank batch {self.batch // self.gpus}")
        return out

    def validate(self) -> None:
        problems = self.problems()
        if problems:
            raise TrainingError(problems[0])

    # -- files --------------------------------------------------------------------------------------------
    def to_json(self) -> str:
        return json.dumps(to_dict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json_file(cls, path: Path) -> TrainOptions:
        def sr_run(data) -> bool:
            return isinstance(data, dict) and data.get("kind") == "cascade-sr"  # engine.cascade.options.RUN_KIND

        return read_options_file(cls, path, sr_run, "an SR-level", "sgv train-sr")

    def replace(self, **changes: Any) -> TrainOptions:
        return dataclasses.replace(self, **changes)


def read_options_file(cls, path: Path, other_kind: Callable[[Any], bool], other_name: str, other_command: str):
    """Options of class `cls` (TrainOptions, SRTrainOptions) from a run folder's training_options.json. One
    TrainingError line when the file cannot be read or does not fit `cls`, or when `other_kind(data)` says it
    is the other kind of run: `other_name` ("an SR-level") names it and `other_command` resumes it."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise TrainingError(f"{path}: cannot read training options ({e})") from None
    if other_kind(data):
        run = Path(path).parent
        raise TrainingError(
            f"{run}: this is {other_name} run folder; resume it with {other_command} --outdir {run} --resume latest"
        )
    data["metrics"] = tuple(data.get("metrics", ()))
    try:
        return from_dict(cls, data, str(path))
    except (TypeError, ValueError) as e:
        raise TrainingError(f"{path}: {e}") from None


# -- the fields' metadata, for the CLI and the app --------------------------------------------------------
# Each takes the options class (default TrainOptions; the SR run's is engine.cascade.options.SRTrainOptions).
def option_fields(cls: type | None = None) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls or TrainOptions)}


def field_help(name: str, cls: type | None = None) -> str:
    return option_fields(cls)[name].metadata.get("help", "")


def field_choices(name: str, cls: type | None = None) -> tuple:
    choices = option_fields(cls)[name].metadata.get("choices")
    return tuple(choices() if callable(choices) else choices or ())


def field_default(name: str, cls: type | None = None) -> Any:
    f = option_fields(cls)[name]
    return f.default_factory() if f.default is dataclasses.MISSING else f.default


def flag_fields(cls: type | None = None) -> dict[str, str]:
    """Command-line flag → options field, for every field that has a flag."""
    return {f.metadata["flag"]: name for name, f in option_fields(cls).items() if f.metadata.get("flag")}


def flag_args(opts: TrainOptions, names: list[str] | tuple[str, ...]) -> list[str]:
    """The `sgv train` arguments that set these fields of `opts` (None values are left out)."""
    out: list[str] = []
    for name in names:
        value, flag = getattr(opts, name), option_fields()[name].metadata["flag"]
        if value is None:
            continue
        if isinstance(value, bool):
            out.append(flag if value else "--no-" + flag[2:])
        else:
            out += [flag, f"{value:g}" if isinstance(value, float) else str(value)]
    return out


def _one_of(choices: tuple) -> str:
    names = [str(c) for c in choices]
    return ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]
