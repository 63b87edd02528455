"""``leakview info MODEL``: describe a model bundle or TorchScript archive."""

from __future__ import annotations

import argparse
import json

from leakview.cli import CommandError
from leakview.commands import argtypes


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "info", help="describe a model file (architecture, classes, input size)",
        description="Load MODEL safely (weights only) and print what it is, as JSON.")
    parser.add_argument("model", help="model bundle (.pt) or TorchScript archive")
    parser.add_argument("--device", type=argtypes.device,
                        help="cpu, cuda, cuda:1 ... (default: auto)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from leakview.models import ModelLoadError, describe, load_model

    try:
        model = load_model(args.model, device=args.device)
    except ModelLoadError as error:
        raise CommandError(str(error)) from None
    print(json.dumps(describe(model), indent=2, default=str))
    return 0
