"""`sgv generate` (videos or PNG frames at any fps, time scale and t) and `sgv info` (describe a model file)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from engine.cli.common import Progress, add_command, add_model_args, load_model, parse_seeds
from engine.errors import SgvError
from engine.suffixes import VIDEO_EXTS

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
  sgv generate --out out/clip-again.mp4 --latents out/clip.npz --t-start -50 --duration 8  # a projection
  sgv generate --out out/sharp.mp4 --ckpt base.safetensors --sr sr.safetensors     # cascade: base + SR level
  sgv generate --out out/soft.mp4 --seeds 3 --no-sr            # the bundled base alone (no bundled SR level)
"""


def cmd_generate(args) -> int:
    import engine
    from engine.cascade import CascadeVideo
    from engine.motion_codes import MotionCodes
    from engine.video import class_vector, content_z, export_grid_video, export_video

    G = load_model(args)
    sr = _load_sr(args, G)
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
    motions = [MotionCodes(seed=s) for s in (args.motion_seed or [0])]
    if args.latents is not None and args.grid:
        raise SgvError("--latents renders one video; drop --grid")
    started = time.perf_counter()
    progress = Progress(f"rendering {out.name}", disable=args.quiet)
    try:
        if args.grid:
            if sr is not None and args.sr:
                raise SgvError("--sr renders single videos; drop --grid (or --sr)")
            contents = []
            for s in args.seeds:
                z = content_z(s, G.z_dim).to(G.device)
                contents.append(G.mapping(z, c.to(G.device) if c is not None else None, psi=args.psi))
            n = export_grid_video(G, contents, motions, out, c=c, progress=progress, **timing)
            outputs = [out]
        elif args.latents is not None:  # saved codes: projections (with their fitted motion), edits, the app's
            video = _latents_video(args, G)
            if sr is not None:
                video = CascadeVideo(video, sr, seed=0, batch_size=args.batch)
            n, outputs = export_video(video, out, progress=progress, **timing), [out]
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
                if sr is not None:
                    video = CascadeVideo(video, sr, seed=s, batch_size=args.batch)
                n += export_video(video, target, progress=progress, **timing)
                progress.last = 0
    finally:
        progress.close()
    secs = time.perf_counter() - started
    for o in outputs:
        print(o)
    print(f"sgv: {n} frames in {secs:.1f} s ({n / max(secs, 1e-9):.1f} frames/s)", file=sys.stderr)
    return 0


def _latents_video(args, G):
    """A Video of a latents .npz; --motion-seed replaces its motion (fitted anchors included)."""
    import engine
    from engine.cli.common import load_latents
    from engine.motion_codes import MotionCodes

    latents = load_latents(args.latents, G)
    motion = latents.motion if args.motion_seed is None else MotionCodes(seed=args.motion_seed[0])
    ws = latents.ws_batch(G.device)
    return engine.Video(G, content=ws, motion=motion, c=latents.c, batch_size=args.batch, precision=args.precision)


def _load_sr(args, G):
    """The SR level for this run: --sr, else the bundled one when the base is the bundled model (not with
    --grid); None with --no-sr. A level that does not fit the base (input size, fps) is one error line."""
    from engine.cascade import BUNDLED_SR, check_fits, load_sr
    from engine.cli.common import note

    if args.no_sr:
        return None
    path = args.sr
    if path is None:
        if args.ckpt is not None or args.preset or args.grid or not BUNDLED_SR.exists():
            return None
        path = BUNDLED_SR
        note(f"using the bundled SR level {BUNDLED_SR.name} ({BUNDLED_SR.parent}); --no-sr turns it off")
    sr = load_sr(path, device=G.device)
    check_fits(sr.config, G.img_resolution, G.config.native_fps, str(path))
    return sr


# ----------------------------------------------------------------------------------------------------
# sgv info

INFO_EXAMPLES = """examples:
  sgv info --ckpt model.safetensors
  sgv info --ckpt model.safetensors --json
"""


def cmd_info(args) -> int:
    from engine.checkpoint import BUNDLED_MODEL, model_info, peek_format

    path = args.ckpt or BUNDLED_MODEL
    if peek_format(path) == "sgv-studio.sr":  # a cascade SR level describes itself
        from engine.cascade.checkpoint import sr_model_info

        info = sr_model_info(path)
    else:
        info = model_info(path)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    cfg = info["config"]
    if info.get("kind") == "cascade super-resolution level":
        return _print_sr_info(info)
    syn, mot, mp = cfg["synthesis"], cfg["motion"], cfg["mapping"]
    rows = [
        f"resolution    {syn['img_resolution']}x{syn['img_resolution']}, {syn['img_channels']} channels",
        f"content       z {mp['z_dim']} -> w {mp['w_dim']} ({mp['num_layers']} layers), classes {mp['c_dim']}",
        f"motion        noise {mot['z_dim']}, anchors every {mot['delta_z']:g} frames, "
        f"periods {mot['min_period']:g}..{mot['max_period']:g}, code {2 * mot['time_enc_dim']}",
        f"native fps    {cfg['native_fps']:g}",
    ]
    return _print_info_rows(info, rows)


def _print_info_rows(info: dict, rows: list[str], kind: bool = False) -> int:
    """Prints the rows every model file has (file, the kind when `kind`, fingerprint, parameters), then `rows`,
    then the provenance."""
    lines = [f"file          {info['path']} ({info['file_bytes'] / 2**20:.1f} MiB, {info['format']})"]
    if kind:
        lines.append(f"kind          {info['kind']}")
    lines += [f"fingerprint   {info['fingerprint']}", f"parameters    {info['parameters'] / 1e6:.2f} M", *rows]
    if info["provenance"]:
        lines.append(f"provenance    {json.dumps(info['provenance'])}")
    print("\n".join(lines))
    return 0


def _print_sr_info(info: dict) -> int:
    cfg = info["config"]
    r, s = cfg["base_resolution"], cfg["scale"]
    rows = [
        f"resolution    {r}x{r} -> {r * s}x{r * s} (x{s}), {cfg['img_channels']} channels",
        f"window        base frames t-{cfg['window']}..t+{cfg['window']} ({2 * cfg['window'] + 1} frames)",
        f"latent        z {cfg['z_dim']} -> w {cfg['w_dim']}, channels <= {cfg['channel_max']}",
        f"native fps    {cfg['native_fps']:g} (the base must match)",
    ]
    return _print_info_rows(info, rows, kind=True)


def register(sub) -> None:
    g = add_command(
        sub, "generate", "render videos (mp4 or PNG frames) at any fps, time scale and t", GENERATE_EXAMPLES
    )
    add_model_args(g)
    g.add_argument("--out", type=Path, required=True, help="output .mp4 (or folder of PNG frames)")
    g.add_argument("--seeds", type=parse_seeds, default=[0], help="content seeds, e.g. 0-7 or 1,5 (default 0)")
    g.add_argument(
        "--motion-seed",
        "--motion-seeds",
        dest="motion_seed",
        type=parse_seeds,
        default=None,
        help="motion seed(s) (default 0); several only with --grid (rows); with --latents: replaces their motion",
    )
    g.add_argument(
        "--latents",
        type=Path,
        default=None,
        help="render saved codes (.npz of sgv project/edit or the app) instead of --seeds, with their motion",
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
    sr = g.add_mutually_exclusive_group()
    sr.add_argument("--sr", type=Path, default=None, help="cascade SR model (.safetensors) on top of the base")
    sr.add_argument("--no-sr", action="store_true", help="do not use the bundled SR level with the bundled base")
    g.set_defaults(func=cmd_generate)

    i = add_command(sub, "info", "describe a model file", INFO_EXAMPLES)
    i.add_argument("--ckpt", type=Path, default=None, help="model file (default: the bundled model)")
    i.add_argument("--json", action="store_true", help="machine-readable output")
    i.set_defaults(func=cmd_info)
