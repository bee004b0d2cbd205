"""`sgv`: the engine's command line, thin over the library.

Every failure caused by input prints one line (`sgv: <file>: <problem>`) and exits with status 2;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import sys
import time
from pathlib import Path

from engine.errors import SgvError

# Modules that add subcommands (dataset, train, project/edit, metrics, import, weights) via `register(sub)`.
COMMAND_MODULES = (
    "engine.data.cli",
    "engine.train.cli",
    "engine.edit.cli",
    "engine.metrics.cli",
    "engine.legacy_cli",
    "engine.weights_cli",
)

VIDEO_EXTS = {".mp4", ".mov", ".mkv", ".webm", ".avi"}


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


def _device(name: str | None):
    import torch

    if name:
        return torch.device(name)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _load_model(args):
    import engine

    if getattr(args, "preset", None):
        print(
            f"sgv: note: using an UNTRAINED '{args.preset}' network (random weights, seed {args.init_seed})",
            file=sys.stderr,
        )
        return engine.build_generator(args.preset, seed=args.init_seed, device=_device(args.device))
    return engine.load_generator(args.ckpt, device=_device(args.device))


class _Progress:
    """A tqdm bar driven by (done, total) callbacks; silent when stderr is not a terminal and --quiet."""

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


# ----------------------------------------------------------------------------------------------------
# sgv generate

GENERATE_EXAMPLES = """examples:
  sgv generate --out out/seed3.mp4 --seeds 3 --motion-seed 7 --duration 10
  sgv generate --out out/slowmo.mp4 --seeds 3 --fps 240 --duration 2          # same motion, 240 frames/s
  sgv generate --out out/far.mp4 --seeds 3 --t-start 1e6 --duration 4          # far into the future
  sgv generate --out out/back.mp4 --seeds 3 --t-start 500 --time-scale -1 --duration 4
  sgv generate --out out/grid.mp4 --seeds 0-3 --motion-seed 0-2 --grid --duration 4
  sgv generate --out out/frames --seeds 5 --frames 32 --format png             # PNG frames
  sgv generate --out out/demo.mp4 --preset small --seeds 0-3 --grid --duration 2   # untrained network
"""


def _add_model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ckpt", type=Path, default=None, help="model file (.safetensors); default: the bundled model")
    p.add_argument(
        "--preset",
        default=None,
        help="use an untrained network of this preset instead of --ckpt (tiny, small, paper256, paper1024)",
    )
    p.add_argument("--init-seed", type=int, default=0, help="weight seed for --preset")
    p.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")


def cmd_generate(args) -> int:
    import engine
    from engine.motion_codes import MotionCodes
    from engine.video import class_vector, content_z, export_grid_video, export_video

    G = _load_model(args)
    out: Path = args.out
    fmt = args.format or ("mp4" if out.suffix.lower() in VIDEO_EXTS else "png")
    if fmt == "mp4" and out.suffix.lower() not in VIDEO_EXTS:
        raise SgvError(f"{out}: --format mp4 needs a video file name such as out.mp4")
    if fmt == "png" and out.suffix.lower() in VIDEO_EXTS:
        raise SgvError(f"{out}: --format png writes a folder of frames; give a folder name")
    timing = dict(
        t_start=args.t_start,
        duration_s=args.duration,
        num_frames=args.frames,
        fps=args.fps,
        time_scale=args.time_scale,
        quality=args.quality,
    )
    if args.duration is None and args.frames is None:
        timing["duration_s"] = 4.0
    c = class_vector(args.class_idx, G.c_dim)
    motions = [MotionCodes(seed=s) for s in args.motion_seed]
    started = time.perf_counter()
    progress = _Progress(f"rendering {out.name}", disable=args.quiet)
    try:
        if args.grid:
            contents = []
            for s in args.seeds:
                z = content_z(s, G.z_dim).to(G.device)
                contents.append(G.mapping(z, c.to(G.device) if c is not None else None, psi=args.psi))
            n = export_grid_video(G, contents, motions, out, c=c, progress=progress, **timing)
            outputs = [out]
        else:
            if len(motions) > 1:
                raise SgvError("several motion seeds need --grid (rows = motion seeds, columns = content seeds)")
            if len(args.seeds) == 1:
                outputs = [out]
            elif fmt == "mp4":  # out/clip.mp4 → out/clip-seed0003.mp4, ...
                outputs = [out.with_name(f"{out.stem}-seed{s:04d}{out.suffix}") for s in args.seeds]
            else:  # one frame folder per seed
                outputs = [out / f"seed{s:04d}" for s in args.seeds]
            n = 0
            for s, target in zip(args.seeds, outputs):
                video = engine.Video(
                    G, content=s, motion=motions[0], c=c, psi=args.psi, batch_size=args.batch, precision=args.precision
                )
                n += export_video(video, target, progress=progress, **timing)
                progress.last = 0
    finally:
        progress.close()
    secs = time.perf_counter() - started
    for o in outputs:
        print(o)
    print(f"sgv: {n} frames in {secs:.1f} s ({n / max(secs, 1e-9):.1f} frames/s)", file=sys.stderr)
    return 0


# ----------------------------------------------------------------------------------------------------
# sgv info

INFO_EXAMPLES = """examples:
  sgv info --ckpt model.safetensors
  sgv info --ckpt model.safetensors --json
"""


def cmd_info(args) -> int:
    from engine.checkpoint import BUNDLED_MODEL, model_info

    info = model_info(args.ckpt or BUNDLED_MODEL)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    cfg = info["config"]
    syn, mot, mp = cfg["synthesis"], cfg["motion"], cfg["mapping"]
    lines = [
        f"file          {info['path']} ({info['file_bytes'] / 2**20:.1f} MiB, {info['format']})",
        f"fingerprint   {info['fingerprint']}",
        f"parameters    {info['parameters'] / 1e6:.2f} M",
        f"resolution    {syn['img_resolution']}x{syn['img_resolution']}, {syn['img_channels']} channels",
        f"content       z {mp['z_dim']} -> w {mp['w_dim']} ({mp['num_layers']} layers), classes {mp['c_dim']}",
        f"motion        noise {mot['z_dim']}, anchors every {mot['delta_z']:g} frames, "
        f"periods {mot['min_period']:g}..{mot['max_period']:g}, code {2 * mot['time_enc_dim']}",
        f"native fps    {cfg['native_fps']:g}",
    ]
    if info["provenance"]:
        lines.append(f"provenance    {json.dumps(info['provenance'])}")
    print("\n".join(lines))
    return 0


# ----------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sgv",
        description="StyleGAN-V Studio engine: continuous-time video generation.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="run `sgv COMMAND --help` for examples of each command",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    g = sub.add_parser(
        "generate",
        help="render videos (mp4 or PNG frames) at any fps, time scale and t",
        epilog=GENERATE_EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_model_args(g)
    g.add_argument("--out", type=Path, required=True, help="output .mp4 (or folder of PNG frames)")
    g.add_argument("--seeds", type=parse_seeds, default=[0], help="content seeds, e.g. 0-7 or 1,5 (default 0)")
    g.add_argument(
        "--motion-seed",
        "--motion-seeds",
        dest="motion_seed",
        type=parse_seeds,
        default=[0],
        help="motion seed(s); several only with --grid (rows)",
    )
    g.add_argument("--t-start", type=float, default=0.0, help="time of the first frame, in training frames")
    length = g.add_mutually_exclusive_group()
    length.add_argument("--duration", type=float, default=None, help="seconds of video at --fps (default 4)")
    length.add_argument("--frames", type=int, default=None, help="number of frames instead of --duration")
    g.add_argument("--fps", type=float, default=None, help="output frame rate (default: the model's native fps)")
    g.add_argument("--time-scale", type=float, default=1.0, help="playback speed; negative plays backwards")
    g.add_argument("--psi", type=float, default=1.0, help="truncation ψ of the content codes")
    g.add_argument("--class", dest="class_idx", type=int, default=None, help="class index of a conditional model")
    g.add_argument("--grid", action="store_true", help="one video: columns = --seeds, rows = --motion-seed")
    g.add_argument("--format", choices=["mp4", "png"], default=None, help="default: from --out")
    g.add_argument("--quality", type=int, default=8, help="mp4 quality 0..10 (default 8)")
    g.add_argument("--batch", type=int, default=16, help="frames rendered per batch")
    g.add_argument(
        "--precision",
        choices=["fp32", "fp16", "bf16"],
        default="fp32",
        help="fp32 is the reference; fp16/bf16 are fast paths",
    )
    g.add_argument("--quiet", action="store_true", help="no progress bar")
    g.set_defaults(func=cmd_generate)

    i = sub.add_parser(
        "info", help="describe a model file", epilog=INFO_EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    i.add_argument("--ckpt", type=Path, default=None, help="model file (default: the bundled model)")
    i.add_argument("--json", action="store_true", help="machine-readable output")
    i.set_defaults(func=cmd_info)

    # Other subcommands live beside the code they drive; each module has `register(subparsers)`.
    for name in COMMAND_MODULES:
        try:
            present = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:  # its package does not exist (yet)
            present = False
        if present:
            importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from engine.media import MediaError

    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (SgvError, MediaError) as e:
        print(f"sgv: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sgv: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
