"""Leak-verdict table of the two demo models on the bundled demo images (not a test).

Scans resources/demo with demo-clean and demo-leaky for every attribution method against the
cargo masks and prints, per model and method: images flagged, mean mass_in_mask, mean
concentration, and the folder verdict under the default rule:

    python benchmarks/demo_verdicts.py [--methods saliency,lime] [--lime-samples 1000]
                                       [--gradcam-layer conv5] [--region marker]

``--gradcam-layer`` runs Grad-CAM on that layer of both models instead of the automatic
choice (``conv5`` is the last, 3 x 4, feature map of the demo's shufflenet_v2 at 96 x 128;
the automatic choice walks back to ``stage2``, 12 x 16). ``--region marker`` measures against
the markers' masks (the demo's suspect regions, ``.leakview/masks/.suspect``) instead of the
cargo, as if they were the expected region: then ``mass_in_mask`` is the share of the map on the
marker and ``pointing`` how often the hottest pixel lies on it (the flags and verdicts are
meaningless there: the marker is the leak, not the expected region).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from leakview.attribution import method_names
from leakview.csvio import read_csv
from leakview.masks import SUSPECT, region_root
from leakview.models import LoadedModel, load_model
from leakview.pipeline import ScanJob, run_scan_to_files
from leakview.resources import demo_images_dir, demo_model_path


def _mean(rows: list[dict], column: str) -> float:
    values = [float(row[column]) for row in rows if row[column] not in ("", None)]
    return statistics.fmean(values) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--methods", default=",".join(method_names()))
    parser.add_argument("--lime-samples", type=int, default=None)
    parser.add_argument("--gradcam-layer", default="",
                        help="Grad-CAM layer of both models (default: automatic)")
    parser.add_argument("--region", choices=("cargo", "marker"), default="cargo",
                        help="the masks measured against (default: cargo)")
    args = parser.parse_args()
    methods = [name for name in args.methods.split(",") if name]
    masks = region_root(demo_images_dir(), SUSPECT) if args.region == "marker" else None
    print(f"{'model':<13}{'method':<22}{'flagged':>9}{'mass_in_mask':>14}{'concentration':>15}"
          f"{'pointing':>10}{'verdict':>9}")
    with tempfile.TemporaryDirectory() as scratch:
        for kind in ("clean", "leaky"):
            csv_path = Path(scratch) / f"{kind}.csv"
            model: Path | LoadedModel = demo_model_path(kind)
            if args.gradcam_layer:  # as a bundle's gradcam_layer would
                model = load_model(model, device="cpu")
                model.extra["gradcam_layer"] = args.gradcam_layer
            outcome = run_scan_to_files(ScanJob(
                folder=demo_images_dir(), csv=csv_path, model=model, masks=masks,
                methods=methods, device="cpu", lime_samples=args.lime_samples, seed=0))
            rows = read_csv(csv_path)
            for method in methods:
                members = [row for row in rows if row["method"] == method]
                stats = outcome.verdict["methods"][method]
                judged = stats["images"] - stats["errors"] - stats["undefined"]
                print(f"demo-{kind:<8}{method:<22}{stats['flagged']:>4}/{judged:<4}"
                      f"{_mean(members, 'mass_in_mask'):>14.3f}"
                      f"{_mean(members, 'concentration'):>15.2f}"
                      f"{_mean(members, 'pointing_hit'):>10.3f}{stats['verdict']:>9}")


if __name__ == "__main__":
    main()
