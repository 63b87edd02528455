"""The scan CSV: exact column order, formula-injection-safe cells, crash-safe writing, merging.

While a scan runs its rows are appended to ``OUT.csv.partial`` (flushed after every batch), and
the finished file is renamed to ``OUT.csv`` in one step: ``OUT.csv`` is always either the previous
complete file or the new complete one. ``--resume`` reads the partial file back; a row cut in
half by a crash is dropped and computed again.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from leakview.atomic import atomic_write_bytes
from leakview.errors import PathError
from leakview.layout import natural_sort_key

CSV_COLUMNS: tuple[str, ...] = (
    "image", "label", "predicted", "confidence", "method", "target", "mask_area_frac",
    "mass_in_mask", "rank_accuracy", "pointing_hit", "topk_intersection", "auc",
    "concentration", "leak_flag", "error",
)
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class CsvFormatError(PathError):
    """A CSV that is not a leakview scan CSV; carries the path and a reason."""


def neutralise(text: str) -> str:
    """Prefix a cell that a spreadsheet would run as a formula with ``'``."""
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def unneutralise(cell: str) -> str:
    """The text :func:`neutralise` made ``cell`` from: the ``'`` before a formula character is
    dropped. ``neutralise(unneutralise(cell)) == cell`` for every cell, so a row read back and
    written again is byte-identical. (A text that itself starts with ``'=`` reads back without
    its quote: such a cell is ambiguous, which is why names are compared as cells on resume.)"""
    return cell[1:] if cell.startswith("'") and cell[1:].startswith(FORMULA_PREFIXES) else cell


def format_cell(value: Any) -> str:
    """One CSV cell: NaN/None -> empty, bools -> 1/0, floats with ``.`` decimals (up to 6
    significant digits), strings neutralised against formula injection."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return format(value, ".6g")
    if hasattr(value, "item"):  # numpy scalars
        return format_cell(value.item())
    return neutralise(str(value))


def parse_number(value: Any) -> float | None:
    """A cell (or a value) as a finite float, or None when empty, undefined or not a number."""
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def format_row(row: Mapping[str, Any], columns: Sequence[str] = CSV_COLUMNS) -> list[str]:
    return [format_cell(row.get(column)) for column in columns]


def columns_for(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """The required columns followed by any extra keys, in first-seen order."""
    columns = list(CSV_COLUMNS)
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    return columns


class _Writer:
    """``csv.writer`` with ``\\n`` line ends that also quotes cells holding a ``\\r``.

    The standard writer quotes only the characters of its own line terminator, but every CSV
    reader (Python's included) ends a row at a bare ``\\r`` too: an unquoted CR in a file name
    or an error message would split the row in two. Rows with a CR are written fully quoted.
    """

    def __init__(self, stream: IO[str]) -> None:
        self._plain = csv.writer(stream, lineterminator="\n")
        self._quoted = csv.writer(stream, lineterminator="\n", quoting=csv.QUOTE_ALL)

    def writerow(self, cells: Sequence[str]) -> None:
        has_cr = any("\r" in cell for cell in cells)
        (self._quoted if has_cr else self._plain).writerow(cells)


def render_csv(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    """The whole CSV text (header + rows), ``\\n`` line ends."""
    columns = list(columns) if columns is not None else columns_for(rows)
    buffer = io.StringIO()
    writer = _Writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow(format_row(row, columns))
    return buffer.getvalue()


def write_csv(path: str | os.PathLike[str], rows: Sequence[Mapping[str, Any]],
              columns: Sequence[str] | None = None) -> Path:
    """Write rows as a UTF-8 CSV, atomically."""
    return atomic_write_bytes(path, render_csv(rows, columns).encode("utf-8"))


def partial_path(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    return path.with_name(path.name + ".partial")


class IncrementalCsv:
    """Appends rows to ``OUT.csv.partial``; :meth:`finish` renames it to ``OUT.csv``."""

    def __init__(self, path: str | os.PathLike[str], columns: Sequence[str] = CSV_COLUMNS,
                 resume_rows: Sequence[Mapping[str, str]] = ()) -> None:
        self.path = Path(path)
        self.columns = list(columns)
        self.partial = partial_path(self.path)
        # Start the partial file afresh (atomically) with the rows we are keeping, so a torn
        # last line from a crash never survives into the new file.
        atomic_write_bytes(self.partial, render_csv(list(resume_rows), self.columns)
                           .encode("utf-8"))
        self._stream = open(self.partial, "a", encoding="utf-8", newline="")
        self._writer = _Writer(self._stream)

    def write(self, rows: Iterable[Mapping[str, Any]]) -> None:
        for row in rows:
            self._writer.writerow(format_row(row, self.columns))
        self._stream.flush()
        os.fsync(self._stream.fileno())

    def close(self) -> None:
        if not self._stream.closed:
            self._stream.close()

    def finish(self) -> Path:
        """Close and move the complete file into place."""
        self.close()
        os.replace(self.partial, self.path)
        return self.path


def read_csv(path: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Rows of a leakview CSV as dicts of strings. A last line cut short by a crash (too few
    cells, or no line end) is dropped. A file without the required header raises
    :class:`CsvFormatError`."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8", newline="") as stream:   # keep CRs inside cells
            text = stream.read()
    except (OSError, UnicodeDecodeError) as error:
        raise CsvFormatError(path, f"cannot read ({error})") from None
    complete = text if text.endswith("\n") else text[:text.rfind("\n") + 1]
    reader = csv.reader(io.StringIO(complete))
    header = next(reader, None)
    if header is None:
        raise CsvFormatError(path, "empty file")
    if tuple(header[:len(CSV_COLUMNS)]) != CSV_COLUMNS:
        raise CsvFormatError(path, "not a leakview scan CSV: the header must start with "
                                   + ",".join(CSV_COLUMNS))
    rows = []
    for cells in reader:
        if len(cells) != len(header):
            continue
        rows.append(dict(zip(header, cells)))
    return rows


def merge_csv(inputs: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str],
              method_order: Sequence[str] = ()) -> int:
    """Join shard CSVs into one, rows sorted by image (natural order) then method; duplicates
    (same image, method, target and model) are kept once: rows of two models both stay.
    Returns the row count."""
    merged: dict[tuple[str, ...], dict[str, str]] = {}
    columns: list[str] = list(CSV_COLUMNS)
    for source in inputs:
        rows = read_csv(source)
        for row in rows:
            for key in row:
                if key not in columns:
                    columns.append(key)
            merged.setdefault((row["image"], row["method"], row["target"], row.get("model", "")),
                              row)
    order = {name: position for position, name in enumerate(method_order)}
    rows = sorted(merged.values(), key=lambda row: (
        natural_sort_key(row["image"]), order.get(row["method"], len(order)), row["method"],
        row["target"], row.get("model", "")))
    buffer = io.StringIO()
    writer = _Writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(column, "") for column in columns])
    atomic_write_bytes(out, buffer.getvalue().encode("utf-8"))
    return len(rows)
