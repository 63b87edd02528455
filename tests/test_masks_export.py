"""``leakview masks export`` (LabelMe / COCO) and ``leakview masks import --kind-map``: a round
trip gives the same pixels for both region kinds; COCO RLE is pycocotools'; a LabelMe file
written here opens in LabelMe's own loader (headless)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO

from leakview.cli import main
from leakview.masks import (
    EXPECTED,
    REGION_KINDS,
    SUSPECT,
    ExistingMasks,
    ExistingOutput,
    KindMap,
    MaskError,
    export_masks,
    find_mask,
    import_masks,
    labelme_mask_shapes,
    labelme_to_mask,
    mask_to_rle,
    plan_import,
    region_path,
    write_mask,
)
from leakview.masks.labelme import parse_labelme
from test_masks import grid, png_b64, save_image, write_json

# 9 x 7 images (width x height); every region is checked pixel for pixel after a round trip.
RING = grid("000000000/011111000/010001000/011111000/000000000/000000000/000000000")  # a hole
SCATTERED = grid("100000001/000000000/000110000/000110000/000000000/000000000/100000011")
ONE_PIXEL = grid("000000000/000000000/000000000/000010000/000000000/000000000/000000000")
BORDER = grid("111111111/100000001/100000001/100000001/100000001/100000001/111111111")
DIAGONAL = grid("100000000/010000000/001000000/000100000/000010000/000001000/000000100")
FULL = np.ones((7, 9), dtype=bool)

REGIONS = {  # image -> {kind: region}
    "a.png": {EXPECTED: RING, SUSPECT: ONE_PIXEL},
    "cls/b.png": {EXPECTED: SCATTERED, SUSPECT: BORDER},
    "cls/deep/c.jpg": {SUSPECT: DIAGONAL},                 # a suspect region only
    "d.png": {EXPECTED: FULL},                             # the whole image
    "e.png": {},                                           # no region: not exported
}


def make_root(path: Path, regions: dict[str, dict[str, np.ndarray]] = REGIONS) -> Path:
    for relative, kinds in regions.items():
        save_image(path / relative, 9, 7)
        for kind, mask in kinds.items():
            write_mask(region_path(path, relative, kind), mask)
    return path


def images_only(root: Path, to: Path) -> Path:
    """A copy of ``root``'s images without any region file."""
    shutil.copytree(root, to, ignore=shutil.ignore_patterns(".leakview"))
    return to


def stored(root: Path, masks_root: Path | None = None) -> dict[tuple[str, str], np.ndarray]:
    """Every region file under ``root`` by (image, kind)."""
    out = {}
    for relative in REGIONS:
        for kind in REGION_KINDS:
            mask, error = find_mask(root, relative, masks_root, (7, 9), kind=kind)
            assert error is None
            if mask is not None:
                out[relative, kind] = mask
    return out


def assert_same_regions(a: dict, b: dict) -> None:
    assert sorted(a) == sorted(b)
    for key in a:
        assert np.array_equal(a[key], b[key]), key


@pytest.mark.parametrize("fmt", ["labelme", "coco"])
def test_export_then_import_gives_the_same_pixels_for_both_kinds(tmp_path, fmt, capsys):
    root = make_root(tmp_path / "data")
    out = tmp_path / ("labelme" if fmt == "labelme" else "coco.json")
    assert main(["masks", "export", "--root", str(root), "--format", fmt,
                 "--out", str(out)]) == 0
    printed = capsys.readouterr()
    assert "exported 6 regions (3 expected, 3 suspect) of 4 images" in printed.out
    assert "export [" in printed.err                       # the progress bar
    again = images_only(root, tmp_path / "again")
    # no flags: the labels "expected" / "suspect" go back to their kinds
    assert main(["masks", "import", str(out), "--format", fmt, "--root", str(again)]) == 0
    assert "written 6 masks (3 expected, 3 suspect) of 4 images" in capsys.readouterr().out
    assert_same_regions(stored(again), stored(root))
    assert len(stored(root)) == 6


def test_labelme_files_lie_beside_the_images_layout_and_point_at_them(tmp_path):
    root = make_root(tmp_path / "data")
    out = tmp_path / "ann"
    report = export_masks(root, "labelme", out)
    assert sorted(p.relative_to(out).as_posix() for p in report.files) == [
        "a.json", "cls/b.json", "cls/deep/c.json", "d.json"]
    data = json.loads((out / "cls/b.json").read_text())
    assert set(data) == {"version", "flags", "shapes", "imagePath", "imageData",
                         "imageHeight", "imageWidth"}
    assert (data["imageHeight"], data["imageWidth"], data["imageData"]) == (7, 9, None)
    assert (out / "cls" / data["imagePath"]).resolve() == (root / "cls/b.png").resolve()
    assert {s["shape_type"] for s in data["shapes"]} == {"mask"}
    labels = [s["label"] for s in data["shapes"]]
    # one mask shape per 8-connected component: 4 corner pieces + the square, 1 border ring
    assert labels.count("expected") == 5 and labels.count("suspect") == 1
    ring = next(s for s in json.loads((out / "a.json").read_text())["shapes"]
                if s["label"] == "expected")
    assert ring["points"] == [[1.0, 1.0], [5.0, 3.0]]     # its bounding box, inclusive


def test_a_labelme_mask_shape_reads_back_exactly_with_holes_and_at_the_border() -> None:
    for region in (RING, SCATTERED, ONE_PIXEL, BORDER, DIAGONAL, FULL):
        document = {"imageHeight": 7, "imageWidth": 9,
                    "shapes": labelme_mask_shapes(region, "expected")}
        assert np.array_equal(labelme_to_mask(document), region)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(arrays(np.bool_, st.tuples(st.integers(1, 12), st.integers(1, 12))))
def test_random_regions_survive_labelme_and_match_pycocotools_rle(region) -> None:
    if region.any():
        shapes = labelme_mask_shapes(region, "suspect")
        document = {"imageHeight": region.shape[0], "imageWidth": region.shape[1],
                    "shapes": shapes}
        parsed = parse_labelme(document, Path("<dict>"), None, None,
                               KindMap.parse("suspect=suspect"))
        assert np.array_equal(parsed.masks[SUSPECT], region)
    ours = mask_to_rle(region)
    theirs = coco_mask.encode(np.asfortranarray(region.astype(np.uint8)))
    assert ours["counts"] == theirs["counts"].decode("ascii")
    assert ours["size"] == list(theirs["size"])


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")  # pycocotools
def test_the_coco_file_is_what_pycocotools_reads(tmp_path):
    root = make_root(tmp_path / "data")
    out = tmp_path / "coco.json"
    export_masks(root, "coco", out)
    coco = COCO(str(out))
    assert {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())} == {
        1: "expected", 2: "suspect"}
    kinds = {1: EXPECTED, 2: SUSPECT}
    seen = {}
    for annotation in coco.loadAnns(coco.getAnnIds()):
        image = coco.loadImgs(annotation["image_id"])[0]
        mask = coco.annToMask(annotation).astype(bool)
        key = (image["file_name"], kinds[annotation["category_id"]])
        seen[key] = mask
        rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
        assert annotation["area"] == int(coco_mask.area(rle))
        assert annotation["bbox"] == coco_mask.toBbox(rle).tolist()
        assert annotation["iscrowd"] == 0
        assert (image["height"], image["width"]) == (7, 9)
    assert_same_regions(seen, stored(root))


def labelme_available() -> bool:
    return importlib.util.find_spec("labelme") is not None


LABELME_READER = """
import json, sys
import numpy as np
from labelme import LabelFile, utils
path, label = sys.argv[1], sys.argv[2]
loaded = LabelFile(path)          # raises on a bad file, an unreadable image, a wrong size
shapes = [s for s in loaded.shapes if s["label"] == label]
image_data = getattr(loaded, "image_data", None) or loaded.imageData   # LabelMe 6 / 5
height, width = utils.img_data_to_arr(image_data).shape[:2]
cls, _ = utils.shapes_to_label((height, width), shapes, {"_background_": 0, label: 1})
print(json.dumps({"types": sorted({s["shape_type"] for s in loaded.shapes}),
                  "mask": (cls == 1).astype(int).tolist()}))
"""


@pytest.mark.skipif(not labelme_available(), reason="labelme is not installed (test extra)")
def test_a_leakview_labelme_file_opens_in_labelmes_own_loader(tmp_path):
    root = make_root(tmp_path / "data")
    out = tmp_path / "ann"
    export_masks(root, "labelme", out)
    for relative, kinds in REGIONS.items():
        for kind, region in kinds.items():
            json_file = out / (relative.rsplit(".", 1)[0] + ".json")
            # In a child process: LabelMe imports PyQt5, which must not meet PySide6.
            result = subprocess.run(
                [sys.executable, "-c", LABELME_READER, str(json_file), kind],
                capture_output=True, text=True, timeout=120,
                env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
            assert result.returncode == 0, result.stderr
            answer = json.loads(result.stdout.strip().splitlines()[-1])
            assert answer["types"] == ["mask"]
            assert np.array_equal(np.array(answer["mask"], dtype=bool), region), (relative,
                                                                                 kind)


def test_existing_output_is_refused_and_overwrite_replaces_it(tmp_path, capsys):
    root = make_root(tmp_path / "data")
    out = tmp_path / "ann"
    (out / "cls").mkdir(parents=True)
    (out / "cls/b.json").write_text("mine")
    assert main(["masks", "export", "--root", str(root), "--format", "labelme",
                 "--out", str(out)]) == 1
    error = capsys.readouterr().err
    assert "1 output file exists already" in error and "cls/b.json" in error
    assert (out / "cls/b.json").read_text() == "mine"
    assert not (out / "a.json").exists()                   # nothing was written
    assert main(["masks", "export", "--root", str(root), "--format", "labelme",
                 "--out", str(out), "--overwrite"]) == 0
    assert json.loads((out / "cls/b.json").read_text())["imageWidth"] == 9

    coco = tmp_path / "coco.json"
    coco.write_text("{}")
    with pytest.raises(ExistingOutput):
        export_masks(root, "coco", coco)
    assert coco.read_text() == "{}"
    with pytest.raises(MaskError, match="is a folder"):
        export_masks(root, "coco", out, overwrite=True)


def test_export_kinds_and_labels_from_the_kind_map(tmp_path, capsys):
    root = make_root(tmp_path / "data")
    out = tmp_path / "coco.json"
    assert main(["masks", "export", "--root", str(root), "--format", "coco", "--out", str(out),
                 "--kinds", "suspect", "--kind-map", "tag=suspect"]) == 0
    data = json.loads(out.read_text())
    assert data["categories"] == [{"id": 2, "name": "tag", "supercategory": "region"}]
    assert len(data["annotations"]) == 3
    # a re-import needs the map back (tag is not a kind's name)
    again = images_only(root, tmp_path / "again")
    assert main(["masks", "import", str(out), "--format", "coco", "--root", str(again),
                 "--kind-map", "tag=suspect"]) == 0
    capsys.readouterr()
    assert_same_regions(stored(again), {key: mask for key, mask in stored(root).items()
                                        if key[1] == SUSPECT})
    # two labels for one kind cannot be exported: a usage error naming them
    with pytest.raises(SystemExit) as info:
        main(["masks", "export", "--root", str(root), "--format", "coco", "--out",
              str(tmp_path / "x.json"), "--kind-map", "tag=suspect,watermark=suspect"])
    assert info.value.code == 2
    assert "suspect is given several labels (tag, watermark)" in capsys.readouterr().err


@pytest.mark.parametrize("bad, named", [
    ("tag", "'tag' (expected LABEL=KIND)"),
    ("tag=watermark", "unknown kind 'watermark'"),
    ("=suspect", "'=suspect'"),
    ("tag=suspect,tag=expected", "'tag' is already mapped to suspect"),
    (",", "empty kind map"),
])
def test_kind_map_errors_are_usage_errors_naming_the_item(tmp_path, capsys, bad, named):
    root = make_root(tmp_path / "data")
    with pytest.raises(SystemExit) as info:
        main(["masks", "import", str(tmp_path), "--format", "labelme", "--root", str(root),
              "--kind-map", bad])
    assert info.value.code == 2
    error = capsys.readouterr().err
    assert "--kind-map" in error and named in error
    with pytest.raises(SystemExit):
        main(["masks", "export", "--root", str(root), "--format", "coco", "--out",
              str(tmp_path / "c.json"), "--kinds", "expected,watermark"])


def rectangle(label: str, x0: int, y0: int, x1: int, y1: int) -> dict:
    return {"label": label, "shape_type": "rectangle", "points": [[x0, y0], [x1, y1]]}


def test_import_kind_map_sends_labels_to_kinds_and_counts_the_rest(tmp_path, capsys):
    root = tmp_path / "data"
    save_image(root / "a.png", 9, 7)
    ann = tmp_path / "ann"
    write_json(ann / "a.json", {"imagePath": "../data/a.png", "imageHeight": 7,
                                "imageWidth": 9, "shapes": [
                                    rectangle("cargo", 2, 2, 5, 4),
                                    rectangle("tag", 0, 0, 0, 0),
                                    rectangle("watermark", 8, 6, 8, 6),
                                    rectangle("other", 3, 3, 3, 3),
                                    rectangle("other", 4, 4, 4, 4)]})
    assert main(["masks", "import", str(ann), "--format", "labelme", "--root", str(root),
                 "--kind-map", "cargo=expected,tag=suspect,watermark=suspect"]) == 0
    out = capsys.readouterr().out
    assert "not imported: 2 shapes whose label the kind map does not list (other 2)" in out
    expected, _ = find_mask(root, "a.png", kind=EXPECTED)
    suspect, _ = find_mask(root, "a.png", kind=SUSPECT)
    assert expected.sum() == 12 and expected[2:5, 2:6].all()       # cargo only
    assert np.flatnonzero(suspect.ravel()).tolist() == [0, 62]     # tag + watermark

    # without a map: everything is expected, except the label "suspect"
    other = tmp_path / "other"
    save_image(other / "a.png", 9, 7)
    write_json(ann / "a.json", {"imagePath": "../other/a.png", "shapes": [
        rectangle("cargo", 2, 2, 5, 4), rectangle("suspect", 0, 0, 0, 0)]})
    report = import_masks(ann, "labelme", other)
    assert report.written_kinds == {"a.png": [EXPECTED, SUSPECT]}
    assert find_mask(other, "a.png", kind=SUSPECT)[0].sum() == 1
    assert find_mask(other, "a.png", kind=EXPECTED)[0].sum() == 12
    # a file whose every label is unmapped is skipped, and says so
    write_json(ann / "a.json", {"imagePath": "../other/a.png",
                                "shapes": [rectangle("cargo", 2, 2, 5, 4)]})
    report = import_masks(ann, "labelme", other, existing="overwrite",
                          kind_map=KindMap.parse("tag=suspect"))
    assert report.written == [] and report.unmapped == {"cargo": 1}
    assert "kind map" in report.skipped[0][1]


def test_import_coco_categories_go_to_kinds(tmp_path):
    root = tmp_path / "data"
    save_image(root / "a.png", 9, 7)
    box = {"size": [7, 9], "counts": mask_to_rle(RING)["counts"]}
    dot = {"size": [7, 9], "counts": mask_to_rle(ONE_PIXEL)["counts"]}
    data = {"images": [{"id": 1, "file_name": "a.png", "height": 7, "width": 9}],
            "categories": [{"id": 3, "name": "cargo"}, {"id": 7, "name": "logo"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 3, "segmentation": box},
                            {"id": 2, "image_id": 1, "category_id": 7, "segmentation": dot},
                            {"id": 3, "image_id": 1, "category_id": 9, "segmentation": dot}]}
    source = write_json(tmp_path / "coco.json", data)
    plan = plan_import(source, "coco", root, kind_map=KindMap.parse("logo=suspect"))
    assert plan.kinds == {"a.png": [SUSPECT]}
    report = import_masks(source, "coco", root, kind_map=KindMap.parse("cargo=expected,"
                                                                      "logo=suspect"))
    assert report.unmapped == {"": 1}                     # category 9 is not in the file
    assert np.array_equal(find_mask(root, "a.png", kind=EXPECTED)[0], RING)
    assert np.array_equal(find_mask(root, "a.png", kind=SUSPECT)[0], ONE_PIXEL)


def test_existing_suspect_regions_follow_the_same_policy_and_backups(tmp_path):
    root = make_root(tmp_path / "data", {"a.png": {SUSPECT: BORDER}})
    ann = tmp_path / "ann"
    write_json(ann / "a.json", {"imagePath": "../data/a.png", "shapes": [
        rectangle("cargo", 2, 2, 3, 3), rectangle("suspect", 4, 3, 4, 3)]})
    plan = plan_import(ann, "labelme", root)
    assert plan.existing == ["a.png"] and plan.existing_kinds == {"a.png": [SUSPECT]}
    with pytest.raises(ExistingMasks):
        import_masks(ann, "labelme", root)
    assert not region_path(root, "a.png", EXPECTED).exists()      # nothing was written

    report = import_masks(ann, "labelme", root, existing="skip")
    assert report.written_kinds == {"a.png": [EXPECTED]}
    assert dict(report.skipped) == {"a.json": "the suspect region of a.png exists (kept)"}
    assert np.array_equal(find_mask(root, "a.png", kind=SUSPECT)[0], BORDER)

    backups = tmp_path / "backups"
    report = import_masks(ann, "labelme", root, existing="merge", backup_dir=backups)
    assert report.replaced_kinds == {"a.png": [EXPECTED, SUSPECT]}
    merged = BORDER.copy()
    merged[3, 4] = True
    assert np.array_equal(find_mask(root, "a.png", kind=SUSPECT)[0], merged)
    backup, _ = find_mask(root, "a.png", backups, kind=SUSPECT)     # backups/.suspect/a.png.png
    assert np.array_equal(backup, BORDER)


def test_unusable_and_empty_region_files_are_skipped_with_the_reason(tmp_path):
    root = make_root(tmp_path / "data", {"a.png": {EXPECTED: RING}, "b.png": {}})
    write_mask(region_path(root, "a.png", SUSPECT), np.zeros((7, 9), dtype=bool))
    write_mask(region_path(root, "b.png", EXPECTED), np.ones((3, 3), dtype=bool))
    report = export_masks(root, "coco", tmp_path / "c.json")
    assert report.images == ["a.png"] and report.regions == {EXPECTED: 1, SUSPECT: 0}
    reasons = dict(report.skipped)
    assert "empty" in reasons["a.png (suspect)"]
    assert "mask is 3x3 but the image is 9x7" in reasons["b.png (expected)"]


def test_images_sharing_a_stem_get_their_full_name(tmp_path):
    root = make_root(tmp_path / "data", {"x.png": {EXPECTED: RING}, "x.jpg": {SUSPECT: BORDER},
                                         "y.png": {EXPECTED: ONE_PIXEL}})
    out = tmp_path / "ann"
    report = export_masks(root, "labelme", out)
    assert sorted(p.name for p in report.files) == ["x.jpg.json", "x.png.json", "y.json"]
    again = images_only(root, tmp_path / "again")
    import_masks(out, "labelme", again)
    for relative, kind, region in (("x.png", EXPECTED, RING), ("x.jpg", SUSPECT, BORDER),
                                   ("y.png", EXPECTED, ONE_PIXEL)):
        assert np.array_equal(find_mask(again, relative, kind=kind)[0], region)
    assert find_mask(again, "x.png", kind=SUSPECT) == (None, None)


def test_a_labelme_mask_box_larger_than_the_image_is_refused(tmp_path):
    """A few hundred bytes must not make the reader decode (allocate) a huge PNG."""
    big = np.zeros((2000, 3000), dtype=bool)
    document = {"imageHeight": 7, "imageWidth": 9, "shapes": [
        {"label": "x", "shape_type": "mask", "points": [[0, 0], [2999, 1999]],
         "mask": png_b64(big)}]}
    assert len(json.dumps(document)) < 40_000
    with pytest.raises(MaskError, match="larger than the image"):
        labelme_to_mask(document)


def test_a_region_of_many_components_is_one_exact_mask_shape() -> None:
    dots = np.zeros((40, 40), dtype=bool)
    dots[::2, ::2] = True                                   # 400 isolated pixels
    shapes = labelme_mask_shapes(dots, "suspect")
    assert len(shapes) == 1 and shapes[0]["points"] == [[0.0, 0.0], [38.0, 38.0]]
    assert np.array_equal(labelme_to_mask({"imageHeight": 40, "imageWidth": 40,
                                           "shapes": shapes}), dots)
    few = dots.copy()
    few[10:] = False                                        # 100 components: one shape each
    assert len(labelme_mask_shapes(few, "suspect")) == 100


def test_labelme_json_beside_the_images_and_a_masks_root(tmp_path, capsys):
    """OUT = DIR puts each JSON beside its image (where LabelMe looks); --masks on both ends."""
    root = tmp_path / "data"
    for relative in REGIONS:
        save_image(root / relative, 9, 7)
    masks = tmp_path / "masks"
    for relative, kinds in REGIONS.items():
        for kind, mask in kinds.items():
            write_mask(region_path(root, relative, kind, masks), mask)
    assert main(["masks", "export", "--root", str(root), "--masks", str(masks), "--format",
                 "labelme", "--out", str(root)]) == 0
    assert json.loads((root / "cls/b.json").read_text())["imagePath"] == "b.png"
    other = tmp_path / "other-masks"
    assert main(["masks", "import", str(root), "--format", "labelme", "--root", str(root),
                 "--masks", str(other)]) == 0
    capsys.readouterr()
    assert_same_regions(stored(root, other), stored(root, masks))
    assert not (root / ".leakview").exists()
