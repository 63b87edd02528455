"""The ``leakview`` command line.

Each subcommand lives in its own module under :mod:`leakview.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a callable taking the parsed
arguments and returning an exit status. Modules are imported only when argparse needs them, so
``leakview --version`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from leakview import __version__

# Order here is the order in `leakview --help`.
COMMAND_MODULES: tuple[str, ...] = (
    "leakview.commands.gui",
    "leakview.commands.info",
    "leakview.commands.demo_data",
    "leakview.commands.train_cmd",
    "leakview.commands.scan_cmd",
    "leakview.commands.masks_cmd",
    "leakview.commands.canary_cmd",
    "leakview.commands.atlas_cmd",
)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 1 (or ``status``)."""

    def __init__(self, message: str, status: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.status = status


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="leakview",
        description=(
            "Find data leakage in image classifiers: see where the network looks, draw where it "
            "should look, and measure the overlap. With no command, opens the desktop app."
        ),
    )
    parser.add_argument("--version", action="version", version=f"leakview {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``leakview`` console script; returns the exit status."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    if arguments == ["--version"]:
        # Answered before the parser is built: some commands' options list attribution
        # methods, and importing those imports torch (seconds).
        print(f"leakview {__version__}")
        return EXIT_OK
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        args = parser.parse_args(["gui"])
    try:
        return int(args.func(args) or EXIT_OK)
    except CommandError as error:
        print(f"leakview {args.command}: error: {error}", file=sys.stderr)
        return error.status
    except KeyboardInterrupt:
        print(f"leakview {args.command}: interrupted", file=sys.stderr)
        return 130
