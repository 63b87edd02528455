"""Exports, through the core writers: the scan CSV (``csvio.write_csv`` with
``pipeline.SCAN_COLUMNS``, as ``leakview scan`` writes it), the current figure
(``report.study_figure`` + ``report.save_png``) and the summary JSON (the same document as
``leakview scan --summary``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from leakview.atomic import atomic_write_text
from leakview.csvio import write_csv
from leakview.pipeline import SCAN_COLUMNS
from leakview.report import save_png, study_figure


def export_csv(path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]]) -> Path:
    return write_csv(path, rows, SCAN_COLUMNS)


def export_summary(path: str | os.PathLike[str], summary: Mapping[str, Any], model: str,
                   folder: str, methods: Sequence[str]) -> Path:
    document = {**summary, "model": model, "folder": folder, "scanned_methods": list(methods),
                "shard": None}
    return atomic_write_text(path, json.dumps(document, indent=2, default=str) + "\n")


def figure(image: np.ndarray, attributions: Mapping[str, Any], mask: np.ndarray | None,
           title: str) -> np.ndarray:
    return study_figure(image, attributions, mask, title)


def export_figure(path: str | os.PathLike[str], pixels: np.ndarray) -> Path:
    return save_png(path, pixels)
