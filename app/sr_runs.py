"""An SR-level training run as the app starts it: `sgv train-sr` options (engine/cascade/options.py) and the
command line. TrainingRuns.launch takes it like a base RunSpec (outdir, problems(), args()); the run folder is
watched like a base run's (app/training_runs.py). Nothing here imports imgui or torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SR_PRESETS = ("sr-tiny", "sr-small", "sr-large")
SR_RUN_KIND = "cascade-sr"  # engine.cascade.options.RUN_KIND, the `kind` in an SR run's training_options.json


@dataclass(frozen=True)
class SRRunSpec:
    """What Train > New SR level run... asks for. Defaults are `sgv train-sr`'s (docs/cascade.md)."""

    data: str  # the base's dataset at the high resolution (scale × the base's)
    outdir: str
    base: str  # the base model the level is trained for (input size and fps come from it)
    preset: str = "sr-small"
    scale: int = 2
    window: int = 4
    kimg: float = 1000.0
    batch: int = 16

    def problems(self) -> list[str]:
        out = []
        if not self.data:
            out.append("pick the dataset")
        elif not Path(self.data).expanduser().exists():
            out.append(f"{self.data}: no such file or folder")
        if not self.base:
            out.append("pick the base model")
        elif not Path(self.base).expanduser().is_file():
            out.append(f"{self.base}: no such model file")
        if not self.outdir:
            out.append("pick a run folder")
        elif any((Path(self.outdir) / n).exists() for n in ("log.jsonl", "snapshots")):
            out.append(f"{self.outdir}: already holds a run (open it with Train > Open run folder... to resume)")
        if self.preset not in SR_PRESETS:
            out.append(f"unknown SR preset '{self.preset}'")
        if self.scale not in (2, 4):
            out.append(f"scale must be 2 or 4, got {self.scale}")
        if self.window < 0:
            out.append(f"window must be >= 0, got {self.window}")
        if not self.kimg > 0 or self.batch < 1:
            out.append("kimg and batch must be positive")
        return out

    def args(self) -> list[str]:
        """The `sgv train-sr` command line (absolute paths: the process runs in the run folder)."""
        a = ["train-sr", "--data", _abs(self.data), "--base", _abs(self.base), "--outdir", _abs(self.outdir)]
        a += ["--preset", self.preset, "--scale", str(self.scale), "--window", str(self.window)]
        a += ["--kimg", f"{self.kimg:g}", "--batch", str(self.batch)]
        return a + ["--quiet"]  # no tqdm bar: it would fill train-stderr.log with carriage returns


def is_sr_run(options: dict) -> bool:
    """A run folder's training_options.json belongs to an SR level (resume with `sgv train-sr`)."""
    return options.get("kind") == SR_RUN_KIND


def _abs(p: str) -> str:
    return str(Path(p).expanduser().absolute())
