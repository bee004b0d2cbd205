"""What every `sgv` command shares: model arguments, loading the model they name, progress bars, seed lists.

Commands only parse and print; the work they start lives in the library modules (see docs/architecture.md).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def note(text: str) -> None:
    """One line on stderr, prefixed like every other `sgv` message."""
    print(f"sgv: {text}", file=sys.stderr)


def parse_seeds(text: str) -> list[int]:
    """'0-3,7' → [0, 1, 2, 3, 7]."""
    seeds: list[int] = []
    try:
        for part in text.split(","):
            part = part.strip()
            if not part:
                continue
            if "-" in part[1:]:
                lo, hi = part[0] + part[1:].split("-", 1)[0], part[1:].split("-", 1)[1]
                lo_i, hi_i = int(lo), int(hi)
                if hi_i < lo_i:
                    raise ValueError
                seeds.extend(range(lo_i, hi_i + 1))
            else:
                seeds.append(int(part))
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad seed list '{text}' (examples: 0  0-7  1,4,9-12)") from None
    if not seeds:
        raise argparse.ArgumentTypeError("empty seed list")
    return seeds


def add_model_args(p: argparse.ArgumentParser) -> None:
    """--ckpt / --preset / --init-seed / --device: which generator a command runs, and where."""
    p.add_argument("--ckpt", type=Path, default=None, help="model file (.safetensors); default: the bundled model")
    p.add_argument(
        "--preset",
        default=None,
        help="use an untrained network of this preset instead of --ckpt (tiny, small, paper256, paper1024)",
    )
    p.add_argument("--init-seed", type=int, default=0, help="weight seed for --preset")
    p.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")


def add_command(sub, name: str, help: str, examples: str | None = None) -> argparse.ArgumentParser:
    """A subcommand whose --help ends with its runnable examples, line breaks kept."""
    return sub.add_parser(name, help=help, epilog=examples, formatter_class=argparse.RawDescriptionHelpFormatter)


def load_model(args):
    """The generator named by `add_model_args`' flags (a note on stderr when it is untrained)."""
    from engine.model_source import ModelSource

    source = ModelSource.from_args(args)
    if source.preset:
        note(f"note: using an UNTRAINED '{source.preset}' network (random weights, seed {source.init_seed})")
    return source.load()


def load_latents(path, G):
    """A latents .npz for G; made with another model it still loads, with a warning line (not a traceback)."""
    import warnings

    from engine.latents import LatentsWarning
    from engine.latents import load_latents as load

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LatentsWarning)
        latents = load(path, G, on_mismatch="warn")
    for w in caught:
        if issubclass(w.category, LatentsWarning):
            note(f"warning: {w.message}")
    return latents


class Progress:
    """A tqdm bar driven by (done, total) callbacks; silent with --quiet."""

    def __init__(self, desc: str, unit: str = "frame", disable: bool = False):
        from tqdm import tqdm

        self.bar = tqdm(desc=desc, unit=unit, disable=disable, dynamic_ncols=True)
        self.last = 0

    def __call__(self, done: int, total: int) -> None:
        self.bar.total = total
        self.bar.update(done - self.last)
        self.last = done

    def close(self) -> None:
        self.bar.close()


def progress_bar(total: int, desc: str, quiet: bool, unit: str = "step"):
    """A plain tqdm bar of known length (steps of an optimisation, frames of a video)."""
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=quiet, dynamic_ncols=True)
