"""The canary's reports: what a run has found so far (:class:`RunRecord`), written after every
phase as ``canary.csv``, ``canary-images.csv``, ``canary.json`` and ``report.html``, each
atomically. The HTML is rendered from ``templates/report.html.j2`` with autoescaping (every
file, class and method name is escaped); it is static and self-contained (figures embedded as
base64 PNG, no external resources)."""

from __future__ import annotations

import base64
import json
import math
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leakview import __version__
from leakview.atomic import atomic_write_bytes, atomic_write_text
from leakview.canary.config import CanaryConfig, plain_dict
from leakview.canary.leaky_copy import LEAKY_DIR
from leakview.csvio import render_csv

if TYPE_CHECKING:
    import jinja2

CANARY_FORMAT = "leakview-canary/1"

#: canary.csv, in this order: one row per model x method.
CSV_COLUMNS: tuple[str, ...] = (
    "model", "method", "images", "accuracy_with_marker", "accuracy_without_marker",
    "prediction_change_rate", "marker_mass", "expected_mass", "marker_pointing_rate",
    "marker_area_frac", "marker_concentration", "marker_box_mass", "expected_pointing_rate",
    "swap_follow_rate", "expected_images", "errors",
)
#: canary-images.csv: one row per held-out image x model x method.
IMAGE_COLUMNS: tuple[str, ...] = (
    "image", "label", "model", "method", "predicted_with_marker", "predicted_without_marker",
    "confidence_with_marker", "changed", "swap_class", "predicted_with_swapped_marker",
    "marker_mass", "marker_pointing_hit",
    "marker_area_frac", "marker_box_mass", "expected_mass", "expected_pointing_hit", "error",
)


@dataclass
class RunRecord:
    """Everything the reports of one run say; filled in phase by phase."""

    config: CanaryConfig
    arch: str | None = None
    input_size: tuple[int, int] | None = None
    status: str = "partial"
    stopped: str | None = None      # interrupted, cancelled or error
    error: str | None = None
    phase: str | None = None
    phases_done: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    data_info: dict[str, Any] = field(default_factory=dict)
    marker_info: dict[str, Any] = field(default_factory=dict)
    models_info: dict[str, dict[str, Any]] = field(default_factory=dict)
    model_paths: dict[str, Path] = field(default_factory=dict)
    rows: list[dict[str, Any]] = field(default_factory=list)
    image_rows: list[dict[str, Any]] = field(default_factory=list)
    per_class: list[dict[str, Any]] = field(default_factory=list)
    verdict: dict[str, Any] | None = None
    figures: list[dict[str, Any]] = field(default_factory=list)  # with "png", the embedded one

    def as_dict(self) -> dict[str, Any]:
        """canary.json."""
        return plain_dict({
            "format": CANARY_FORMAT,
            "status": self.status,
            "stopped": self.stopped,
            "error": self.error,
            "phase": self.phase,
            "phases_done": list(self.phases_done),
            "timings": {**self.timings,
                        "total": round(time.monotonic() - self.started, 3)},
            "leakview_version": __version__,
            "config": {**self.config.as_dict(), "arch": self.arch,
                       "input_size": list(self.input_size) if self.input_size else None},
            "data": self.data_info,
            "marker": self.marker_info,
            "models": self.models_info,
            "results": self.rows,
            "per_class": self.per_class,
            "verdict": self.verdict,
            "figures": [{key: value for key, value in figure.items() if key != "png"}
                        for figure in self.figures],
            "files": {"csv": "canary.csv", "images_csv": "canary-images.csv",
                      "json": "canary.json", "html": "report.html",
                      "leaky_data": LEAKY_DIR,
                      "models": {k: Path(v).name for k, v in self.model_paths.items()}},
            "images": self.image_rows,
        })


def write_reports(out: Path, record: RunRecord) -> dict[str, Any]:
    """canary.csv, canary-images.csv, canary.json and report.html, each atomically; returns
    the canary.json data."""
    report = record.as_dict()
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out / "canary.csv", render_csv(record.rows, CSV_COLUMNS).encode("utf-8"))
    atomic_write_bytes(out / "canary-images.csv",
                       render_csv(record.image_rows, IMAGE_COLUMNS).encode("utf-8"))
    atomic_write_text(out / "canary.json", json.dumps(report, indent=2, allow_nan=False) + "\n")
    atomic_write_text(out / "report.html", render_html(report, record.figures))
    return report


def read_report(path: str | os.PathLike[str]) -> dict[str, Any]:
    """canary.json of an earlier run (``OUT`` or the file itself)."""
    path = Path(path)
    if path.is_dir():
        path = path / "canary.json"
    report = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(report, dict):
        raise ValueError(f"{path}: not a canary report (its JSON is not an object)")
    return report


# ------------------------------------------------------------------------------------ HTML

def cell(value: Any) -> str:
    """A table cell's text: floats with three decimals, NaN and None empty."""
    if isinstance(value, float):
        return "" if not math.isfinite(value) else f"{value:.3f}"
    if value is None:
        return ""
    return str(value)


@lru_cache(maxsize=1)
def _template() -> jinja2.Template:
    import jinja2

    environment = jinja2.Environment(  # templates/ is package data beside this module
        loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"), autoescape=True,
        trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined)
    environment.filters["cell"] = cell
    return environment.get_template("report.html.j2")


_STOPPED = {"interrupted": "it was interrupted (Ctrl-C)", "cancelled": "it was cancelled"}
_BANNER = {"found": "found", "partly found": "neutral", "missed": "missed",
           "leak did not take": "neutral"}


def render_html(report: Mapping[str, Any], figures: Sequence[Mapping[str, Any]] = ()) -> str:
    """The static, self-contained report (figures as base64 PNG ``data:`` URIs)."""
    return _template().render(**_context(report, figures))


def _context(report: Mapping[str, Any], figures: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """What the template shows, with the words and rows worked out here."""
    config = report.get("config", {})
    marker = report.get("marker", {})
    partial = None
    if report.get("status") != "complete":
        stopped = str(report.get("stopped"))
        why = (f"it failed: {report.get('error')}" if stopped == "error"
               else _STOPPED.get(stopped, "it is still running"))
        partial = {"why": why, "done": ", ".join(report.get("phases_done") or []) or "none"}
    verdict = report.get("verdict")
    method_rows = [{"method": method, "verdict": value["strength"],
                    "leaky marker mass": value["leaky_marker_mass"],
                    "clean marker mass": value["clean_marker_mass"],
                    "ratio leaky/clean": value["mass_ratio"],
                    "marker area share": value["marker_area_frac"],
                    "leaky concentration": value["leaky_concentration"],
                    "leaky pointing rate": value["leaky_pointing_rate"],
                    "clean pointing rate": value["clean_pointing_rate"]}
                   for method, value in (verdict or {}).get("methods", {}).items()]
    model_rows = [{"model": name, "arch": info.get("arch"), "epochs": info.get("epochs"),
                   "kept epoch": info.get("best_epoch"),
                   "train images": info.get("train_images"),
                   "final train accuracy": info.get("final_train_accuracy"),
                   "seconds": info.get("seconds"), "bundle": Path(str(info.get("path"))).name}
                  for name, info in (report.get("models") or {}).items()]
    return {
        "report": report, "config": config, "data": report.get("data", {}), "marker": marker,
        "rule": config.get("rule", {}), "partial": partial, "verdict": verdict,
        "banner": _BANNER.get(str((verdict or {}).get("outcome")), "neutral"),
        "method_rows": method_rows, "csv_columns": CSV_COLUMNS, "model_rows": model_rows,
        "marker_params": json.dumps({k: v for k, v in (marker.get("params") or {}).items()
                                     if k != "class_colors"}),
        "swatches": [{"cls": cls, "rgb": ",".join(str(int(v)) for v in rgb),
                      "triple": str(tuple(rgb)),
                      "text": marker["texts"][cls] if marker.get("texts") else None}
                     for cls, rgb in (marker.get("colors") or {}).items()],
        "figures": [dict(figure, encoded=base64.b64encode(figure["png"]).decode("ascii"),
                         caption=f"{figure['model']} model - {figure['image']} (label "
                                 f"{figure['label']}, predicted {figure['pred_with']}, "
                                 f"without marker {figure['pred_without']})")
                    for figure in figures],
        "timing_rows": [{"phase": k, "seconds": float(v)}
                        for k, v in (report.get("timings") or {}).items()],
    }
