"""Exports, through the core writers: the scan CSV (``csvio.write_csv`` with
``scanrow.SCAN_COLUMNS``, as ``leakview scan`` writes it), the current figure
(``report.study_figure`` + ``report.save_png``) and the summary JSON (the same document as
``leakview scan --summary``); and the side-by-side view's panels (``report.study_panels``, the
figure's panels without the burnt-in captions)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from leakview.atomic import atomic_write_text
from leakview.csvio import write_csv
from leakview.report import outline_mask, save_png, study_figure, study_panels, summary_document
from leakview.scanrow import SCAN_COLUMNS


def export_csv(path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]]) -> Path:
    return write_csv(path, rows, SCAN_COLUMNS)


def export_summary(path: str | os.PathLike[str], summary: Mapping[str, Any], model: str,
                   folder: str, methods: Sequence[str]) -> Path:
    return atomic_write_text(path, summary_document(summary, model, folder, methods))


def figure(image: np.ndarray, attributions: Mapping[str, Any], mask: np.ndarray | None,
           title: str) -> np.ndarray:
    return study_figure(image, attributions, mask, title)


def figure_panels(image: np.ndarray, attributions: Mapping[str, Any], mask: np.ndarray | None
                  ) -> list[tuple[str, np.ndarray]]:
    """The figure's ``(caption, pixels)`` panels, each with the mask outline, for the screen."""
    return [(caption, pixels if mask is None else outline_mask(pixels, mask))
            for caption, pixels in study_panels(image, attributions)]


def export_figure(path: str | os.PathLike[str], pixels: np.ndarray) -> Path:
    return save_png(path, pixels)
