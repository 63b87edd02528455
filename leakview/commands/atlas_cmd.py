"""``leakview atlas DIR --out atlas.png``: the mean attribution map per predicted class (a scan
that writes only the atlas: the same as ``leakview scan DIR --atlas atlas.png`` without a CSV)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from leakview.cli import EXIT_USAGE, CommandError
from leakview.commands import argtypes
from leakview.method_names import METHOD_NAMES

if TYPE_CHECKING:
    from leakview.atlas import Atlas


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "atlas", help="mean attribution map per predicted class, as a figure (and JSON)",
        description=(
            "For every image of DIR compute the attribution map of the predicted class, "
            "normalise it to sum 1 and average the maps per predicted class at the model's "
            "input size. The figure shows each class's mean map over its mean image, with the "
            "hot spot (the top 1% of the frame's cells) in yellow and, where masks exist, the "
            "expected region in cyan; a class is flagged when its hot spot is concentrated and "
            "lies outside the expected region in at least 90% of its images."))
    parser.add_argument("folder", metavar="DIR", type=argtypes.root,
                        help="image folder (ImageFolder tree for true labels)")
    parser.add_argument("--method", default="saliency", choices=METHOD_NAMES,
                        help="attribution method (default: %(default)s)")
    parser.add_argument("--out", required=True, help="figure to write (PNG)")
    parser.add_argument("--json", help="write the per-class numbers as JSON")
    parser.add_argument("--npz", help="write the mean maps, mean images and mask coverage")
    argtypes.add_model_arguments(parser)
    argtypes.add_atlas_rule_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    folder = Path(args.folder)
    if not folder.is_dir():
        raise CommandError(f"{folder}: no such folder", EXIT_USAGE)
    model = argtypes.folder_model(args.model, folder)

    from leakview.attribution import METHODS
    from leakview.models import ModelLoadError, ModelRunError
    from leakview.pipeline import AtlasOutput, ScanJob, run_scan_to_files
    from leakview.report import labels_text
    from leakview.scan import NoMethodCanRun

    if args.lime_samples is not None and args.method != "lime":
        raise CommandError("--lime-samples needs --method lime", EXIT_USAGE)
    if args.seed is not None and not any(spec.name == "seed"
                                         for spec in METHODS[args.method].options):
        raise CommandError(f"--seed: method {args.method} takes no seed", EXIT_USAGE)
    job = ScanJob(folder=folder, csv=None, model=model,
                  model_spec=argtypes.model_spec(args), methods=[args.method],
                  masks=Path(args.masks) if args.masks else None, device=args.device,
                  batch_size=args.batch_size, lime_samples=args.lime_samples, seed=args.seed,
                  atlas=AtlasOutput(figure=Path(args.out),
                                    json=Path(args.json) if args.json else None,
                                    npz=Path(args.npz) if args.npz else None,
                                    columns=args.columns, rule=argtypes.atlas_rule(args)))
    try:
        outcome = run_scan_to_files(job, stream=sys.stderr)
    except ModelLoadError as error:
        raise argtypes.model_error(error) from None
    except (NoMethodCanRun, ModelRunError) as error:
        raise CommandError(str(error)) from None
    except ValueError as error:
        raise CommandError(str(error), EXIT_USAGE) from None
    except OSError as error:
        raise CommandError(str(error)) from None
    atlas = outcome.atlases[args.method]
    for problem in atlas.errors:
        print(f"skipped {problem}", file=sys.stderr)
    print(f"atlas of {atlas.images} images -> {args.out}; model: {outcome.model['name']} "
          f"({outcome.model['source']})")
    print(labels_text(outcome.summary["labels"]))
    print_atlas(atlas)
    return 0


def print_atlas(atlas: Atlas) -> None:
    """Each class's hot spot and verdict, and the flagged classes, one line each."""
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
