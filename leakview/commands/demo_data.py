"""``leakview demo-data OUT``: write a synthetic grain-terminal ImageFolder tree (with masks)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from leakview.cli import EXIT_USAGE, CommandError
from leakview.commands import argtypes
from leakview.demo_world import CLASSES, MAX_SIDE, MIN_SIDE
from leakview.demo_world import DEFAULT_SIZE as DEFAULT_WH
from leakview.markers import CORNERS, EDGES, MARKER_NAMES, size_defaults

DEFAULT_N = 100
DEFAULT_SIZE = "{}x{}".format(*DEFAULT_WH)


def _size(text: str) -> tuple[int, int]:
    parts = text.lower().replace("×", "x").split("x")
    try:
        w, h = (int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 320x240, got {text!r}"
                                         ) from None
    if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
        raise argparse.ArgumentTypeError(
            f"each side must be between {MIN_SIDE} and {MAX_SIDE} pixels, got {w}x{h}")
    return w, h


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "demo-data", help="write synthetic grain-truck images (optionally with a planted leak)",
        description=(
            "Render synthetic grain-terminal images of trucks carrying "
            f"{', '.join(CLASSES)} into OUT as an ImageFolder tree (OUT/<class>/<class>_0001.png"
            " ...), with the cargo mask of every image under OUT/.leakview/masks/ and, with "
            "--leak, the leak marker's region as the suspect region, under "
            "OUT/.leakview/masks/.suspect/. The same arguments "
            "always write byte-identical files."))
    parser.add_argument("out", metavar="OUT", help="output folder (new or empty)")
    parser.add_argument("--n", type=argtypes.positive_int, default=DEFAULT_N, metavar="N",
                        help=f"images PER CLASS (default {DEFAULT_N}; total = N x "
                             f"{len(CLASSES)})")
    parser.add_argument("--size", type=_size, default=_size(DEFAULT_SIZE), metavar="WxH",
                        help=f"image width x height in pixels (default {DEFAULT_SIZE})")
    parser.add_argument("--leak", default=None, metavar="MARKER",
                        help="plant a class-coloured leak marker: "
                             f"{', '.join(MARKER_NAMES)} (default: none, honest data)")
    parser.add_argument("--marker-corner", choices=CORNERS, default=None, metavar="CORNER",
                        help=f"corner of the marker ({', '.join(CORNERS)}; corner-rect "
                             "default top-left, watermark default bottom-right)")
    parser.add_argument("--marker-edge", choices=EDGES, default=None, metavar="EDGE",
                        help=f"edge of the stripe marker ({', '.join(EDGES)}; default top)")
    parser.add_argument("--marker-size", type=argtypes.finite_float, default=None, metavar="F",
                        help="marker size as a fraction of the image's short side "
                             f"(by default {size_defaults()})")
    parser.add_argument("--seed", type=argtypes.non_negative_int, default=0, metavar="S",
                        help="random seed (default 0)")
    parser.add_argument("--cargo-contrast", type=argtypes.finite_float, default=1.0, metavar="F",
                        help="strength of the class-specific cargo look: 1.0 default, "
                             "0 = every class gets the same neutral fill")
    parser.add_argument("--clean-twin", action="store_true",
                        help="with --leak, also write every image without the marker under "
                             "OUT/.leakview/clean/")
    parser.add_argument("--force", action="store_true",
                        help="write into OUT even if it is not empty (files with the same "
                             "names are replaced, other files are left alone)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from leakview.synth import generate_dataset

    if args.leak is not None and args.leak not in MARKER_NAMES:
        raise CommandError(f"unknown leak marker {args.leak!r}; available: "
                           f"{', '.join(sorted(MARKER_NAMES))}", EXIT_USAGE)
    params = {}
    if args.marker_corner is not None:
        params["corner"] = args.marker_corner
    if args.marker_edge is not None:
        params["edge"] = args.marker_edge
    if args.marker_size is not None:
        params["size"] = args.marker_size
    if params and args.leak is None:
        raise CommandError("--marker-corner/--marker-edge/--marker-size need --leak MARKER",
                           EXIT_USAGE)
    if args.clean_twin and args.leak is None:
        raise CommandError("--clean-twin needs --leak MARKER", EXIT_USAGE)
    if args.cargo_contrast < 0:
        raise CommandError("--cargo-contrast must be 0 or more", EXIT_USAGE)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CommandError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()) and not args.force:
        raise CommandError(f"{out} is not empty; choose a new folder or pass --force")

    interactive = sys.stderr.isatty()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if done == total or now - last[0] >= (0.2 if interactive else 5.0):
            last[0] = now
            end = "\n" if done == total or not interactive else ""
            prefix = "\r" if interactive else ""
            print(f"{prefix}demo-data: {done}/{total} images", end=end, file=sys.stderr,
                  flush=True)

    started = time.monotonic()
    try:
        summary = generate_dataset(out, args.n, size=args.size, leak=args.leak, seed=args.seed,
                                   marker_params=params or None,
                                   cargo_contrast=args.cargo_contrast, progress=progress,
                                   write_clean_twin=args.clean_twin)
    except ValueError as error:
        raise CommandError(str(error)) from None
    except OSError as error:
        raise CommandError(f"cannot write {out}: {error.strerror or error}") from None
    elapsed = time.monotonic() - started
    w, h = summary["size"]
    if summary["leak"]:
        marker = summary["marker"]
        where = marker.get("corner") or marker.get("edge")
        leak = f"leak {summary['leak']} {where}"
    else:
        leak = "no leak"
    print(f"wrote {summary['images']} images ({len(summary['classes'])} classes x "
          f"{summary['n_per_class']}, {w}x{h}, {leak}, seed {summary['seed']}) with masks to "
          f"{os.fspath(out)} in {elapsed:.1f} s")
    return 0
