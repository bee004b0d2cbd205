"""`sgv dataset prepare|synth|info`: thin over engine.data."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from engine.cli.common import add_command

PREPARE_EXAMPLES = """examples:
  sgv dataset prepare ~/videos --out data/mine --res 256                 # folder of frame folders (jpg)
  sgv dataset prepare ~/videos --out data/mine.zip --res 256 --fps 25    # upstream zip, resampled to 25 fps
  sgv dataset prepare clip.mov --out data/one --res 128 --image-format png
  sgv dataset prepare ~/videos --out data/mine --res 256 --workers 8 --min-frames 16

Center-crops every video to a square and resizes it (Lanczos, antialiased). Re-running the same command
resumes: finished videos are kept and only new or changed files are converted. Files that cannot be used
(corrupt, truncated, empty, not a video, too short) are skipped and listed in skipped.txt.
"""

SYNTH_EXAMPLES = """examples:
  sgv dataset synth --out data/shapes --videos 64 --frames 256 --res 64 --seed 0
  sgv dataset synth --out data/shapes.zip --videos 8 --frames 32 --res 32 --seed 1
  sgv dataset synth --out data/shapes-mp4 --videos 4 --frames 100 --res 128 --format mp4

Moving discs, squares, triangles and soft blobs on gradient backgrounds; slow drift, periodic motion and
small jitter. Same arguments, same bytes (frames and zip formats). 25 fps.
"""

INFO_EXAMPLES = """examples:
  sgv dataset info data/shapes
  sgv dataset info data/ffs.zip --json
  sgv dataset info ~/videos                # probes the video files (counts frames by decoding)
  sgv dataset info ~/videos --res 64       # builds/reuses the frame cache training would use
"""


def register(sub) -> None:
    ds = sub.add_parser("dataset", help="prepare, synthesise and inspect training datasets")
    dsub = ds.add_subparsers(dest="dataset_command", metavar="SUBCOMMAND", required=True)

    p = add_command(
        dsub, "prepare", "convert videos into a frame dataset (crop, resize, resample fps)", PREPARE_EXAMPLES
    )
    p.add_argument("src", type=Path, help="a folder of video files (searched recursively) or one video file")
    p.add_argument("--out", type=Path, required=True, help="output folder, or a .zip file")
    p.add_argument("--res", type=int, required=True, help="output frames are RES x RES pixels")
    p.add_argument("--fps", type=float, default=None, help="resample every video to this frame rate")
    p.add_argument("--workers", type=int, default=None, help="parallel processes (default: CPU count, at most 8)")
    p.add_argument("--format", choices=["frames", "zip"], default=None, help="default: zip if --out ends in .zip")
    p.add_argument("--min-frames", type=int, default=1, help="skip videos shorter than this (default 1)")
    p.add_argument("--image-format", choices=["jpg", "png"], default="jpg", help="frame files (default jpg, q95)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_prepare)

    s = add_command(dsub, "synth", "write a procedural synthetic video dataset", SYNTH_EXAMPLES)
    s.add_argument("--out", type=Path, required=True, help="output folder (frames, mp4) or .zip file")
    s.add_argument("--videos", type=int, required=True, help="number of videos")
    s.add_argument("--frames", type=int, required=True, help="frames per video")
    s.add_argument("--res", type=int, required=True, help="frames are RES x RES pixels")
    s.add_argument("--seed", type=int, default=0, help="dataset seed (video i is synth_video((seed, i)))")
    s.add_argument("--format", choices=["frames", "zip", "mp4"], default=None, help="default: from --out")
    s.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    s.add_argument("--workers", type=int, default=None, help="parallel processes (default: CPU count, at most 8)")
    s.add_argument("--quiet", action="store_true", help="no progress bar")
    s.set_defaults(func=cmd_synth)

    i = add_command(dsub, "info", "videos, frames, lengths, fps and resolution of a dataset", INFO_EXAMPLES)
    i.add_argument("path", type=Path, help="dataset: folder of videos / frame folders, zip, or sharded root")
    i.add_argument("--res", type=int, default=None, help="read at this resolution (a video folder: via its cache)")
    i.add_argument("--json", action="store_true", help="machine-readable output")
    i.set_defaults(func=cmd_info)


def cmd_prepare(args) -> int:
    from engine.data.prepare import prepare_dataset

    result = prepare_dataset(
        args.src,
        args.out,
        args.res,
        fps=args.fps,
        workers=args.workers,
        format=args.format,
        min_frames=args.min_frames,
        image_format=args.image_format,
        progress=False if args.quiet else None,
    )
    print(result.out)
    print(f"sgv: {result.summary()}", file=sys.stderr)
    return 0


def cmd_synth(args) -> int:
    from engine.data.synth import write_synthetic_dataset

    out = write_synthetic_dataset(
        args.out,
        args.videos,
        args.frames,
        args.res,
        seed=args.seed,
        format=args.format,
        overwrite=args.overwrite,
        progress=False if args.quiet else None,
        workers=args.workers,
    )
    print(out)
    return 0


def cmd_info(args) -> int:
    from engine.data.opener import detect_layout, open_dataset, probe_video_folder

    path = args.path.expanduser()
    layout, _ = detect_layout(path)
    if layout == "videos" and args.res is None:
        info = probe_video_folder(path)
    else:
        info = open_dataset(path, resolution=args.res).describe()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(_info_text(info))
    return 0


def _info_text(info: dict) -> str:
    lines = [f"path          {info['path']}", f"format        {info['format']}"]
    skipped = info.get("skipped")
    n_skipped = len(skipped) if isinstance(skipped, list) else int(skipped or 0)
    lines.append(f"videos        {info['videos']}" + (f" ({n_skipped} files skipped)" if n_skipped else ""))
    lines.append(
        f"frames        {info['frames']} (per video: min {info['min_frames']}, median {info['median_frames']:g},"
        f" max {info['max_frames']})"
    )
    fps = info.get("fps")
    rng = info.get("fps_range")
    fps_text = "unknown" if fps is None else f"{fps:g}"
    if rng and rng[1] - rng[0] > 0.01:
        fps_text += f" (median; {rng[0]:g}..{rng[1]:g})"
    lines.append(f"fps           {fps_text}")
    if "resolution" in info:
        res = f"{info['resolution']}x{info['resolution']}"
        if info.get("stored_size") and info["stored_size"] != res:
            res += f" (stored {info['stored_size']}, cropped/resized on read)"
        lines.append(f"resolution    {res}")
    if info.get("sizes"):
        lines.append(f"frame sizes   {', '.join(info['sizes'])}")
    if "c_dim" in info:
        lines.append(f"labels        {info['c_dim'] or 'none'}")
    if info.get("cache"):
        lines.append(f"cache         {info['cache']}")
    if isinstance(skipped, list) and skipped:
        lines.append("skipped:")
        lines += [f"  {f}: {why}" for f, why in skipped]
    return "\n".join(lines)
