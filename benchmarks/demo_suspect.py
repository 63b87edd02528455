"""How much of each demo model's attribution lies on the marker, the demo's suspect region
(not a test).

Scans the bundled demo images (every one carries the class-coloured corner marker, stored as
its suspect region) with demo-clean and demo-leaky, the way ``leakview scan`` does (the same
:func:`leakview.scan.scan`, seed 0, each image's predicted class), and measures every map
and reads the scan rows' suspect-region columns (the scan measures every map against the suspect
region). Prints, per model and method, a markdown table: images measured, mean share of the
top-k (5%) pixels on the marker (``suspect_topk_share``), mean share of the positive mass on it
(``suspect_mass``), the marker's area fraction (``suspect_area_frac``), how many images have a
top-k share above 0.5, and how many the suspect rule flags (``suspect_flag``: ``topk_share > F *
min(1, area / 0.05)``, ``F`` = ``--max-suspect-share``, default the scan's). A region smaller
than the top-k cannot hold all of it: the top-k share of a marker of area ``a`` is at most
``min(1, a / k)`` (0.30 for the demo's 1.5% corner square at the scan's k = 5%), so the table
also gives the share as a fraction of that ceiling (1 = the marker is wholly inside the top-k
pixels). ``--topk`` measures at another k (the marker's own area, 0.015, makes the ceiling 1):

    python benchmarks/demo_suspect.py [--methods saliency,lime,gradcam] [--lime-samples N]
                                      [--max-suspect-share 0.3] [--limit N]
                                      [--models leaky,clean] [--topk 0.05]
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from collections.abc import Sequence
from typing import Any

from leakview.attribution import sampling_options
from leakview.models import load_model
from leakview.resources import demo_images_dir, demo_model_path
from leakview.scan import ScanOptions, scan, select_images
from leakview.verdict import VerdictRule

TOPK_FRACTION = 0.05


def _mean(values: Sequence[float]) -> float:
    finite = [value for value in values if value == value]  # NaN: an all-zero map
    return statistics.fmean(finite) if finite else float("nan")


def measure(kind: str, methods: list[str], lime_samples: int | None, limit: int | None,
            topk: float = TOPK_FRACTION, rule: VerdictRule | None = None
            ) -> dict[str, list[dict[str, Any]]]:
    """Per method, the suspect-region columns of every demo image's scan row under
    demo-``kind`` (the scan's own numbers and flag: nothing recomputed here)."""
    model = load_model(demo_model_path(kind), device="cpu")
    root = demo_images_dir()
    options = ScanOptions(methods=tuple(methods), topk_fraction=topk, rule=rule or VerdictRule(),
                          method_options=sampling_options(methods, seed=0,
                                                          lime_samples=lime_samples))
    paths = select_images(root)[:limit]
    measured: dict[str, list[dict[str, Any]]] = {method: [] for method in methods}
    for result in scan(model, root, paths, options):
        for row in result.rows:
            if row.error or row.suspect_area_frac != row.suspect_area_frac:
                raise SystemExit(f"{row.image}: {row.error or 'no suspect region'}")
            measured[row.method].append({
                "topk_intersection": row.suspect_topk_share, "mass_in_mask": row.suspect_mass,
                "mask_area_frac": row.suspect_area_frac, "flag": row.suspect_flag,
                "correct": float(bool(row.label) and row.label == row.predicted),
                "label": row.label, "image": row.image})
    return measured


def table(results: dict[str, dict[str, list[dict[str, Any]]]], per_class: bool = False,
          topk: float = TOPK_FRACTION) -> str:
    lines = [f"| model | method | images | top-{topk:.1%} share on marker | of its ceiling "
             f"| mass on marker | marker area | top-{topk:.1%} share > 0.5 "
             "| suspect rule flags |",
             "|---|---|---|---|---|---|---|---|---|"]
    for kind, per_method in results.items():
        for method, all_rows in per_method.items():
            groups = ([(f"{method}, {label}", [row for row in all_rows if row["label"] == label])
                       for label in sorted({row["label"] for row in all_rows})]
                      if per_class else [(method, all_rows)])
            lines.extend(_line(kind, name, rows, topk) for name, rows in groups)
    return "\n".join(lines)


def _line(kind: str, method: str, rows: list[dict[str, Any]], topk: float) -> str:
    """One table row: the means over ``rows`` (one image each)."""
    share = [row["topk_intersection"] for row in rows]
    area = [row["mask_area_frac"] for row in rows]
    ceiling = [min(1.0, a / topk) for a in area]
    flagged = sum(row["flag"] == 1 for row in rows)
    return (f"| demo-{kind} | {method} | {len(rows)} | {_mean(share):.3f} "
            f"(min {min(share):.2f}, max {max(share):.2f}) "
            f"| {_mean([s / c for s, c in zip(share, ceiling)]):.2f} "
            f"| {_mean([row['mass_in_mask'] for row in rows]):.3f} | {_mean(area):.4f} "
            f"| {sum(s > 0.5 for s in share)}/{len(rows)} | {flagged}/{len(rows)} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--methods", default="saliency,lime,gradcam")
    parser.add_argument("--lime-samples", type=int, default=None,
                        help="LIME samples (default: LIME's own, 1000)")
    parser.add_argument("--max-suspect-share", type=float,
                        default=VerdictRule().max_suspect_share,
                        help="the suspect rule's threshold (default: %(default)s, the scan's)")
    parser.add_argument("--topk", type=float, default=TOPK_FRACTION,
                        help=f"top-k fraction (default {TOPK_FRACTION}, the scan's)")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images")
    parser.add_argument("--models", default="leaky,clean", help="demo models to measure")
    parser.add_argument("--csv", default="", help="also write every image's numbers here")
    args = parser.parse_args()
    methods = [name for name in args.methods.split(",") if name]
    results = {}
    for kind in [name for name in args.models.split(",") if name]:
        started = time.monotonic()
        results[kind] = measure(kind, methods, args.lime_samples, args.limit, args.topk,
                                VerdictRule(max_suspect_share=args.max_suspect_share))
        accuracy = _mean([row["correct"] for row in results[kind][methods[0]]])
        print(f"demo-{kind}: {time.monotonic() - started:.0f} s, accuracy {accuracy:.0%}",
              flush=True)
    print(table(results, topk=args.topk))
    print()
    print(table(results, per_class=True, topk=args.topk))
    if args.csv:
        with open(args.csv, "w", newline="", encoding="utf-8") as stream:
            writer = csv.writer(stream)
            writer.writerow(["model", "method", "image", "label", "topk_intersection",
                             "mass_in_mask", "mask_area_frac", "correct"])
            for kind, per_method in results.items():
                for method, rows in per_method.items():
                    writer.writerows([f"demo-{kind}", method, row["image"], row["label"],
                                      row["topk_intersection"], row["mass_in_mask"],
                                      row["mask_area_frac"], row["correct"]] for row in rows)


if __name__ == "__main__":
    main()
