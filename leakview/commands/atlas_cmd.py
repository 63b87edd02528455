"""``leakview atlas DIR --out atlas.png``: the mean attribution map per predicted class."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from leakview.cli import EXIT_USAGE, CommandError
from leakview.commands import argtypes


def register(subparsers: argparse._SubParsersAction) -> None:
    from leakview.attribution import method_names

    parser = subparsers.add_parser(
        "atlas", help="mean attribution map per predicted class, as a figure (and JSON)",
        description=(
            "For every image of DIR compute the attribution map of the predicted class, "
            "normalise it to sum 1 and average the maps per predicted class at the model's "
            "input size. The figure shows each class's mean map over its mean image, with the "
            "hot spot (the top 1% of the frame's cells) in yellow and, where masks exist, the "
            "expected region in cyan; a class is flagged when its hot spot is concentrated and lies "
            "outside the expected region in at least 90% of its images."))
    parser.add_argument("folder", metavar="DIR", help="image folder (ImageFolder tree for "
                                                      "true labels)")
    parser.add_argument("--model", help="model bundle (default: the bundled demo-clean model)")
    parser.add_argument("--method", default="saliency", choices=method_names(),
                        help="attribution method (default: %(default)s)")
    parser.add_argument("--out", required=True, help="figure to write (PNG)")
    parser.add_argument("--json", help="write the per-class numbers as JSON")
    parser.add_argument("--npz", help="write the mean maps, mean images and mask coverage")
    parser.add_argument("--masks", help="masks root (default: DIR/.leakview/masks)")
    parser.add_argument("--device", type=argtypes.device,
                        help="cpu, cuda, cuda:1 ... (default: auto)")
    parser.add_argument("--batch-size", type=int, default=16, help="default: %(default)s")
    parser.add_argument("--lime-samples", type=int, help="LIME samples (with --method lime)")
    parser.add_argument("--seed", type=int, help="seed of the sampling methods")
    parser.add_argument("--hot-fraction", type=float, default=0.01,
                        help="share of cells in the hot spot (default: %(default)s)")
    parser.add_argument("--outside-share", type=float, default=0.9,
                        help="a hot cell is outside when it misses the mask in at least this "
                             "share of images (default: %(default)s)")
    parser.add_argument("--min-concentration", type=float, default=3.0,
                        help="the hot spot must hold this many times its area share of the "
                             "mass (default: %(default)s)")
    parser.add_argument("--min-images", type=int, default=3,
                        help="masked images a class needs for a hot-spot verdict "
                             "(default: %(default)s)")
    parser.add_argument("--cell", type=int,
                        help="side of the hot-spot cells in model-input pixels (default: about "
                             "1/24 of the input's short side)")
    parser.add_argument("--columns", type=int, default=4, help="panels per row (default 4)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from leakview.atlas import compute_atlas
    from leakview.attribution import METHODS
    from leakview.models import ModelLoadError, load_model
    from leakview.progress import ProgressBar
    from leakview.report import save_png
    from leakview.resources import demo_model_path

    folder = Path(args.folder)
    if not folder.is_dir():
        raise CommandError(f"{folder}: no such folder", EXIT_USAGE)
    if args.batch_size < 1 or args.columns < 1:
        raise CommandError("--batch-size and --columns must be at least 1", EXIT_USAGE)
    options: dict = {}
    if args.lime_samples is not None:
        if args.method != "lime":
            raise CommandError("--lime-samples needs --method lime", EXIT_USAGE)
        options["samples"] = args.lime_samples
    if args.seed is not None:
        if not any(spec.name == "seed" for spec in METHODS[args.method].options):
            raise CommandError(f"--seed: method {args.method} takes no seed", EXIT_USAGE)
        options["seed"] = args.seed
    try:
        model = load_model(args.model or demo_model_path("clean"), device=args.device)
    except ModelLoadError as error:
        raise CommandError(str(error)) from None
    bar = ProgressBar(0, "atlas", unit="img")

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done)

    try:
        atlas = compute_atlas(model, folder, method=args.method, method_options=options,
                              masks_root=Path(args.masks) if args.masks else None,
                              batch_size=args.batch_size, hot_fraction=args.hot_fraction,
                              outside_share=args.outside_share,
                              min_concentration=args.min_concentration,
                              min_images=args.min_images, cell=args.cell,
                              progress=progress)
    except ValueError as error:
        raise CommandError(str(error), EXIT_USAGE) from None
    finally:
        bar.close()
    for problem in atlas.errors:
        print(f"skipped {problem}", file=sys.stderr)
    try:
        save_png(args.out, atlas.figure(columns=args.columns))
        if args.json:
            atlas.save_json(args.json)
        if args.npz:
            atlas.save_npz(args.npz)
    except OSError as error:
        raise CommandError(f"cannot write: {error}") from None
    print(f"atlas of {atlas.images} images -> {args.out}")
    for entry in atlas.classes:
        if entry.count == 0:
            print(f"  {entry.name}: no images predicted")
            continue
        where = (f"hot spot at y={entry.hot_centre[0]:.2f} x={entry.hot_centre[1]:.2f} "
                 f"holds {entry.hot_mass:.0%}" if entry.hot_centre else "")
        outside = ("" if entry.hot_spot_outside is None else
                   f"; outside the expected region: {'YES' if entry.hot_spot_outside else 'no'} "
                   f"({entry.mass_outside_masks:.0%} of the mass outside the masks)")
        print(f"  {entry.name}: {entry.count} images; {where}{outside}")
    flagged = atlas.flagged()
    if flagged:
        print(f"hot spot outside the expected region: {', '.join(flagged)}")
    return 0
