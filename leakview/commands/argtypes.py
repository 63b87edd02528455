"""Argument types shared by the subcommands: a bad value is a usage error (exit status 2) with
argparse's one-line message, before any model is loaded or any file written."""

from __future__ import annotations

import argparse
import math
from typing import Any


def device(text: str) -> str:
    """``--device``: ``auto``, ``cpu``, ``cuda``, ``cuda:1`` ... and available here."""
    from leakview.models import choose_device

    try:
        choose_device(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None
    return text


def _whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def positive_int(text: str) -> int:
    value = _whole(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = _whole(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def share(text: str) -> float:
    """A fraction from 0 to 1."""
    value = finite_float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a share from 0 to 1, got {text}")
    return value


def positive_share(text: str) -> float:
    """A fraction above 0, at most 1."""
    value = finite_float(text)
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a share above 0 and at most 1, got {text}")
    return value


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every command that runs a model on a folder takes alike: the model, the
    masks root, the device, the batch size and the sampling methods' settings."""
    parser.add_argument("--model", help="model bundle (default: the bundled demo-clean model)")
    parser.add_argument("--masks", help="masks root (default: DIR/.leakview/masks)")
    parser.add_argument("--device", type=device, help="cpu, cuda, cuda:1 ... (default: auto)")
    parser.add_argument("--batch-size", type=positive_int, default=16,
                        help="default: %(default)s")
    parser.add_argument("--lime-samples", type=positive_int,
                        help="LIME samples (default: the method's)")
    parser.add_argument("--seed", type=non_negative_int, help="seed of the sampling methods")


def add_atlas_rule_arguments(parser: argparse.ArgumentParser) -> None:
    """The class atlas's hot-spot rule (see leakview.atlas)."""
    parser.add_argument("--hot-fraction", type=positive_share, default=0.01,
                        help="share of cells in the hot spot (default: %(default)s)")
    parser.add_argument("--outside-share", type=positive_share, default=0.9,
                        help="a hot cell is outside when it misses the mask in at least this "
                             "share of images (default: %(default)s)")
    parser.add_argument("--min-concentration", type=finite_float, default=3.0,
                        help="the hot spot must hold this many times its area share of the "
                             "mass (default: %(default)s)")
    parser.add_argument("--min-images", type=positive_int, default=3,
                        help="masked images a class needs for a hot-spot verdict "
                             "(default: %(default)s)")
    parser.add_argument("--cell", type=positive_int,
                        help="side of the hot-spot cells in model-input pixels (default: about "
                             "1/24 of the input's short side)")
    parser.add_argument("--columns", type=positive_int, default=4,
                        help="panels per row of the atlas figure (default 4)")


def atlas_rule(args: argparse.Namespace) -> dict[str, Any]:
    """The hot-spot parameters of :func:`add_atlas_rule_arguments` as AtlasBuilder keywords."""
    return {"hot_fraction": args.hot_fraction, "outside_share": args.outside_share,
            "min_concentration": args.min_concentration, "min_images": args.min_images,
            "cell": args.cell}
