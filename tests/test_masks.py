"""Tests of leakview.masks: storage, rasterisers, LabelMe/COCO import, folder import, CLI."""

from __future__ import annotations

import argparse
import base64
import copy
import io
import json
import math
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from scipy import ndimage

from leakview.masks import (
    ImportReport,
    MaskError,
    coco_to_masks,
    import_masks,
    labelme_to_mask,
    mask_path,
    rasterize_ellipse,
    rasterize_polygon,
    rasterize_rectangle,
    rasterize_stroke,
    read_mask,
    rle_string_decode,
    rle_string_encode,
    write_mask,
)

FUZZ = settings(max_examples=200, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


def grid(text: str) -> np.ndarray:
    """``"100/010"`` -> boolean array (rows separated by ``/``)."""
    return np.array([[c == "1" for c in row] for row in text.split("/")])


def png_b64(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(np.asarray(array, dtype=np.uint8) * 255, mode="L").save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def save_image(path: Path, width: int, height: int, orientation: int | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (width, height), (90, 120, 30))
    if orientation is None:
        image.save(path)
    else:
        exif = Image.Exif()
        exif[0x0112] = orientation
        image.save(path, exif=exif.tobytes())
    return path


def write_json(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


# =============================================================================================
# Storage (the lead's functions)
# =============================================================================================

def test_mask_path_layout(tmp_path: Path) -> None:
    assert mask_path(tmp_path, "a/b.jpg") == tmp_path / ".leakview" / "masks" / "a" / "b.jpg.png"
    assert mask_path(tmp_path, "a/b.jpg", tmp_path / "m") == tmp_path / "m" / "a" / "b.jpg.png"
    with pytest.raises(ValueError):
        mask_path(tmp_path, "../b.jpg")


def test_write_read_round_trip(tmp_path: Path) -> None:
    mask = np.array([[0, 1, 7], [255, 0, 0]], dtype=np.uint8)
    path = write_mask(tmp_path / "x" / "m.png", mask)
    with Image.open(path) as image:
        assert image.mode == "L"
        assert sorted(np.unique(np.asarray(image)).tolist()) == [0, 255]
    assert np.array_equal(read_mask(path), mask != 0)
    assert np.array_equal(read_mask(path, shape=(2, 3)), mask != 0)
    # Any non-zero value of a foreign PNG reads as inside.
    Image.fromarray(np.array([[0, 3], [200, 0]], dtype=np.uint8)).save(tmp_path / "f.png")
    assert np.array_equal(read_mask(tmp_path / "f.png"), grid("01/10"))


def test_read_mask_size_mismatch_names_both_sizes(tmp_path: Path) -> None:
    path = write_mask(tmp_path / "m.png", np.ones((4, 5), dtype=bool))
    with pytest.raises(MaskError) as info:
        read_mask(path, shape=(4, 6))
    assert "5x4" in str(info.value) and "6x4" in str(info.value)
    with pytest.raises(MaskError, match="no such"):
        read_mask(tmp_path / "missing.png")


def test_failed_write_keeps_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    path = write_mask(tmp_path / "m.png", grid("10/01"))
    before = path.read_bytes()
    for bad in (np.zeros((2, 2, 2)), np.zeros((0, 3)), np.zeros(4)):
        with pytest.raises(ValueError):
            write_mask(path, bad)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.png"]
    write_mask(path, grid("01/10"))
    assert sorted(os.listdir(tmp_path)) == ["m.png"]
    assert np.array_equal(read_mask(path), grid("01/10"))


# =============================================================================================
# Rasterisers
# =============================================================================================

def test_rectangle_covers_closed_pixel_centres() -> None:
    expected = grid("11100/11100/11100/00000")
    assert np.array_equal(rasterize_rectangle(0, 0, 2, 2, (4, 5)), expected)
    assert np.array_equal(rasterize_rectangle(2, 2, 0, 0, (4, 5)), expected)
    assert np.array_equal(rasterize_rectangle(0.5, 0.5, 2.5, 1.5, (4, 5)),
                          grid("00000/01100/00000/00000"))
    assert np.array_equal(rasterize_rectangle(-9, 2, 1, 99, (4, 5)),
                          grid("00000/00000/11000/11000"))
    assert not rasterize_rectangle(-9, -9, -1, -1, (4, 5)).any()
    assert rasterize_rectangle(-1e300, -1e300, 1e300, 1e300, (3, 3)).all()


def test_triangle_polygon() -> None:
    got = rasterize_polygon([(0, 0), (2, 0), (0, 2)], (4, 4))
    assert np.array_equal(got, grid("1110/1100/1000/0000"))
    got = rasterize_polygon(np.array([[1.0, 0.5], [3.5, 3.0], [1.0, 3.0]]), (4, 5))
    assert np.array_equal(got, grid("00000/01000/01100/01110"))


def test_ellipse() -> None:
    assert np.array_equal(rasterize_ellipse(2, 2, 2, 2, (5, 5)),
                          grid("00100/01110/11111/01110/00100"))
    assert np.array_equal(rasterize_ellipse(3, 2, 3, 1, (5, 7)),
                          grid("0000000/0001000/1111111/0001000/0000000"))
    assert np.array_equal(rasterize_ellipse(1, 1, 0, 1, (3, 3)), grid("010/010/010"))
    assert np.array_equal(rasterize_ellipse(1, 1, 0, 0, (3, 3)), grid("000/010/000"))
    assert np.array_equal(rasterize_ellipse(1, 1, -1, -1, (3, 3)), grid("010/111/010"))
    assert not rasterize_ellipse(50, 50, 3, 3, (5, 5)).any()


def test_stroke_round_brush_and_no_gaps() -> None:
    assert np.array_equal(rasterize_stroke([(2, 2)], 1, (5, 5)),
                          grid("00000/00100/01110/00100/00000"))
    assert np.array_equal(rasterize_stroke([(2, 2)], 1.5, (5, 5)),
                          grid("00000/01110/01110/01110/00000"))
    assert np.array_equal(rasterize_stroke([(0, 1), (4, 1)], 0, (3, 5)), grid("00000/11111/00000"))
    # Two far-apart points: one connected stroke from end to end.
    thin = rasterize_stroke([(1, 1), (28, 17)], 0, (20, 30))
    labels, count = ndimage.label(thin, structure=np.ones((3, 3)))
    assert count == 1 and thin[1, 1] and thin[17, 28]
    thick = rasterize_stroke([(1, 1), (28, 17), (3, 18)], 2, (20, 30))
    labels, count = ndimage.label(thick)                     # 4-connected
    assert count == 1 and thick[18, 3]


def test_shapes_outside_or_huge_never_raise() -> None:
    shape = (6, 7)
    assert not rasterize_polygon([(100, 100), (200, 100), (150, 300)], shape).any()
    assert rasterize_polygon([(-1e300, -1e300), (1e300, -1e300), (0, 1e300)], shape).all()
    assert rasterize_polygon([(-1.7e308, 0), (1.7e308, 0), (0, 1.7e308)], shape)[0].all()
    assert rasterize_stroke([(-1e300, 3), (1e300, 3)], 0.5, shape)[3].all()
    assert rasterize_ellipse(3, 3, 1e300, 1e-300, shape)[3].all()
    assert rasterize_polygon([], shape).shape == shape
    assert not rasterize_polygon([(1, 1)], (0, 0)).size
    with pytest.raises(ValueError):
        rasterize_polygon([(0, 0), (1, float("nan")), (2, 2)], shape)
    with pytest.raises(ValueError):
        rasterize_stroke([(0, 0)], float("inf"), shape)
    with pytest.raises(ValueError):
        rasterize_stroke([(0, 0)], -1, shape)
    with pytest.raises(ValueError):
        rasterize_rectangle(0, 0, float("inf"), 1, shape)
    with pytest.raises(ValueError):
        rasterize_polygon([(0, 0, 1)], shape)


def ref_polygon(points: list[tuple[float, float]], shape: tuple[int, int]) -> np.ndarray:
    """Exact rational reference: pixel centre on an edge, or inside by the crossing rule."""
    pts = [(Fraction(x), Fraction(y)) for x, y in points]
    out = np.zeros(shape, dtype=bool)
    for r in range(shape[0]):
        for c in range(shape[1]):
            px, py = Fraction(c), Fraction(r)
            inside = on_edge = False
            for i in range(len(pts)):
                (x0, y0), (x1, y1) = pts[i], pts[(i + 1) % len(pts)]
                cross = (x1 - x0) * (py - y0) - (y1 - y0) * (px - x0)
                if cross == 0 and min(x0, x1) <= px <= max(x0, x1) \
                        and min(y0, y1) <= py <= max(y0, y1):
                    on_edge = True
                if (y0 <= py < y1) or (y1 <= py < y0):
                    if x0 + (py - y0) * (x1 - x0) / (y1 - y0) > px:
                        inside = not inside
            out[r, c] = inside or on_edge
    return out


dyadic = st.integers(-12, 40).map(lambda v: v / 4)           # exact in binary floats


@FUZZ
@given(st.lists(st.tuples(dyadic, dyadic), min_size=1, max_size=7))
def test_polygon_matches_exact_reference(points: list[tuple[float, float]]) -> None:
    assert np.array_equal(rasterize_polygon(points, (8, 9)), ref_polygon(points, (8, 9)))


def ref_stroke(points: list[tuple[float, float]], radius: float,
               shape: tuple[int, int]) -> np.ndarray:
    radius = max(radius, 0.5)
    pts = points if len(points) > 1 else points * 2
    out = np.zeros(shape, dtype=bool)
    for (ax, ay), (bx, by) in zip(pts[:-1], pts[1:]):
        for r in range(shape[0]):
            for c in range(shape[1]):
                dx, dy = bx - ax, by - ay
                length2 = dx * dx + dy * dy
                t = 0.0 if length2 == 0 else min(1.0, max(0.0, ((c - ax) * dx + (r - ay) * dy)
                                                          / length2))
                if math.hypot(c - ax - t * dx, r - ay - t * dy) <= radius + 1e-9:
                    out[r, c] = True
    return out


@FUZZ
@given(st.lists(st.tuples(st.floats(-4, 14).map(lambda v: round(v, 2)),
                          st.floats(-4, 12).map(lambda v: round(v, 2))), min_size=1, max_size=4),
       st.sampled_from([0.0, 0.5, 1.0, 1.3, 2.5]))
def test_stroke_matches_distance_reference(points: list[tuple[float, float]],
                                           radius: float) -> None:
    assert np.array_equal(rasterize_stroke(points, radius, (8, 10)),
                          ref_stroke(points, radius, (8, 10)))


# =============================================================================================
# LabelMe
# =============================================================================================

def labelme_doc() -> dict:
    return {
        "version": "5.4.1", "imagePath": "img.png", "imageData": None,
        "imageHeight": 6, "imageWidth": 7,
        "shapes": [
            {"label": "cargo", "points": [[0, 0], [2, 0], [0, 2]], "shape_type": "polygon"},
            {"label": "cargo", "points": [[6, 5], [5, 4]], "shape_type": "rectangle"},
            {"label": "body", "points": [[3, 3], [3, 4]], "shape_type": "circle"},
            {"label": "body", "points": [[4, 0], [6, 1]], "shape_type": "mask",
             "mask": png_b64(grid("101/010"))},
            {"label": "cargo", "points": [[0, 5], [6, 5]], "shape_type": "line"},
            {"label": "cargo", "points": [[0, 4]], "shape_type": "point"},
            {"label": "cargo", "points": [[0, 3], [6, 3]], "shape_type": "linestrip"},
        ],
    }


LABELME_ALL = grid("1110101/1100010/1001000/0011100/0001011/0000011")


def test_labelme_shapes(tmp_path: Path) -> None:
    doc = labelme_doc()
    assert np.array_equal(labelme_to_mask(doc), LABELME_ALL)
    path = write_json(tmp_path / "img.json", doc)
    assert np.array_equal(labelme_to_mask(path), LABELME_ALL)
    assert np.array_equal(labelme_to_mask(str(path), labels=["body"]),
                          grid("0000101/0000010/0001000/0011100/0001000/0000000"))
    assert not labelme_to_mask(doc, labels=["nothing"]).any()
    bigger = labelme_to_mask(doc, shape=(7, 8))
    assert bigger.shape == (7, 8) and np.array_equal(bigger[:6, :7], LABELME_ALL)


def test_labelme_defaults_and_clipping() -> None:
    doc = {"imageHeight": 3, "imageWidth": 4,
           "shapes": [{"label": "a", "points": [[-5, -5], [10, -5], [10, 1], [-5, 1]]},
                      {"label": "b", "shape_type": None,
                       "points": [[1e308, 1e308], [1e308, 2], [3, 2]]},
                      {"label": "c", "shape_type": "mask", "points": [[-1, 2], [0, 3]],
                       "mask": png_b64(grid("11/11"))}]}
    assert np.array_equal(labelme_to_mask(doc), grid("1111/1111/1001"))
    doc["shapes"].append({"label": "d", "shape_type": "circle",
                          "points": [[0, 0], [10**400, 0]]})
    assert labelme_to_mask(doc).all()


@pytest.mark.parametrize("doc, reason", [
    ([], "JSON object"),
    ({"imageHeight": 3, "imageWidth": 3}, "shapes"),
    ({"shapes": []}, "imageHeight"),
    ({"imageHeight": 3, "imageWidth": "3", "shapes": []}, "imageWidth"),
    ({"imageHeight": 3, "imageWidth": 0, "shapes": []}, "imageWidth"),
    ({"imageHeight": 10**9, "imageWidth": 10**9, "shapes": []}, "limit"),
    ({"imageHeight": 3, "imageWidth": 3, "shapes": {}}, "array"),
    ({"imageHeight": 3, "imageWidth": 3, "shapes": [7]}, "object"),
    ({"imageHeight": 3, "imageWidth": 3, "shapes": [{"label": 1, "points": []}]}, "label"),
    ({"imageHeight": 3, "imageWidth": 3, "shapes": [{"label": "a"}]}, "points"),
    ({"imageHeight": 3, "imageWidth": 3, "shapes": [{"points": [[0, 0], [1, 1]]}]}, "3 points"),
    ({"imageHeight": 3, "imageWidth": 3,
      "shapes": [{"points": [[0, 0], [1, float("nan")], [2, 2]]}]}, "not finite"),
    ({"imageHeight": 3, "imageWidth": 3,
      "shapes": [{"points": [[0, 0], [1, True], [2, 2]]}]}, "number"),
    ({"imageHeight": 3, "imageWidth": 3,
      "shapes": [{"shape_type": "rectangle", "points": [[0, 0]]}]}, "2 points"),
    ({"imageHeight": 3, "imageWidth": 3,
      "shapes": [{"shape_type": "mask", "points": [[0, 0], [1, 1]], "mask": "@@@"}]}, "base64"),
    ({"imageHeight": 3, "imageWidth": 3,
      "shapes": [{"shape_type": "mask", "points": [[0, 0], [1, 1]],
                  "mask": base64.b64encode(b"not a png").decode()}]}, "PNG"),
    ({"imageHeight": 3, "imageWidth": 3,
      "shapes": [{"shape_type": "mask", "points": [[0, 0], [2, 2]],
                  "mask": png_b64(grid("11/11"))}]}, "bounding box"),
    ({"imageHeight": 3, "imageWidth": 3,
      "shapes": [{"shape_type": "mask", "points": [[0, 0], [1, 1]], "mask": None}]}, "base64"),
])
def test_labelme_errors_are_mask_errors(doc: object, reason: str) -> None:
    with pytest.raises(MaskError, match=reason):
        labelme_to_mask(doc)


def test_labelme_bad_files(tmp_path: Path) -> None:
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00garbage")
    (tmp_path / "text.json").write_text("{not json")
    (tmp_path / "deep.json").write_text("[" * 100000 + "]" * 100000)
    (tmp_path / "nan.json").write_text(
        '{"imageHeight": 2, "imageWidth": 2, "shapes": [{"points": [[0,0],[1,NaN],[1,1]]}]}')
    for name in ("bin.json", "text.json", "deep.json", "nan.json", "missing.json"):
        with pytest.raises(MaskError) as info:
            labelme_to_mask(tmp_path / name)
        assert info.value.path == tmp_path / name
    with pytest.raises(MaskError):
        labelme_to_mask(tmp_path)


# =============================================================================================
# COCO
# =============================================================================================

def rle_encode(mask: np.ndarray) -> list[int]:
    """Plain reference encoder: column-major runs, starting with a (maybe empty) run of 0s."""
    flat = mask.T.ravel().tolist()
    counts, current, run = [], False, 0
    for value in flat:
        if value == current:
            run += 1
        else:
            counts.append(run)
            current, run = value, 1
    counts.append(run)
    return counts


RLE_MASK = grid("010/011/000")              # column-major: 000 110 010 -> [3, 2, 2, 1, 1]


def coco_doc(segmentation: object, height: int = 3, width: int = 3, **extra: object) -> dict:
    annotation = {"id": 1, "image_id": 7, "category_id": 1, "segmentation": segmentation,
                  "iscrowd": 0}
    annotation.update(extra)
    return {"images": [{"id": 7, "file_name": "a/x.png", "height": height, "width": width}],
            "annotations": [annotation],
            "categories": [{"id": 1, "name": "cargo"}, {"id": 2, "name": "marker"}]}


def test_rle_string_codec_by_hand() -> None:
    assert rle_encode(RLE_MASK) == [3, 2, 2, 1, 1]
    # 3, 2, 2 are single characters '3' '2' '2'; then deltas 1-2 = -1 -> 0x1F -> 'O' (twice).
    assert rle_string_encode([3, 2, 2, 1, 1]) == "322OO"
    assert rle_string_decode("322OO") == [3, 2, 2, 1, 1]
    # 100 = 0b11_00100: low group 4 with continuation (4|0x20 = 36 -> 'T'), then 3 -> '3'.
    assert rle_string_decode("T3") == [100]
    for bad in ("T", " ", "3\x7f", "0O"):
        with pytest.raises(ValueError):
            rle_string_decode(bad)


@FUZZ
@given(st.lists(st.integers(0, 5000), max_size=12))
def test_rle_string_round_trip(counts: list[int]) -> None:
    assert rle_string_decode(rle_string_encode(counts)) == counts


def test_coco_polygon_and_rle() -> None:
    square = coco_to_masks(coco_doc([[0, 0, 2, 0, 2, 2, 0, 2]], 4, 4))
    assert list(square) == ["a/x.png"]
    assert np.array_equal(square["a/x.png"], grid("1100/1100/0000/0000"))
    triangle = coco_to_masks(coco_doc([[1, 1, 3, 1, 1, 3]], 4, 4))["a/x.png"]
    assert np.array_equal(triangle, grid("0000/0110/0100/0000"))
    plain = coco_to_masks(coco_doc({"counts": [3, 2, 2, 1, 1], "size": [3, 3]}))
    assert np.array_equal(plain["a/x.png"], RLE_MASK)
    packed = coco_to_masks(coco_doc({"counts": "322OO", "size": [3, 3]}, iscrowd=1))
    assert np.array_equal(packed["a/x.png"], RLE_MASK)
    assert coco_to_masks(coco_doc({"counts": "322OO", "size": [3, 3]}, iscrowd=1),
                         include_crowd=False) == {}


def test_coco_rle_random_masks_via_reference_encoder() -> None:
    rng = np.random.default_rng(3)
    for shape in ((1, 1), (5, 3), (4, 9), (7, 7)):
        mask = rng.random(shape) > 0.6
        counts = rle_encode(mask)
        for encoded in (counts, rle_string_encode(counts)):
            got = coco_to_masks(coco_doc({"counts": encoded, "size": list(shape)}, *shape))
            assert np.array_equal(got["a/x.png"], mask)


def test_coco_union_and_category_filter() -> None:
    doc = coco_doc({"counts": [3, 2, 2, 1, 1], "size": [3, 3]})
    doc["annotations"].append({"id": 2, "image_id": 7, "category_id": 2,
                               "segmentation": [[0, 0, 1, 0, 1, 1, 0, 1]]})
    doc["annotations"].append({"id": 3, "image_id": 99, "category_id": 2,   # unknown image
                               "segmentation": [[0, 0, 1, 0, 1, 1]]})
    assert np.array_equal(coco_to_masks(doc)["a/x.png"], grid("110/011/000"))
    assert np.array_equal(coco_to_masks(doc, ["cargo"])["a/x.png"], RLE_MASK)
    assert np.array_equal(coco_to_masks(doc, ["marker"])["a/x.png"], grid("100/000/000"))
    with pytest.raises(MaskError, match="no category named"):
        coco_to_masks(doc, ["truck"])


@pytest.mark.parametrize("doc, reason", [
    ([], "JSON object"),
    ({"images": []}, "annotations"),
    ({"images": {}, "annotations": []}, "array"),
    ({"images": [{"id": 1, "file_name": "x.png", "height": 3}], "annotations": []}, "width"),
    ({"images": [{"id": [1], "file_name": "x.png", "height": 3, "width": 3}],
      "annotations": []}, "id"),
    (coco_doc({"counts": [3, 2, 2, 1], "size": [3, 3]}), "sum"),
    (coco_doc({"counts": [3, -2, 2, 1, 1], "size": [3, 3]}), "non-negative"),
    (coco_doc({"counts": "3 2", "size": [3, 3]}), "invalid character"),
    (coco_doc({"counts": [9], "size": [3, 4]}), "does not match"),
    (coco_doc({"counts": [9]}), "size"),
    (coco_doc({"size": [3, 3]}), "counts"),
    (coco_doc([[0, 0, 1, 0, 1]]), "even number"),
    (coco_doc([[0, 0, 1, 0, 1, float("inf")]]), "not finite"),
    (coco_doc([[0, 0, 1, 0, 1, "1"]]), "number"),
    (coco_doc([7]), "flat"),
    (coco_doc("polygon"), "polygons or RLE"),
    (coco_doc([[0, 0, 1, 0, 1, 1]], iscrowd="yes"), "iscrowd"),
    (coco_doc([[0, 0, 1, 0, 1, 1]], 10**9, 10**9), "limit"),
])
def test_coco_errors_are_mask_errors(doc: object, reason: str) -> None:
    with pytest.raises(MaskError, match=reason):
        coco_to_masks(doc)


# =============================================================================================
# Fuzzing: only MaskError or a valid mask
# =============================================================================================

junk = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=4),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=4), children, max_size=3),
    max_leaves=8)
not_text = junk.filter(lambda value: not isinstance(value, str))   # a str would be a path


bad_value = st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e300, -1.7e308,
                             10**400, -(10**400), 10**12, 0, -1, 2.5, True, None, "", "3", [],
                             {}, [1], "@@"]) | junk

coordinate = st.integers(-4, 12) | st.floats(-4, 12)
pair = st.tuples(coordinate, coordinate).map(list)
good_png = png_b64(grid("10/01"))
labelme_shape = st.one_of(
    st.fixed_dictionaries({"label": st.sampled_from(["a", "b"]),
                           "points": st.lists(pair, min_size=3, max_size=6)},
                          optional={"shape_type": st.sampled_from(["polygon", None])}),
    st.fixed_dictionaries({"label": st.sampled_from(["a", "b"]),
                           "shape_type": st.sampled_from(["rectangle", "circle", "line"]),
                           "points": st.lists(pair, min_size=2, max_size=2)}),
    st.builds(lambda label, x, y: {"label": label, "shape_type": "mask",
                                   "points": [[x, y], [x + 1, y + 1]], "mask": good_png},
              st.sampled_from(["a", "b"]), st.integers(-3, 10), st.integers(-3, 10)),
    st.fixed_dictionaries({"label": st.just("a"), "shape_type": st.sampled_from(["point", "x"]),
                           "points": st.lists(pair, max_size=2)}))
valid_labelme = st.fixed_dictionaries({
    "imageHeight": st.integers(1, 10), "imageWidth": st.integers(1, 10),
    "shapes": st.lists(labelme_shape, max_size=4), "imagePath": st.just("x.png")})


def rle_for(height: int, width: int, bits: list[bool], packed: bool) -> dict:
    counts = rle_encode(np.array(bits[:height * width]).reshape(height, width))
    return {"counts": rle_string_encode(counts) if packed else counts, "size": [height, width]}


@st.composite
def valid_coco(draw: st.DrawFn) -> dict:
    images, annotations = [], []
    for image_id in range(1, draw(st.integers(1, 2)) + 1):
        height, width = draw(st.integers(1, 5)), draw(st.integers(1, 5))
        images.append({"id": image_id, "file_name": f"d/{image_id}.png",
                       "height": height, "width": width})
        for _ in range(draw(st.integers(0, 2))):
            if draw(st.booleans()):
                points = draw(st.lists(pair, min_size=3, max_size=5))
                segmentation: object = [[v for point in points for v in point]]
                crowd = 0
            else:
                bits = draw(st.lists(st.booleans(), min_size=25, max_size=25))
                segmentation, crowd = rle_for(height, width, bits, draw(st.booleans())), 1
            annotations.append({"image_id": image_id, "category_id": draw(st.sampled_from([1, 2])),
                                "segmentation": segmentation, "iscrowd": crowd})
    return {"images": images, "annotations": annotations,
            "categories": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]}


def json_paths(node: object, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(node, dict):
        for key, value in node.items():
            found += json_paths(value, prefix + (key,))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += json_paths(value, prefix + (index,))
    return found


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy) -> object:
    """A valid document with 0-3 nodes replaced by bad values or deleted."""
    doc = copy.deepcopy(draw(base))
    for _ in range(draw(st.integers(0, 3))):
        paths = [path for path in json_paths(doc) if path]
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if isinstance(parent, dict) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            parent[path[-1]] = copy.deepcopy(draw(bad_value))
    return doc


def check_mask_or_error(call, shape: tuple[int, int] | None = None) -> str:
    try:
        result = call()
    except MaskError as error:
        assert isinstance(error.reason, str) and error.reason
        return "error"
    masks = result.values() if isinstance(result, dict) else [result]
    for mask in masks:
        assert isinstance(mask, np.ndarray) and mask.dtype == np.bool_ and mask.ndim == 2
        if shape is not None:
            assert mask.shape == shape
    return "mask"


@FUZZ
@given(mutated(valid_labelme) | not_text, st.sampled_from([None, ["a"]]), st.booleans())
def test_fuzz_labelme(doc: object, labels: list[str] | None, with_shape: bool) -> None:
    shape = (5, 6) if with_shape else None
    check_mask_or_error(lambda: labelme_to_mask(doc, shape=shape, labels=labels), shape)


@FUZZ
@given(mutated(valid_coco()) | not_text, st.sampled_from([None, ["a"]]))
def test_fuzz_coco(doc: object, categories: list[str] | None) -> None:
    check_mask_or_error(lambda: coco_to_masks(doc, categories))


@FUZZ
@given(st.text(max_size=20))
def test_fuzz_rle_string(text: str) -> None:
    try:
        counts = rle_string_decode(text)
    except ValueError:
        return
    assert all(isinstance(c, int) and c >= 0 for c in counts)


# =============================================================================================
# Folder import
# =============================================================================================

def square_labelme(image_path: str | None, height: int = 4, width: int = 5,
                   label: str = "cargo") -> dict:
    doc = {"imageHeight": height, "imageWidth": width,
           "shapes": [{"label": label, "shape_type": "rectangle", "points": [[1, 1], [2, 2]]}]}
    if image_path is not None:
        doc["imagePath"] = image_path
    return doc


SQUARE = grid("00000/01100/01100/00000")


def test_import_labelme_beside_images(tmp_path: Path) -> None:
    root = tmp_path / "images"
    save_image(root / "clean" / "a.png", 5, 4)
    save_image(root / "b.jpg", 5, 4)
    write_json(root / "clean" / "a.json", square_labelme("a.png"))
    write_json(root / "b.json", square_labelme("b.jpg", label="other"))
    calls: list[tuple[int, int]] = []
    report = import_masks(root, "labelme", root, progress=lambda d, t: calls.append((d, t)))
    assert isinstance(report, ImportReport)
    assert sorted(report.written) == ["b.jpg", "clean/a.png"]
    assert report.skipped == []
    assert calls == [(1, 2), (2, 2)]
    for name in report.written:
        assert np.array_equal(read_mask(mask_path(root, name), shape=(4, 5)), SQUARE)
    # Label filter: b.json has no "cargo" shape.
    masks = tmp_path / "m"
    report = import_masks(root, "labelme", root, masks_root=masks, labels=["cargo"])
    assert report.written == ["clean/a.png"]
    assert report.skipped == [("b.json", "no polygon, rectangle, circle or mask shape with the "
                                         "selected labels")]
    assert (masks / "clean" / "a.png.png").is_file() and not (masks / "b.jpg.png").exists()
    assert "written 1 mask" in report.summary() and "b.json" in report.summary()


def test_import_labelme_fallback_by_stem(tmp_path: Path) -> None:
    root = tmp_path / "images"
    save_image(root / "trucks" / "t1.jpg", 5, 4)
    save_image(root / "trucks" / "t2.jpg", 5, 4)
    save_image(root / "trucks" / "t2.png", 5, 4)
    ann = tmp_path / "ann"
    write_json(ann / "trucks" / "t1.json", square_labelme("C:\\labelme\\t1.jpg"))
    write_json(ann / "trucks" / "t2.json", square_labelme(None))
    write_json(ann / "trucks" / "t3.json", square_labelme("t3.jpg"))
    report = import_masks(ann, "labelme", root)
    assert report.written == ["trucks/t1.jpg"]
    reasons = dict(report.skipped)
    assert "several images" in reasons["trucks/t2.json"]
    assert "no image named trucks/t3" in reasons["trucks/t3.json"]
    # A single file as SRC works too (its folder is the relative base).
    single = tmp_path / "one"
    write_json(single / "t1.json", square_labelme(None))
    (root / "t1.jpg").write_bytes((root / "trucks" / "t1.jpg").read_bytes())
    report = import_masks(single / "t1.json", "labelme", root, existing="skip")
    assert report.written == ["t1.jpg"]


def test_import_refuses_paths_outside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "images"
    save_image(root / "inside.png", 5, 4)
    outside = save_image(tmp_path / "secret.png", 5, 4)
    (root / "link.png").symlink_to(outside)
    before = outside.read_bytes()
    ann = tmp_path / "ann"
    write_json(ann / "a.json", square_labelme("../../images/../secret.png"))
    write_json(ann / "b.json", square_labelme(str(outside)))
    write_json(ann / "c.json", square_labelme("../../../../../../etc/passwd"))
    write_json(ann / "d.json", square_labelme("../images/link.png"))
    report = import_masks(ann, "labelme", root)
    assert report.written == []
    reasons = dict(report.skipped)
    for name in ("a.json", "b.json", "c.json", "d.json"):
        assert "outside the image root" in reasons[name], reasons[name]
    coco = write_json(ann / "coco" / "c.json", {
        "images": [{"id": 1, "file_name": "../secret.png", "height": 4, "width": 5},
                   {"id": 2, "file_name": "/etc/passwd", "height": 4, "width": 5},
                   {"id": 3, "file_name": "link.png", "height": 4, "width": 5}],
        "annotations": [{"image_id": i, "segmentation": [[0, 0, 2, 0, 2, 2]]} for i in (1, 2, 3)]})
    report = import_masks(coco, "coco", root)
    assert report.written == []
    assert len(report.skipped) == 3
    assert all("refused" in reason or "no image" in reason for _, reason in report.skipped)
    assert outside.read_bytes() == before
    pngs = [p for p in tmp_path.rglob("*") if p.suffix == ".png" and not p.is_symlink()]
    assert sorted(p.name for p in pngs) == ["inside.png", "secret.png"]
    assert not (root / ".leakview").exists()


def test_import_exif_rotated_jpeg(tmp_path: Path) -> None:
    root = tmp_path / "images"
    save_image(root / "rot.jpg", 4, 2, orientation=6)    # stored 4x2, shown 2 wide x 4 high
    save_image(root / "bad.jpg", 4, 2, orientation=8)
    doc = {"imagePath": "rot.jpg", "imageHeight": 4, "imageWidth": 2,
           "shapes": [{"label": "a", "shape_type": "rectangle", "points": [[0, 2], [1, 3]]}]}
    write_json(root / "rot.json", doc)
    write_json(root / "bad.json", dict(doc, imagePath="bad.jpg", imageHeight=2, imageWidth=4))
    report = import_masks(root, "labelme", root)
    assert report.written == ["rot.jpg"]
    assert np.array_equal(read_mask(mask_path(root, "rot.jpg")), grid("00/00/11/11"))
    (item, reason), = report.skipped
    assert item == "bad.json" and "4x2" in reason and "2x4" in reason


def test_import_coco(tmp_path: Path) -> None:
    root = tmp_path / "images"
    save_image(root / "a" / "x.png", 3, 3)
    save_image(root / "deep" / "y.png", 3, 3)
    save_image(root / "z.png", 4, 3)
    save_image(root / "d1" / "w.png", 3, 3)
    save_image(root / "d2" / "w.png", 3, 3)
    rle = {"counts": "322OO", "size": [3, 3]}
    doc = {"images": [{"id": 1, "file_name": "a/x.png", "height": 3, "width": 3},
                      {"id": 2, "file_name": "elsewhere/y.png", "height": 3, "width": 3},
                      {"id": 3, "file_name": "z.png", "height": 3, "width": 3},
                      {"id": 4, "file_name": "w.png", "height": 3, "width": 3},
                      {"id": 5, "file_name": "nothing.png", "height": 3, "width": 3}],
           "annotations": [{"image_id": i, "category_id": 1, "segmentation": rle, "iscrowd": 1}
                           for i in (1, 2, 3, 4)]
           + [{"image_id": 5, "category_id": 2, "segmentation": [[0, 0, 1, 0, 1, 1]]}],
           "categories": [{"id": 1, "name": "cargo"}, {"id": 2, "name": "marker"}]}
    src = write_json(tmp_path / "coco.json", doc)
    report = import_masks(src, "coco", root, labels=["cargo"])
    assert report.written == ["a/x.png", "deep/y.png"]
    assert np.array_equal(read_mask(mask_path(root, "deep/y.png")), RLE_MASK)
    reasons = dict(report.skipped)
    assert "3x3" in reasons["coco.json: z.png"] and "4x3" in reasons["coco.json: z.png"]
    assert "several images" in reasons["coco.json: w.png"]
    assert "coco.json: nothing.png" not in reasons                 # not a cargo image
    report = import_masks(src, "coco", root, labels=["truck"])
    assert report.written == [] and "no category named truck" in report.skipped[0][1]
    report = import_masks(src, "coco", root, existing="skip")
    assert "exists" in dict(report.skipped)["coco.json: a/x.png"]


def test_import_duplicates_and_bad_inputs(tmp_path: Path) -> None:
    root = tmp_path / "images"
    save_image(root / "a.png", 5, 4)
    ann = tmp_path / "ann"
    write_json(ann / "a.json", square_labelme("../images/a.png"))
    write_json(ann / "z" / "copy.json", square_labelme("../../images/a.png"))
    (ann / "broken.json").write_text("{")
    write_json(ann / ".hidden" / "a.json", square_labelme("../../images/a.png"))
    report = import_masks(ann, "labelme", root)
    assert report.written == ["a.png"]
    reasons = dict(report.skipped)
    assert "already written from a.json" in reasons["z/copy.json"]
    assert "not valid JSON" in reasons["broken.json"]
    assert len(report.skipped) == 2
    with pytest.raises(MaskError):
        import_masks(tmp_path / "missing", "labelme", root)
    with pytest.raises(MaskError):
        import_masks(ann, "labelme", tmp_path / "no-root")
    with pytest.raises(ValueError):
        import_masks(ann, "voc", root)


# =============================================================================================
# CLI
# =============================================================================================

def cli_parser() -> argparse.ArgumentParser:
    from leakview.commands import masks_cmd

    parser = argparse.ArgumentParser(prog="leakview")
    masks_cmd.register(parser.add_subparsers(dest="command"))
    return parser


def test_cli_import(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from leakview.cli import CommandError
    from leakview.commands.masks_cmd import parse_labels

    root = tmp_path / "images"
    save_image(root / "a.png", 5, 4)
    write_json(root / "a.json", square_labelme("a.png"))
    write_json(root / "b.json", square_labelme("b.png"))
    masks = tmp_path / "masks"
    args = cli_parser().parse_args(["masks", "import", str(root), "--format", "labelme",
                                    "--root", str(root), "--masks", str(masks),
                                    "--labels", "cargo, other,"])
    assert args.labels == "cargo, other," and parse_labels(args.labels) == ["cargo", "other"]
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "written 1 mask" in out and "b.json" in out
    assert (masks / "a.png.png").is_file()

    args = cli_parser().parse_args(["masks", "import", str(root), "--format", "labelme",
                                    "--root", str(root), "--masks", str(masks),
                                    "--no-overwrite"])
    with pytest.raises(CommandError) as info:
        args.func(args)
    assert info.value.status == 1
    assert "exists" in capsys.readouterr().out
    args = cli_parser().parse_args(["masks", "import", str(tmp_path / "nope"), "--format",
                                    "coco", "--root", str(root)])
    with pytest.raises(CommandError):
        args.func(args)
    with pytest.raises(SystemExit):
        cli_parser().parse_args(["masks", "import", str(root), "--root", str(root)])


def test_region_paths_put_suspect_regions_in_the_masks_roots_hidden_folder(tmp_path):
    from leakview.masks import SUSPECT, find_mask, region_path, region_root, write_mask

    root = tmp_path / "data"
    assert region_path(root, "a/b.jpg") == root / ".leakview/masks/a/b.jpg.png"
    assert region_path(root, root / "a/b.jpg", SUSPECT) == (
        root / ".leakview/masks/.suspect/a/b.jpg.png")
    assert region_root(root, SUSPECT, tmp_path / "m") == tmp_path / "m/.suspect"
    with pytest.raises(ValueError, match="unknown region kind 'watermark'"):
        region_path(root, "a/b.jpg", "watermark")
    region = np.zeros((4, 5), dtype=bool)
    region[1:3, 2:4] = True
    write_mask(region_path(root, "a/b.jpg", SUSPECT), region)
    assert find_mask(root, "a/b.jpg") == (None, None)
    found, problem = find_mask(root, "a/b.jpg", shape=(4, 5), kind=SUSPECT)
    assert problem is None and np.array_equal(found, region)
