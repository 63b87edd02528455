"""``leakview gui [DIR] [--model M]``: the desktop app (the default command)."""

from __future__ import annotations

import argparse
import importlib.util

from leakview.resources import demo_images_dir, demo_model_path


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "gui",
        help="open the desktop app (default when no command is given)",
        description="Open the desktop app on DIR (default: the bundled demo images).",
    )
    parser.add_argument("folder", nargs="?", help="image folder to open (default: bundled demo)")
    parser.add_argument("--model", help="model bundle to open (default: bundled demo-clean)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    folder = args.folder or str(demo_images_dir())
    model = args.model or str(demo_model_path("clean"))
    if importlib.util.find_spec("leakview.gui.app") is None:
        print(
            "The leakview desktop app is not part of this build yet.\n"
            f"It will open {folder} with the model {model}.\n"
            "Meanwhile: `leakview --help` lists the headless commands, e.g. "
            "`leakview info MODEL` describes a model bundle."
        )
        return 0
    from leakview.gui.app import run_app

    return run_app(folder=folder, model=model)
