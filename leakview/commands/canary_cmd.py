"""``leakview canary DATA --arch NAME``: plant a leak, train a clean and a leaky model, and check
that the attribution methods find the leak (the study's experiment as a repeatable check)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leakview.cli import EXIT_USAGE, CommandError
from leakview.commands import argtypes
from leakview.markers import (
    CORNERS,
    DEFAULT_MARKER,
    EDGES,
    MARKER_NAMES,
    parse_colours,
    placement,
    size_defaults,
)

if TYPE_CHECKING:
    from leakview.progress import ProgressBar

EXIT_MISSED = 3


def _colours(text: str) -> list[tuple[int, int, int]]:
    """``--marker-colors``: :func:`leakview.markers.parse_colours` as an argparse type."""
    try:
        return parse_colours(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "canary", help="plant a leak in a copy of the data, train clean and leaky models, and "
                       "check that the attribution methods find it",
        description=(
            "The leak-injection experiment as a repeatable check. From the ImageFolder tree "
            "DATA, write a leaky copy (a class-coloured marker on every image) to "
            "OUT/leaky-data, hold out a split, train one model on the honest images and one on "
            "the leaky ones, and measure on the held-out images: accuracy with and without the "
            "marker (how many predictions change when only the marker is removed) and how much "
            "attribution mass each method puts on the marker (and on the expected region, where "
            "DATA/.leakview/masks exist). Writes OUT/canary.csv, OUT/canary.json, "
            "OUT/report.html (self-contained), OUT/clean.pt and OUT/leaky.pt. Ctrl-C leaves a "
            "partial report (exit 130). Exit 3 with --fail-on-miss when the leak did not take "
            "or a method missed it."))
    parser.add_argument("data", metavar="DATA", type=argtypes.root,
                        help="ImageFolder tree: one sub-folder per class")
    parser.add_argument("--init", help="fine-tune this model (both models start from it): a "
                                       "bundle, or any accepted form described by the flags "
                                       "under 'describing the model'")
    parser.add_argument("--marker", default=DEFAULT_MARKER, choices=MARKER_NAMES,
                        help="the planted leak (default: %(default)s)")
    parser.add_argument("--marker-corner", choices=CORNERS, metavar="CORNER",
                        help=f"corner of corner-rect/watermark ({', '.join(CORNERS)})")
    parser.add_argument("--marker-edge", choices=EDGES, metavar="EDGE",
                        help=f"edge of the stripe ({', '.join(EDGES)})")
    parser.add_argument("--marker-size", type=float, metavar="F",
                        help="marker size as a fraction of each image's short side "
                             f"({size_defaults()} by default)")
    parser.add_argument("--marker-colors", type=_colours, metavar="R,G,B;...",
                        help="one colour per class, in sorted class-folder order")
    parser.add_argument("--methods", default="saliency,lime",
                        help="comma-separated attribution methods (default: %(default)s)")
    parser.add_argument("--lime-samples", type=int, help="LIME samples (default: the registry's)")
    parser.add_argument("--epochs", type=int, default=10, help="default: %(default)s")
    parser.add_argument("--out", type=argtypes.root,
                        help="output folder (default: ./canary-<DATA name>)")
    parser.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    parser.add_argument("--device", type=argtypes.device,
                        help="cpu, cuda, cuda:1 ... (default: auto)")
    parser.add_argument("--holdout", type=float, default=0.2,
                        help="fraction of each class held out for the measurements "
                             "(default: %(default)s)")
    parser.add_argument("--select-fraction", type=float, default=0.0,
                        help="fraction of the training images used to pick the best epoch "
                             "(default 0: keep the last epoch)")
    parser.add_argument("--batch-size", type=int, default=16,
                        help="training batch size (default: %(default)s: small data needs "
                             "enough steps)")
    parser.add_argument("--lr", type=float, default=5e-3, help="peak learning rate "
                                                               "(default: %(default)s)")
    parser.add_argument("--flip", action="store_true",
                        help="horizontal-flip augmentation for both models (off by default: a "
                             "flip moves a corner marker to the other corner, so the leak would "
                             "no longer sit in one place as the study's did)")
    parser.add_argument("--images-per-class-for-figures", type=int, default=2, metavar="K",
                        help="study figures per class and model in the report "
                             "(default: %(default)s)")
    parser.add_argument("--force", action="store_true",
                        help="replace an earlier canary run in OUT")
    parser.add_argument("--fail-on-miss", action="store_true",
                        help="exit 3 when the leak did not take or a method missed it")
    argtypes.add_model_spec_arguments(
        parser, arch_help="architecture to train: a torchvision classification model name, "
                          "e.g. shufflenet_v2_x1_0 (required unless --init; with --init, the "
                          "architecture of a file that does not name it)",
        input_size_help="model input size (default: --init's, else 128 128)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from leakview.attribution import Cancelled, sampling_options
    from leakview.canary import CanaryConfig, CanaryConfigError, run_canary
    from leakview.models import ModelLoadError

    methods = tuple(name.strip() for name in args.methods.split(",") if name.strip())
    params: dict[str, Any] = {}
    where = placement(args.marker)[0]
    if args.marker_corner is not None:
        if where != "corner":
            raise CommandError(f"--marker-corner does not apply to the {args.marker} (use "
                               f"--marker-{where})", EXIT_USAGE)
        params["corner"] = args.marker_corner
    if args.marker_edge is not None:
        if where != "edge":
            raise CommandError("--marker-edge applies to the stripe only", EXIT_USAGE)
        params["edge"] = args.marker_edge
    if args.marker_size is not None:
        params["size"] = args.marker_size
    if args.marker_colors is not None:
        params["class_colors"] = args.marker_colors
    described = [flag for flag, value in (("--classes", args.classes),
                                          ("--classes-file", args.classes_file),
                                          ("--mean", args.mean), ("--std", args.std))
                 if value is not None]
    if described and not args.init:
        raise CommandError(f"{', '.join(described)} describe(s) the model of --init: give "
                           f"--init (a model trained from --arch takes DATA's classes)",
                           EXIT_USAGE)
    if args.lime_samples is not None and "lime" not in methods:
        raise CommandError("--lime-samples needs lime in --methods", EXIT_USAGE)
    method_options = sampling_options(methods, lime_samples=args.lime_samples)
    data = Path(args.data)
    out = Path(args.out) if args.out else Path.cwd() / f"canary-{data.name}"
    config = CanaryConfig(
        data=data, out=out, arch=args.arch, init=Path(args.init) if args.init else None,
        marker=args.marker, marker_params=params, methods=methods,
        method_options=method_options, epochs=args.epochs,
        input_size=tuple(args.input_size) if args.input_size else None, seed=args.seed,
        device=args.device, holdout=args.holdout, select_fraction=args.select_fraction,
        batch_size=args.batch_size, learning_rate=args.lr, flip=args.flip,
        figures_per_class=args.images_per_class_for_figures, force=args.force,
        init_spec=argtypes.model_spec(args) if args.init else None)
    progress = _Progress()
    try:
        result = run_canary(config, progress=progress)
    except ModelLoadError as error:
        progress.close()
        raise argtypes.model_error(error) from None
    except CanaryConfigError as error:
        raise CommandError(str(error), EXIT_USAGE) from None
    except (ValueError, OSError) as error:
        progress.close()
        raise CommandError(f"{error} (partial report in {out})") from None
    except (KeyboardInterrupt, Cancelled):
        progress.close()
        print(f"interrupted: partial report in {out / 'report.html'}", file=sys.stderr)
        raise KeyboardInterrupt from None
    progress.close()
    print(f"{out / 'report.html'}\n{out / 'canary.csv'}\n{out / 'canary.json'}")
    verdict = result.verdict or {}
    for line in verdict.get("summary", []):
        print(f"  {line}")
    print(f"outcome: {verdict.get('outcome')}")
    if args.fail_on_miss and verdict.get("outcome") != "found":
        return EXIT_MISSED
    return 0


class _Progress:
    """One ProgressBar per phase, on stderr."""

    def __init__(self) -> None:
        self.phase: str | None = None
        self.bar: ProgressBar | None = None

    def __call__(self, phase: str, done: int, total: int, text: str) -> None:
        from leakview.progress import ProgressBar

        if phase != self.phase:
            self.close()
            self.phase = phase
            unit = "batch" if phase.startswith("train") else "img"
            self.bar = ProgressBar(total, phase, unit=unit)
        assert self.bar is not None
        self.bar.total = total
        self.bar.update(done, text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
            self.phase = None
