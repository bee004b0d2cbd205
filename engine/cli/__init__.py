"""`sgv`: the engine's command line, thin over the library: one module per command group, each with `register(sub)`.

Every failure caused by input prints one line (`sgv: <file>: <problem>`) and exits with status 2;
anything else is a bug and keeps its traceback. Shared flags and helpers are in engine.cli.common.
"""

from __future__ import annotations

import argparse
import sys

from engine.errors import SgvError


def build_parser() -> argparse.ArgumentParser:
    from engine.cli import dataset, edit, generate, importer, metrics, train, train_sr, weights

    parser = argparse.ArgumentParser(
        prog="sgv",
        description="StyleGAN-V Studio engine: continuous-time video generation.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="run `sgv COMMAND --help` for examples of each command",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for group in (generate, dataset, train, train_sr, edit, metrics, importer, weights):
        group.register(sub)
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
