"""`sgv import X.pkl --out model.safetensors`: convert an upstream StyleGAN-V checkpoint without running it."""

from __future__ import annotations

from pathlib import Path

from engine.cli.common import add_command
from engine.errors import SgvError

EXAMPLES = """examples:
  sgv import network-snapshot-025000.pkl --out ffs256.safetensors
  sgv import sky_timelapse.pkl                      # writes sky_timelapse.safetensors next to it
  sgv info --ckpt ffs256.safetensors                # config, fingerprint and provenance of the result
  sgv generate --ckpt ffs256.safetensors --out out/ffs.mp4 --seeds 0-3 --grid

The pickle's G_ema is read by a restricted unpickler: the source code embedded in upstream pickles is
never executed, and a file that names anything outside the allow-list (os.system, eval, ...) is refused.
`sgv generate --ckpt X.pkl` also works (it imports on the fly each time; importing once is faster).
"""


def register(sub) -> None:
    p = add_command(
        sub,
        "import",
        "convert an upstream StyleGAN-V .pkl checkpoint (G_ema) to a model file, executing nothing in it",
        EXAMPLES,
    )
    p.add_argument("pkl", type=Path, help="upstream checkpoint, e.g. network-snapshot-025000.pkl")
    p.add_argument("--out", type=Path, default=None, help="model file to write (default: PKL with .safetensors)")
    p.set_defaults(func=cmd_import)


def cmd_import(args) -> int:
    from engine import legacy
    from engine.checkpoint import import_upstream

    out = args.out if args.out is not None else args.pkl.with_suffix(".safetensors")
    if out.suffix.lower() in legacy.LEGACY_SUFFIXES or (out.exists() and out.resolve() == args.pkl.resolve()):
        raise SgvError(f"{out}: --out must be a new .safetensors file, not the pickle itself")
    fingerprint, up = import_upstream(args.pkl, out)
    cfg = up.generator.config
    kimg = f", {up.info['kimg']:g} kimg" if "kimg" in up.info else ""
    cond = f", {cfg.c_dim} classes" if cfg.c_dim else ""
    print(
        f"{out}: G_ema of {args.pkl.name} ({cfg.synthesis.img_resolution}², δz {cfg.motion.delta_z:g}, "
        f"periods {cfg.motion.min_period:g}..{cfg.motion.max_period:g}{cond}{kimg}), fingerprint {fingerprint}"
    )
    return 0
