"""One row of a scan: an (image, method) pair with its prediction, metrics and leak flag.

Typed inside the engine (numbers are numbers, NaN or None = undefined); strings exist only at
the CSV boundary (:meth:`ScanRow.cells` to write, :meth:`ScanRow.from_cells` to read a row
back for ``--resume``). A row is also a read-only mapping over :data:`SCAN_COLUMNS`, so the
verdict, the summary and the tables read it by column name.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

from leakview.csvio import CSV_COLUMNS, CsvFormatError, format_cell, read_csv, unneutralise
from leakview.metrics import METRIC_NAMES

SUPERPIXEL_SHARE_COLUMN = "lime_top5_superpixel_share"
SUSPECT_METRICS: dict[str, str] = {
    "suspect_area_frac": "mask_area_frac",
    "suspect_mass": "mass_in_mask",
    "suspect_topk_share": "topk_intersection",
}
"""The suspect-region columns and the :func:`leakview.metrics.overlap_metrics` metric each one
holds, computed against the image's suspect region instead of its expected one."""
SUSPECT_COLUMNS: tuple[str, ...] = (*SUSPECT_METRICS, "suspect_flag")
#: The model that made the row (:func:`leakview.resources.model_name`): always the last column.
MODEL_COLUMN = "model"
SCAN_COLUMNS: tuple[str, ...] = (*CSV_COLUMNS, SUPERPIXEL_SHARE_COLUMN, *SUSPECT_COLUMNS,
                                 MODEL_COLUMN)
"""The scan CSV's columns, in order (DESIGN.md's required columns, then the LIME share, the
suspect region's metrics and flag, and the model's name)."""

_TEXT = frozenset({"image", "label", "predicted", "method", "target", "error", MODEL_COLUMN})
_FLAGS = frozenset({"leak_flag", "suspect_flag"})


@dataclass(eq=False)
class ScanRow(Mapping[str, Any]):
    """One CSV row. Text columns are ``""`` when unknown; metrics are NaN when undefined (no
    mask, empty mask, all-zero map; the ``suspect_*`` ones: no suspect region); ``confidence``,
    ``leak_flag`` and ``suspect_flag`` are None when there is no prediction or no defined
    flag."""

    image: str
    label: str = ""
    predicted: str = ""
    confidence: float | None = None
    method: str = ""
    target: str = ""
    mask_area_frac: float = math.nan
    mass_in_mask: float = math.nan
    rank_accuracy: float = math.nan
    pointing_hit: float = math.nan
    topk_intersection: float = math.nan
    auc: float = math.nan
    concentration: float = math.nan
    leak_flag: int | None = None
    error: str = ""
    lime_top5_superpixel_share: float = math.nan
    suspect_area_frac: float = math.nan
    suspect_mass: float = math.nan
    suspect_topk_share: float = math.nan
    suspect_flag: int | None = None
    model: str = ""

    # -- mapping view ---------------------------------------------------------------------
    def __getitem__(self, column: str) -> Any:
        if column not in _COLUMN_SET:
            raise KeyError(column)
        return getattr(self, column)

    def __iter__(self) -> Iterator[str]:
        return iter(SCAN_COLUMNS)

    def __len__(self) -> int:
        return len(SCAN_COLUMNS)

    def __eq__(self, other: object) -> bool:
        """Equal when every column is (NaN equals NaN: both undefined)."""
        if not isinstance(other, ScanRow):
            return NotImplemented
        for column in SCAN_COLUMNS:
            mine, theirs = getattr(self, column), getattr(other, column)
            if mine != theirs and not (mine != mine and theirs != theirs):  # noqa: PLR0124
                return False
        return True

    __hash__ = None  # type: ignore[assignment]  # mutable, like a dict

    # -- the CSV boundary -----------------------------------------------------------------
    def cells(self, columns: tuple[str, ...] = SCAN_COLUMNS) -> list[str]:
        """The row's CSV cells (formatted and formula-neutralised by :func:`format_cell`)."""
        return [format_cell(getattr(self, column, None)) for column in columns]

    @classmethod
    def from_cells(cls, cells: Mapping[str, str]) -> ScanRow:
        """A row read back from a scan CSV (dict of strings, see ``csvio.read_csv``): numbers
        parsed, text un-neutralised. Writing it again gives the same cells. A column the file
        does not have (a CSV written before it existed) reads as undefined."""
        values: dict[str, Any] = {}
        for column in SCAN_COLUMNS:
            cell = cells.get(column, "")
            if column in _TEXT:
                values[column] = unneutralise(cell)
            elif column == "confidence":
                values[column] = float(cell) if cell else None
            elif column in _FLAGS:
                values[column] = int(float(cell)) if cell else None
            else:
                values[column] = float(cell) if cell else math.nan
        return cls(**values)

    # -- derived rows ---------------------------------------------------------------------
    def with_metrics(self, metrics: Mapping[str, float]) -> ScanRow:
        """A copy with the overlap metrics of ``metrics`` (names of ``METRIC_NAMES``)."""
        values: dict[str, Any] = {name: metrics[name] for name in METRIC_NAMES}
        return replace(self, **values)

    def with_suspect_metrics(self, metrics: Mapping[str, float]) -> ScanRow:
        """A copy with the suspect columns taken from ``metrics`` (an :func:`overlap_metrics`
        result against the suspect region, see :data:`SUSPECT_METRICS`)."""
        values: dict[str, Any] = {column: metrics[metric]
                                  for column, metric in SUSPECT_METRICS.items()}
        return replace(self, **values)

    def with_flag(self, flag: int | None, suspect_flag: int | None = None) -> ScanRow:
        """A copy with other flags (re-judging a folder copies every row: kept cheap)."""
        row = ScanRow.__new__(ScanRow)
        row.__dict__.update(self.__dict__)
        row.leak_flag = flag
        row.suspect_flag = suspect_flag
        return row


_COLUMN_SET = frozenset(SCAN_COLUMNS)


def read_scan_rows(path: str | os.PathLike[str]) -> list[ScanRow]:
    """The rows of a scan CSV, typed (a last line cut short by a crash is dropped, as
    :func:`leakview.csvio.read_csv` does). Raises :class:`CsvFormatError` for a file that is not
    a scan CSV or a cell that should hold a number and does not."""
    rows = []
    for number, cells in enumerate(read_csv(path), start=1):
        try:
            rows.append(ScanRow.from_cells(cells))
        except ValueError as error:
            raise CsvFormatError(path, f"row {number} (image {cells.get('image', '')!r}): "
                                       f"{error}") from None
    return rows
