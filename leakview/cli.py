"""The ``leakview`` command line.

Each subcommand lives in its own module under :mod:`leakview.commands` and exposes
``register(subparsers)``, which adds its parser and sets ``func`` to a callable taking the parsed
arguments and returning an exit status. Modules are imported only when argparse needs them, so
``leakview --version`` stays fast, and a command builds only its own parser (``leakview
info`` does not import the attribution methods that ``scan``'s options list).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from leakview import __version__

# Each command name and the module that registers it; the order here is the order in
# `leakview --help`.
COMMANDS: dict[str, str] = {
    "gui": "leakview.commands.gui",
    "info": "leakview.commands.info",
    "convert": "leakview.commands.convert",
    "demo-data": "leakview.commands.demo_data",
    "train": "leakview.commands.train_cmd",
    "scan": "leakview.commands.scan_cmd",
    "merge": "leakview.commands.scan_cmd",
    "masks": "leakview.commands.masks_cmd",
    "canary": "leakview.commands.canary_cmd",
    "atlas": "leakview.commands.atlas_cmd",
}
COMMAND_MODULES: tuple[str, ...] = tuple(dict.fromkeys(COMMANDS.values()))

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class CommandError(Exception):
    """A user-facing failure: printed as one line, exit status 1 (or ``status``)."""

    def __init__(self, message: str, status: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.status = status


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser with every registered subcommand, or only ``command``'s (and
    those its module registers with it) when that names one."""
    parser = argparse.ArgumentParser(
        prog="leakview",
        description=(
            "Find data leakage in image classifiers: see where the network looks, draw where it "
            "should look, and measure the overlap. With no command, opens the desktop app."
        ),
    )
    parser.add_argument("--version", action="version", version=f"leakview {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = (COMMANDS[command],) if command in COMMANDS else COMMAND_MODULES
    for module_name in modules:
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
    # The first argument is the command (the top level has no other options than --help and
    # --version); no argument opens the app.
    parser = build_parser(arguments[0] if arguments else "gui")
    args = parser.parse_args(arguments)
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
