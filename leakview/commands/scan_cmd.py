"""``leakview scan DIR --csv OUT.csv``: the headless leak check (CI gate) and
``leakview merge A.csv B.csv -o ALL.csv``: join shard CSVs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from leakview.cli import CommandError
from leakview.commands import argtypes
from leakview.method_names import METHOD_NAMES

EXIT_LEAK = 3
EXIT_TOO_FEW_JUDGED = 4


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "scan", help="explain every image of a folder, measure overlap with masks, write a CSV",
        description=(
            "Scan DIR: predict, compute attribution maps, compare them with the expected-region "
            "masks and the suspect regions (MASKS/.suspect/<image>.png) and write one CSV row "
            "per (image, method). A method that cannot run on the "
            "model is skipped with its reason (one line, and the rows' error cell); the others "
            "run. Exit status 0 = done, 1 = failure (or no method could run), 2 = bad "
            "arguments, 3 = --fail-on-leak and the folder verdict is leak, 4 = --fail-on-leak "
            "and the verdict is not leak but rests on too few judged images (see "
            "--min-judged)."))
    parser.add_argument("folder", type=argtypes.root,
                        help="image folder (ImageFolder tree for true labels)")
    parser.add_argument("--methods", default="saliency",
                        help=f"comma-separated, from: {', '.join(METHOD_NAMES)} "
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
                        help="exit with status 3 when the folder verdict is leak, and with "
                             "4 when it is ok or undetermined but too few images were judged "
                             "(a gate never passes on a handful of masks)")
    parser.add_argument("--resume", action="store_true",
                        help="keep rows already written by an interrupted run and skip them")
    parser.add_argument("--shard", help="K/N: process the K-th of N deterministic parts")
    argtypes.add_model_arguments(parser)
    parser.add_argument("--min-topk-share", type=argtypes.share,
                        help="leak flag when less than this share of the top 5%% pixels lies "
                             "in the mask (scaled down for masks under 5%% of the image; "
                             "default: 0.2)")
    parser.add_argument("--max-suspect-share", type=argtypes.share,
                        help="leak flag when more than this share of the top 5%% pixels lies "
                             "in the image's suspect region (MASKS/.suspect/<image>.png; "
                             "scaled down for regions under 5%% of the image; default: 0.3)")
    parser.add_argument("--max-flag-rate", type=argtypes.positive_share,
                        help="folder verdict leak when this share of images is flagged "
                             "(default: 0.5)")
    parser.add_argument("--min-judged", type=argtypes.non_negative_int,
                        help="a verdict needs at least this many judged images (an image is "
                             "judged when it has a mask and a defined flag), or all of them "
                             "if there are fewer (default: 5)")
    parser.add_argument("--min-judged-share", type=argtypes.share,
                        help="... and at least this share of the images judged (default: "
                             "0.5); below either the verdict is reported as resting on too "
                             "few images")
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
    methods = [name.strip() for name in args.methods.split(",") if name.strip()]
    folder = Path(args.folder)
    if not folder.is_dir():
        raise CommandError(f"{folder}: no such folder", 2)
    if args.atlas_json and not args.atlas:
        raise CommandError("--atlas-json needs --atlas", 2)
    model = argtypes.folder_model(args.model, folder)

    from leakview.pipeline import AtlasOutput, ScanJob, run_scan_to_files
    from leakview.report import labels_text
    from leakview.verdict import coverage_text

    atlas = (AtlasOutput(figure=Path(args.atlas),
                         json=Path(args.atlas_json) if args.atlas_json else None)
             if args.atlas else None)
    job = ScanJob(folder=folder, csv=Path(args.csv), model=model,
                  model_spec=argtypes.model_spec(args), methods=methods,
                  masks=Path(args.masks) if args.masks else None,
                  maps=Path(args.maps) if args.maps else None,
                  figures=Path(args.figures) if args.figures else None,
                  summary=Path(args.summary) if args.summary else None,
                  resume=args.resume, shard=parse_shard(args.shard), device=args.device,
                  batch_size=args.batch_size, lime_samples=args.lime_samples, seed=args.seed,
                  min_topk_share=args.min_topk_share, max_flag_rate=args.max_flag_rate,
                  min_judged=args.min_judged, min_judged_share=args.min_judged_share,
                  max_suspect_share=args.max_suspect_share, atlas=atlas)
    from leakview.csvio import CsvFormatError
    from leakview.models import ModelLoadError, ModelRunError
    from leakview.scan import NoMethodCanRun

    try:
        outcome = run_scan_to_files(job, stream=sys.stderr)
    except ModelLoadError as error:
        raise argtypes.model_error(error) from None
    except (CsvFormatError, OSError, NoMethodCanRun, ModelRunError) as error:
        raise CommandError(str(error)) from None
    except ValueError as error:
        raise CommandError(str(error), 2) from None
    verdict = outcome.verdict
    skipped = outcome.listing.skipped_text() if outcome.listing is not None else ""
    print(f"{outcome.rows_written} rows -> {job.csv} ({outcome.images} images, "
          f"{outcome.errors} unreadable, {outcome.skipped} resumed"
          f"{'; skipped ' + skipped if skipped else ''}); "
          f"model: {outcome.model['name']} ({outcome.model['source']}); "
          f"verdict: {verdict['verdict']} ({coverage_text(verdict)})")
    print(labels_text(verdict["labels"]))
    for method, stats in verdict["methods"].items():
        if method in outcome.unavailable:
            print(f"  {method}: not run (unavailable for this model) -> n/a")
            continue
        rate = "n/a" if stats["flag_rate"] is None else f"{stats['flag_rate']:.0%}"
        print(f"  {method}: flagged {stats['flagged']} of {stats['judged']} judged ({rate}"
              f"{suspect_text(stats)}), {stats['undefined']} undefined (no mask or an all-zero "
              f"map) -> {stats['verdict']} ({coverage_text(stats)})")
    if atlas is not None:
        from leakview.commands.atlas_cmd import print_atlas

        for method, result in outcome.atlases.items():
            print(f"atlas ({method}) of {result.images} images -> "
                  f"{atlas.path(atlas.figure, method, methods)}")
            print_atlas(result)
    if not verdict["coverage_ok"]:
        rule = job.rule()
        print(f"warning: the verdict rests on too few images ({coverage_text(verdict)}; "
              f"the rule: --min-judged {rule.min_judged}, --min-judged-share "
              f"{rule.min_judged_share:g})", file=sys.stderr)
    return gate_status(verdict) if args.fail_on_leak else 0


def suspect_text(stats: Mapping[str, Any]) -> str:
    """``; N of M by the suspect region`` for a method whose images had suspect regions
    (``suspect_judged`` > 0), else ``""``."""
    if not stats.get("suspect_judged"):
        return ""
    return (f"; {stats['suspect_flagged']} of {stats['suspect_judged']} by the suspect "
            f"region")


def gate_status(verdict: Mapping[str, Any]) -> int:
    """The exit status of ``--fail-on-leak`` for a folder verdict: :data:`EXIT_LEAK` for a
    leak (however few images it rests on), :data:`EXIT_TOO_FEW_JUDGED` for any other verdict
    that rests on too few judged images (undetermined included), else 0: the gate passes only
    on an ok it can trust."""
    if verdict["verdict"] == "leak":
        return EXIT_LEAK
    return 0 if verdict["coverage_ok"] else EXIT_TOO_FEW_JUDGED


def run_merge(args: argparse.Namespace) -> int:
    from leakview.csvio import CsvFormatError, merge_csv

    try:
        count = merge_csv(args.inputs, args.output, method_order=METHOD_NAMES)
    except CsvFormatError as error:
        raise CommandError(str(error)) from None
    print(f"{count} rows -> {args.output}")
    return 0

