"""``leakview scan DIR --csv OUT.csv``: the headless leak check (CI gate) and
``leakview merge A.csv B.csv -o ALL.csv``: join shard CSVs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from leakview.cli import CommandError
from leakview.commands import argtypes

EXIT_LEAK = 3


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from leakview.attribution import method_names

    parser = subparsers.add_parser(
        "scan", help="explain every image of a folder, measure overlap with masks, write a CSV",
        description=(
            "Scan DIR: predict, compute attribution maps, compare them with the expected-region "
            "masks and write one CSV row per (image, method). A method that cannot run on the "
            "model is skipped with its reason (one line, and the rows' error cell); the others "
            "run. Exit status 0 = done, 1 = failure (or no method could run), 2 = bad "
            "arguments, 3 = --fail-on-leak and the folder verdict is leak."))
    parser.add_argument("folder", help="image folder (ImageFolder tree for true labels)")
    parser.add_argument("--methods", default="saliency",
                        help=f"comma-separated, from: {', '.join(method_names())} "
                             "(default: %(default)s)")
    parser.add_argument("--csv", required=True, help="CSV to write")
    parser.add_argument("--maps", help="save each map as DIR/<image>.<method>.npy (float32)")
    parser.add_argument("--figures", help="save an original|saliency|LIME triptych per image")
    parser.add_argument("--summary", help="write the per-class / per-method summary as JSON")
    parser.add_argument("--atlas", help="also write the class atlas figure (PNG) from the same "
                                        "maps (with several methods: one file per method, "
                                        "ATLAS.<method>.png)")
    parser.add_argument("--atlas-json", help="the atlas's per-class numbers as JSON")
    parser.add_argument("--fail-on-leak", action="store_true",
                        help="exit with status 3 when the folder verdict is leak")
    parser.add_argument("--resume", action="store_true",
                        help="keep rows already written by an interrupted run and skip them")
    parser.add_argument("--shard", help="K/N: process the K-th of N deterministic parts")
    argtypes.add_model_arguments(parser)
    parser.add_argument("--min-topk-share", type=argtypes.share,
                        help="leak flag when less than this share of the top 5%% pixels lies "
                             "in the mask (scaled down for masks under 5%% of the image; "
                             "default: 0.2)")
    parser.add_argument("--max-flag-rate", type=argtypes.positive_share,
                        help="folder verdict leak when this share of images is flagged "
                             "(default: 0.5)")
    parser.set_defaults(func=run)

    merge = subparsers.add_parser(
        "merge", help="join shard CSVs written by `leakview scan --shard`",
        description="Join scan CSVs into one (sorted, duplicates dropped), atomically.")
    merge.add_argument("inputs", nargs="+", help="CSV files to join")
    merge.add_argument("-o", "--output", required=True, help="merged CSV to write")
    merge.set_defaults(func=run_merge)


def parse_shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise CommandError(f"--shard must look like K/N (e.g. 2/4), got {text!r}", 2) from None
    if not 1 <= index <= count:
        raise CommandError(f"--shard {text}: need 1 <= K <= N", 2)
    return index, count


def run(args: argparse.Namespace) -> int:
    from leakview.pipeline import AtlasOutput, ScanJob, run_scan_to_files

    methods = [name.strip() for name in args.methods.split(",") if name.strip()]
    folder = Path(args.folder)
    if not folder.is_dir():
        raise CommandError(f"{folder}: no such folder", 2)
    if args.atlas_json and not args.atlas:
        raise CommandError("--atlas-json needs --atlas", 2)
    atlas = (AtlasOutput(figure=Path(args.atlas),
                         json=Path(args.atlas_json) if args.atlas_json else None)
             if args.atlas else None)
    job = ScanJob(folder=folder, csv=Path(args.csv), model=args.model,
                  model_spec=argtypes.model_spec(args), methods=methods,
                  masks=Path(args.masks) if args.masks else None,
                  maps=Path(args.maps) if args.maps else None,
                  figures=Path(args.figures) if args.figures else None,
                  summary=Path(args.summary) if args.summary else None,
                  resume=args.resume, shard=parse_shard(args.shard), device=args.device,
                  batch_size=args.batch_size, lime_samples=args.lime_samples, seed=args.seed,
                  min_topk_share=args.min_topk_share, max_flag_rate=args.max_flag_rate,
                  atlas=atlas)
    from leakview.csvio import CsvFormatError
    from leakview.models import ModelLoadError
    from leakview.scan import NoMethodCanRun

    try:
        outcome = run_scan_to_files(job, stream=sys.stderr)
    except ModelLoadError as error:
        raise argtypes.model_error(error) from None
    except (CsvFormatError, OSError, NoMethodCanRun) as error:
        raise CommandError(str(error)) from None
    except ValueError as error:
        raise CommandError(str(error), 2) from None
    print(f"{outcome.rows_written} rows -> {job.csv} ({outcome.images} images, "
          f"{outcome.errors} unreadable, {outcome.skipped} resumed); "
          f"verdict: {outcome.verdict['verdict']}")
    for method, stats in outcome.verdict["methods"].items():
        if method in outcome.unavailable:
            print(f"  {method}: not run (unavailable for this model) -> n/a")
            continue
        rate = "n/a" if stats["flag_rate"] is None else f"{stats['flag_rate']:.0%}"
        print(f"  {method}: flagged {stats['flagged']} of "
              f"{stats['images'] - stats['errors'] - stats['undefined']} judged ({rate}), "
              f"{stats['undefined']} undefined (no mask or an all-zero map) -> {stats['verdict']}")
    if atlas is not None:
        from leakview.commands.atlas_cmd import print_atlas

        for method, result in outcome.atlases.items():
            print(f"atlas ({method}) of {result.images} images -> "
                  f"{atlas.path(atlas.figure, method, methods)}")
            print_atlas(result)
    if args.fail_on_leak and outcome.verdict["verdict"] == "leak":
        return EXIT_LEAK
    return 0


def run_merge(args: argparse.Namespace) -> int:
    from leakview.attribution import method_names
    from leakview.csvio import CsvFormatError, merge_csv

    try:
        count = merge_csv(args.inputs, args.output, method_order=method_names())
    except CsvFormatError as error:
        raise CommandError(str(error)) from None
    print(f"{count} rows -> {args.output}")
    return 0

