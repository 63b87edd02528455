"""The headless shape model (leakview.masks.shapes): edits, pixels, LabelMe shape dicts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from leakview.masks import (
    LiveShape,
    Shape,
    labelme_to_mask,
    rasterize_ellipse,
    rasterize_polygon,
    rasterize_rectangle,
)

SIZE = (40, 50)


def test_box_is_normalised_and_its_handles_drag_corners_and_sides():
    box = Shape.box("rectangle", (30, 25), (10, 5))
    assert box.points == ((10, 5), (30, 25))
    assert box.handles()[:4] == [(10, 5), (30, 5), (30, 25), (10, 25)]
    assert box.handles()[4:] == [(20, 5), (30, 15), (20, 25), (10, 15)]
    assert box.dragged(2, (40, 35)).points == ((10, 5), (40, 35))
    assert box.dragged(5, (44, 0)).points == ((10, 5), (44, 25))      # right side: x only
    assert box.dragged(0, (35, 30)).points == ((30, 25), (35, 30))    # past the other: flips
    np.testing.assert_array_equal(box.rasterize(SIZE), rasterize_rectangle(10, 5, 30, 25, SIZE))
    ellipse = Shape.box("ellipse", (10, 5), (30, 25))
    np.testing.assert_array_equal(ellipse.rasterize(SIZE),
                                  rasterize_ellipse(20, 15, 10, 10, SIZE))


def test_polygon_vertices_insert_remove_move_contains():
    triangle = Shape.polygon([(5, 5), (35, 5), (20, 30)])
    square = triangle.with_vertex(2, (5, 30))
    assert square.points == ((5, 5), (35, 5), (20, 30), (5, 30))
    assert square.without_vertex(2).points == ((5, 5), (35, 5), (5, 30))
    assert triangle.without_vertex(0) == triangle               # a triangle stays one
    assert triangle.dragged(2, (20, 38)).points[2] == (20, 38)
    assert triangle.moved(2, -1).points == ((7, 4), (37, 4), (22, 29))
    assert triangle.contains(20, 10) and not triangle.contains(5, 29)
    assert Shape.box("ellipse", (0, 0), (20, 10)).contains(10, 5)
    assert not Shape.box("ellipse", (0, 0), (20, 10)).contains(1, 1)
    np.testing.assert_array_equal(square.rasterize(SIZE),
                                  rasterize_polygon(square.points, SIZE))
    with pytest.raises(ValueError):
        Shape.box("rectangle", (0, 0), (float("nan"), 1))
    with pytest.raises(ValueError):
        Shape("hexagon", ((0, 0), (1, 1)))   # type: ignore[arg-type]


def test_live_shape_adds_or_subtracts_over_its_base():
    base = rasterize_rectangle(0, 0, 20, 20, SIZE)
    add = Shape.box("rectangle", (10, 10), (30, 30))
    cut = Shape.box("rectangle", (10, 10), (30, 30), subtractive=True)
    np.testing.assert_array_equal(LiveShape(add, base).mask(SIZE), base | add.rasterize(SIZE))
    np.testing.assert_array_equal(LiveShape(cut, base).mask(SIZE), base & ~cut.rasterize(SIZE))
    assert LiveShape(cut, None).mask(SIZE) is None                 # nothing left: no mask
    assert LiveShape(add.moved(1, 0), base).base is base


@pytest.mark.parametrize("shape", [
    Shape.polygon([(3, 4), (40.5, 6), (30, 33.25), (8, 20)], label="tag"),
    Shape.box("rectangle", (4, 6), (31.5, 22)),
    Shape.box("ellipse", (10, 10), (30, 30)),           # a circle
])
def test_labelme_dict_gives_the_same_pixels_through_the_labelme_importer(shape, tmp_path):
    data = shape.to_labelme()
    assert set(data) >= {"label", "points", "group_id", "description", "shape_type", "flags"}
    assert data["flags"] == {} and data["shape_type"] in ("polygon", "rectangle", "circle")
    document = {"version": "5.5.0", "flags": {}, "shapes": [data], "imagePath": "a.png",
                "imageData": None, "imageHeight": SIZE[0], "imageWidth": SIZE[1]}
    path = tmp_path / "a.json"
    path.write_text(json.dumps(document))                # plain JSON types only
    np.testing.assert_array_equal(labelme_to_mask(path), shape.rasterize(SIZE))
    assert Shape.from_labelme(json.loads(json.dumps(data))) == shape


def test_labelme_ellipse_and_subtractive_round_trip():
    ellipse = Shape.box("ellipse", (5, 8), (40, 20), subtractive=True, label="suspect")
    data = ellipse.to_labelme()
    assert data["shape_type"] == "polygon" and len(data["points"]) >= 32   # LabelMe: no ellipse
    assert data["leakview"] == {"ellipse": [[5, 8], [40, 20]], "subtractive": True}
    assert Shape.from_labelme(data) == ellipse
    outline = rasterize_polygon(data["points"], SIZE)
    exact = ellipse.rasterize(SIZE)
    assert (outline ^ exact).sum() < 0.1 * exact.sum()      # what other tools see: close
    with pytest.raises(ValueError, match="not an editable shape"):
        Shape.from_labelme({"label": "x", "points": [[0, 0]], "shape_type": "point"})
    with pytest.raises(ValueError, match="2 points"):
        Shape.from_labelme({"label": "x", "points": [[0, 0]], "shape_type": "rectangle"})
