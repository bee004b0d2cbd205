"""`sgv weights status` and `sgv weights fetch NAME`: the external networks some features need."""

from __future__ import annotations

import sys

from engine.cli.common import add_command

EXAMPLES = """examples:
  sgv weights status                       # what is present, where, and which feature needs it
  sgv weights fetch clip-vit-b-32-openai   # CLIP for `sgv edit`
  sgv weights fetch vgg16                  # LPIPS backbone for `sgv project`
  sgv weights fetch i3d                    # FVD
  sgv weights fetch inception              # FID
  SGV_WEIGHTS_DIR=/data/weights sgv weights status   # another cache folder

Offline machines: copy the file named by `status` into the cache folder by hand.
"""


def register(sub) -> None:
    p = add_command(
        sub, "weights", "external network weights (CLIP, LPIPS/VGG16, I3D, Inception): status and download", EXAMPLES
    )
    wsub = p.add_subparsers(dest="weights_cmd", metavar="{status,fetch}", required=True)
    s = wsub.add_parser("status", help="list every known weights file, its path and whether it is present")
    s.set_defaults(func=cmd_status)
    f = wsub.add_parser("fetch", help="download one weights file into the cache (hash-checked, atomic)")
    f.add_argument("names", nargs="+", metavar="NAME", help="registry name(s); `sgv weights status` lists them")
    f.add_argument("--quiet", action="store_true", help="no progress bar")
    f.set_defaults(func=cmd_fetch)


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def cmd_status(args) -> int:
    from engine import weights

    print(f"cache: {weights.cache_dir()}")
    for row in weights.status():
        mark = "present" if row["present"] else "missing"
        print(f"{row['name']:<22} {mark:<8} {_size(row['size']):>10}  {row['path']}")
        print(f"{'':<22} needed by: {row['feature']}")
    return 0


def cmd_fetch(args) -> int:
    from tqdm import tqdm

    from engine import weights

    for name in args.names:
        weights.entry(name)  # unknown names fail before any download starts
    for name in args.names:
        bar = tqdm(desc=name, unit="B", unit_scale=True, disable=args.quiet, dynamic_ncols=True)

        def progress(done: int, total: int | None, bar=bar) -> None:
            bar.total = total
            bar.update(done - bar.n)

        try:
            path = weights.fetch(name, progress=progress)
        finally:
            bar.close()
        print(f"sgv weights: {name} -> {path}", file=sys.stderr)
    return 0
