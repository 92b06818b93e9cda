"""The ``fastclnf`` command (minimal: only ``models``; the ``image`` command joins it later).

Each subcommand's parser sets ``func``; ``main`` calls ``args.func(args)`` and returns its exit
status.
"""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

from . import __version__
from .install import register_cli as register_models_cli


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fastclnf", description="OpenFace CLNF facial landmarks, fast.")
    parser.add_argument("--version", action="version", version=f"fastclnf {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    register_models_cli(subparsers)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "func"):
        parser.print_help(sys.stderr)
        return 2
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
