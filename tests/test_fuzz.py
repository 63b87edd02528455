"""Property-based fuzzing of the parts that meet untrusted data: image loading, annotation
import (at the file level; the dict-level fuzz lives in tests/test_masks.py), the overlap
metrics and CSV writing. Every test is derandomised so a failure reproduces."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from PIL import Image

from leakview.csvio import (
    CSV_COLUMNS,
    FORMULA_PREFIXES,
    IncrementalCsv,
    neutralise,
    read_csv,
    render_csv,
    unneutralise,
)
from leakview.images import ImageLoadError, image_size, load_image
from leakview.masks import MaskError, import_masks, read_mask
from leakview.metrics import METRIC_NAMES, overlap_metrics

FUZZ = settings(max_examples=150, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow,
                                       HealthCheck.function_scoped_fixture])


# =============================================================================================
# Image loading: RGB uint8 or ImageLoadError, nothing else
# =============================================================================================

def _seeds() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    rgb = Image.fromarray((rng.random((10, 12, 3)) * 255).astype(np.uint8))
    seeds = {}
    for fmt, suffix, image in [("PNG", "png", rgb), ("JPEG", "jpg", rgb),
                               ("TIFF", "tif", rgb), ("WEBP", "webp", rgb), ("BMP", "bmp", rgb),
                               ("PNG", "png", rgb.convert("P")),
                               ("TIFF", "tiff", Image.fromarray(
                                   (rng.random((6, 7)) * 60000).astype(np.uint16)))]:
        buffer = io.BytesIO()
        image.save(buffer, fmt)
        seeds[f"{len(seeds)}.{suffix}"] = buffer.getvalue()
    return seeds


SEEDS = _seeds()


@st.composite
def image_bytes(draw: st.DrawFn) -> tuple[str, bytes]:
    """Random bytes, or a real file with bytes overwritten, inserted, deleted and/or cut."""
    name = draw(st.sampled_from(sorted(SEEDS)))
    if draw(st.integers(0, 4)) == 0:
        return name, draw(st.binary(max_size=400))
    data = bytearray(SEEDS[name])
    for _ in range(draw(st.integers(1, 5))):
        position = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["set", "insert", "delete", "header"]))
        if action == "set":
            data[position] = draw(st.integers(0, 255))
        elif action == "insert":
            data[position:position] = draw(st.binary(min_size=1, max_size=8))
        elif action == "delete" and len(data) > 1:
            del data[position]
        else:   # the header is where sizes and offsets live
            data[min(position, 40) % len(data)] = draw(st.sampled_from([0, 0x7F, 0xFF]))
    cut = draw(st.integers(1, len(data)))
    return name, bytes(data[:cut])


@FUZZ
@given(sample=image_bytes())
def test_fuzz_image_loading(tmp_path: Path, sample: tuple[str, bytes]) -> None:
    name, data = sample
    path = tmp_path / name
    path.write_bytes(data)
    try:
        array = load_image(path, max_pixels=1_000_000)
    except ImageLoadError as error:
        assert error.path == path and isinstance(error.reason, str) and error.reason
    else:
        assert array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] == 3
        assert array.shape[0] > 0 and array.shape[1] > 0 and array.flags.c_contiguous
    try:
        width, height = image_size(path)
    except ImageLoadError:
        pass
    else:
        assert isinstance(width, int) and isinstance(height, int)


# =============================================================================================
# Annotation files on disk: import_masks writes masks or skips with a reason, never raises
# =============================================================================================

json_value = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**20), 10**20)
    | st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e300, -1e300, 0.5])
    | st.text(max_size=5),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=6), children, max_size=4), max_leaves=12)

labelme_like = st.fixed_dictionaries(
    {}, optional={
        "imagePath": (st.sampled_from(["img.png", "../img.png", "/etc/passwd", "", "img"])
                      | json_value),
        "imageHeight": st.sampled_from([4, 0, -1, 10**12]) | json_value,
        "imageWidth": st.sampled_from([5, 0, 2**40]) | json_value,
        "shapes": st.lists(st.fixed_dictionaries(
            {"label": st.sampled_from(["a", ""]) | json_value,
             "points": st.lists(st.lists(st.sampled_from(
                 [0, 1, 3, 1e300, -1e300, float("nan"), float("inf"), "x", None]) | json_value,
                 max_size=3), max_size=5) | json_value},
            optional={"shape_type": st.sampled_from(["polygon", "rectangle", "circle", "mask",
                                                     "line", None]) | json_value,
                      "mask": st.sampled_from(["", "@@", "aGVsbG8="]) | json_value}),
            max_size=3) | json_value})

coco_like = st.fixed_dictionaries(
    {}, optional={
        "images": st.lists(st.fixed_dictionaries(
            {}, optional={"id": st.sampled_from([1, 2]) | json_value,
                          "file_name": st.sampled_from(["img.png", "../img.png", "/img.png"])
                          | json_value,
                          "height": st.sampled_from([4, 10**15]) | json_value,
                          "width": st.sampled_from([5, -5]) | json_value}), max_size=2)
        | json_value,
        "annotations": st.lists(st.fixed_dictionaries(
            {}, optional={"image_id": st.sampled_from([1, 2]) | json_value,
                          "category_id": st.sampled_from([1]) | json_value,
                          "iscrowd": st.sampled_from([0, 1]) | json_value,
                          "segmentation": st.sampled_from(
                              [[[0, 0, 3, 0, 3, 3]], [[0, 0, 1e300, float("nan"), 2, 2]],
                               {"counts": [20], "size": [4, 5]}, {"counts": "0?", "size": [4, 5]},
                               {"counts": [10**9], "size": [10**6, 10**6]}]) | json_value}),
            max_size=3) | json_value,
        "categories": st.just([{"id": 1, "name": "a"}]) | json_value})


@FUZZ
@given(fmt_doc=st.tuples(st.just("labelme"), labelme_like)
       | st.tuples(st.just("coco"), coco_like)
       | st.tuples(st.sampled_from(["labelme", "coco"]), json_value),
       raw=st.none() | st.binary(max_size=30))
def test_fuzz_import_masks_files(tmp_path_factory, fmt_doc, raw) -> None:
    fmt, doc = fmt_doc
    base = tmp_path_factory.mktemp("fz")
    root = base / "images"
    root.mkdir()
    Image.new("RGB", (5, 4)).save(root / "img.png")
    ann = base / "ann"
    ann.mkdir()
    (ann / "img.json").write_bytes(raw if raw is not None
                                   else json.dumps(doc, allow_nan=True).encode())
    report = import_masks(ann, fmt, root)       # never raises for a bad annotation file
    assert len(report.written) + len(report.skipped) >= 1
    for item in report.skipped:
        assert isinstance(item[1], str) and item[1]
    written = [path for path in base.rglob("*") if path.is_file()]
    for path in written:                      # nothing appears outside the image root
        assert path.parent == ann or root in path.parents, path
    masks = [path for path in written if path.name.endswith(".png.png")]
    assert len(masks) == len(report.written) <= 1
    for path in masks:
        assert read_mask(path, (4, 5)).shape == (4, 5)


def test_fuzz_import_masks_has_mask_error_for_a_bad_root(tmp_path: Path) -> None:
    with pytest.raises(MaskError):
        import_masks(tmp_path / "missing.json", "labelme", tmp_path)


# =============================================================================================
# Metrics: a dict of floats, or ValueError for a shape mismatch / non-2-D input only
# =============================================================================================

shapes = st.tuples(st.integers(0, 6), st.integers(0, 6))


@FUZZ
@given(a_shape=shapes | st.tuples(st.integers(0, 3)) | st.tuples(*[st.integers(1, 2)] * 3),
       s_shape=shapes, data=st.data(),
       a_dtype=st.sampled_from([np.float64, np.float32, np.float16, np.int64, np.uint8,
                                np.bool_]),
       fraction=st.sampled_from([0.05, 1.0, 1e-9]))
def test_fuzz_metrics(a_shape, s_shape, data, a_dtype, fraction) -> None:
    if data.draw(st.booleans()):
        s_shape = a_shape if len(a_shape) == 2 else s_shape
    elements = (st.floats(allow_nan=True, allow_infinity=True,
                          width=8 * np.dtype(a_dtype).itemsize)
                if np.issubdtype(a_dtype, np.floating) else None)
    a = data.draw(hnp.arrays(a_dtype, a_shape, elements=elements))
    s = data.draw(hnp.arrays(data.draw(st.sampled_from([np.bool_, np.uint8])), s_shape))
    with np.errstate(all="raise"):            # no silent overflow/invalid warnings either
        try:
            result = overlap_metrics(a, s, topk_fraction=fraction)
        except ValueError as error:
            assert a.ndim != 2 or a.shape != s.shape, error
            return
    assert a.ndim == 2 and a.shape == s.shape
    assert set(result) == set(METRIC_NAMES)
    for name, value in result.items():
        assert isinstance(value, float), name
        assert math.isnan(value) or math.isfinite(value), (name, value)
        if name != "concentration" and not math.isnan(value):
            assert 0.0 <= value <= 1.0, (name, value)


# =============================================================================================
# CSV writing: arbitrary cells parse back to the same grid, nothing runs as a formula
# =============================================================================================

cell_value = (st.text(max_size=12)
              | st.text(alphabet="=+-@\t\r\n\"',; xé画\x00", max_size=6)
              | st.floats(allow_nan=True, allow_infinity=True)
              | st.integers(-(10**20), 10**20) | st.booleans() | st.none())
csv_rows = st.lists(st.fixed_dictionaries({column: cell_value for column in CSV_COLUMNS},
                                          optional={"extra col": cell_value}), max_size=6)


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _check_cells(grid: list[list[str]], n_rows: int, width: int) -> None:
    assert len(grid) == n_rows + 1
    for row in grid[1:]:
        assert len(row) == width
        for cell in row:   # numbers (-1, -inf) are written as numbers; text is neutralised
            assert not cell.startswith(FORMULA_PREFIXES) or _is_number(cell), repr(cell)


@FUZZ
@given(rows=csv_rows)
def test_fuzz_render_csv(rows) -> None:
    text = render_csv(rows)
    grid = list(csv.reader(io.StringIO(text, newline="")))
    _check_cells(grid, len(rows), len(grid[0]))
    assert tuple(grid[0][:len(CSV_COLUMNS)]) == CSV_COLUMNS
    for row, cells in zip(rows, grid[1:]):
        for column, cell in zip(grid[0], cells):
            value = row.get(column)
            if isinstance(value, float) and math.isnan(value) or value is None:
                assert cell == ""
            elif isinstance(value, str):
                # only ever prefixed, never changed; text never passes for a number; and what
                # is read back is written again as the same cell
                assert cell == (("'" + value) if value.startswith(FORMULA_PREFIXES) else value)
                assert neutralise(unneutralise(cell)) == cell


@FUZZ
@given(rows=csv_rows)
def test_fuzz_incremental_csv_round_trip(tmp_path_factory, rows) -> None:
    out = tmp_path_factory.mktemp("csv") / "out.csv"
    columns = [*CSV_COLUMNS, "extra col"]
    writer = IncrementalCsv(out, columns)
    writer.write(rows[: len(rows) // 2])
    writer.write(rows[len(rows) // 2:])
    writer.finish()
    with open(out, encoding="utf-8", newline="") as stream:
        grid = list(csv.reader(stream))
    _check_cells(grid, len(rows), len(columns))
    # Read back by leakview too (--resume keeps these rows): exactly the same cells.
    assert [[row[column] for column in columns] for row in read_csv(out)] == grid[1:]


def test_carriage_return_in_a_cell_does_not_split_the_row(tmp_path: Path) -> None:
    """Regression: csv.writer(lineterminator="\\n") left a bare CR unquoted, and every reader
    ends a row there; read_csv also turned CRs inside cells into LFs (universal newlines)."""
    rows = [{"image": "a\rb.png", "error": "line one\r\nline two"}, {"image": "\rx.png"}]
    text = render_csv(rows)
    grid = list(csv.reader(io.StringIO(text, newline="")))
    assert [cells[0] for cells in grid[1:]] == ["a\rb.png", "'\rx.png"]
    writer = IncrementalCsv(tmp_path / "out.csv")
    writer.write(rows)
    writer.finish()
    back = read_csv(tmp_path / "out.csv")
    assert [row["image"] for row in back] == ["a\rb.png", "'\rx.png"]
    assert back[0]["error"] == "line one\r\nline two"
