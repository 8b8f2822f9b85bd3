"""The ``shade`` command. Each sub-command lives in its own module under
``shade_daemon.commands`` with ``register(subparsers)``; the module sets ``func`` on its
parser, which gets the parsed args and returns an exit code."""

from __future__ import annotations

import argparse
import importlib
import sys

from . import __version__

# Sub-command modules, in the order ``shade --help`` lists them.
COMMAND_MODULES = [
    ".commands.protect",
    ".commands.serve",
    ".commands.bench",
    ".commands.experiment",     # after bench: it adds ``shade bench --poison``
    ".commands.models",
    ".commands.install", ".commands.doctor",
    ".commands.daemon", ".commands.status", ".commands.open", ".commands.token", ".commands.config",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="shade", description="Protect images before you post them.")
    parser.add_argument("--version", action="version", version=f"shade {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name, __package__).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("shade: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
