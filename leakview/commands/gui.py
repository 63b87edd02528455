"""``leakview gui [DIR] [--model M [--arch ..] [--classes ..]]``: the desktop app (default)."""

from __future__ import annotations

import argparse

from leakview.commands import argtypes


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "gui",
        help="open the desktop app (default when no command is given)",
        description=("Open the desktop app on DIR. Without DIR it reopens the last session's "
                     "folder and model; the first time (or with --demo) a writable copy of the "
                     "bundled demo images, kept in ~/.local/share/leakview/demo, with "
                     "demo-clean."))
    parser.add_argument("folder", nargs="?", type=argtypes.root,
                        help="image folder to open (default: the last one, else the demo)")
    parser.add_argument("--model",
                        help="model bundle to open (default: the last one, else demo-clean)")
    parser.add_argument("--demo", action="store_true",
                        help="open the bundled demo images and demo-clean")
    argtypes.add_model_spec_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from leakview.gui.app import run_app

    status: int = run_app(folder=args.folder, model=args.model, demo=args.demo,
                          spec=argtypes.model_spec(args))
    return status
