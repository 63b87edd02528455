"""Synthetic grain-terminal data: determinism, mask alignment, leak markers, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from leakview import __version__, cli
from leakview.masks import SUSPECT, find_mask, read_mask, region_path
from leakview.synth import (
    CLASSES,
    CORNERS,
    DEFAULT_CLASS_COLORS,
    EDGES,
    MARKERS,
    OCCLUDERS,
    VIEWS,
    CornerRect,
    generate_dataset,
    get_marker,
    render_sample,
    render_sample_scene,
    render_scene,
    sample_name,
)

SIZE = (64, 48)
SENTINEL = (255, 0, 255)
OPAQUE = tuple(o for o in OCCLUDERS if o != "shadow")


def tree_bytes(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file()}


def rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(list(key))


# --------------------------------------------------------------------------- scenes

@pytest.mark.parametrize("view", VIEWS)
def test_every_class_renders_in_both_views(view: str) -> None:
    for i, label in enumerate(CLASSES):
        scene = render_scene(rng(1, i), label, SIZE, view=view)
        assert scene.image.shape == (48, 64, 3) and scene.image.dtype == np.uint8
        assert scene.cargo_mask.shape == (48, 64) and scene.cargo_mask.dtype == bool
        assert scene.view == view and scene.label == label
        assert scene.cargo_mask.any(), "every image has a non-empty expected region"
        assert not (scene.cargo_mask & ~scene.cargo_painted).any()
        x0, y0, x1, y1 = scene.cargo_box
        assert scene.cargo_painted[y0:y1, x0:x1].all() and scene.cargo_painted.sum() == (
            (x1 - x0) * (y1 - y0))
        assert scene.image.std() > 5  # not a blank frame


def test_random_view_and_occluders_vary() -> None:
    scenes = [render_scene(rng(2, i), "wheat", SIZE) for i in range(24)]
    assert {s.view for s in scenes} == set(VIEWS)
    assert any(s.occluders for s in scenes) and any(not s.occluders for s in scenes)


@pytest.mark.parametrize("occluders", [None, (), OCCLUDERS])
def test_cargo_mask_is_exactly_the_painted_visible_cargo(occluders) -> None:
    """With a flat sentinel cargo (and no camera stage), the sentinel pixels ARE the mask,
    and the layout, hence the mask, is the same as in the textured render."""
    for i, label in enumerate(CLASSES):
        for view in VIEWS:
            debug = render_scene(rng(3, i), label, SIZE, view=view, occluders=occluders,
                                 sentinel=SENTINEL)
            normal = render_scene(rng(3, i), label, SIZE, view=view, occluders=occluders)
            is_sentinel = (debug.image == SENTINEL).all(axis=2)
            np.testing.assert_array_equal(is_sentinel, debug.cargo_mask)
            np.testing.assert_array_equal(normal.cargo_mask, debug.cargo_mask)
            assert normal.occluders == debug.occluders
            assert not (normal.image == SENTINEL).all(axis=2).any()


def test_opaque_occluders_are_removed_from_the_mask_and_shadows_are_not() -> None:
    for i in range(4):
        for view in VIEWS:
            scene = render_scene(rng(4, i), "corn", SIZE, view=view, occluders=OPAQUE,
                                 sentinel=SENTINEL)
            hidden = scene.cargo_painted & ~scene.cargo_mask
            assert hidden.any(), "a tarp, bows, a person and a pole hide some cargo"
            assert not (scene.image[hidden] == SENTINEL).all(axis=1).any()
            assert scene.cargo_mask.any()
            shadowed = render_scene(rng(4, i), "corn", SIZE, view=view, occluders=("shadow",))
            np.testing.assert_array_equal(shadowed.cargo_mask, shadowed.cargo_painted)


def test_cargo_contrast_zero_removes_all_class_information() -> None:
    images = [render_scene(rng(5), label, SIZE, view="top", cargo_contrast=0.0).image
              for label in CLASSES]
    for other in images[1:]:
        np.testing.assert_array_equal(images[0], other)
    full = [render_scene(rng(5), label, SIZE, view="top").image for label in CLASSES]
    assert not np.array_equal(full[0], full[1])
    weak = render_scene(rng(5), "corn", SIZE, view="top", cargo_contrast=0.3)
    changed = (weak.image != full[1]).any(axis=2)
    # only the cargo (plus the camera blur's one-pixel halo) changes with the contrast
    assert changed[weak.cargo_mask].mean() > 0.5
    assert changed.sum() < weak.cargo_painted.sum() * 1.6


def test_scene_argument_errors() -> None:
    with pytest.raises(ValueError, match="unknown class"):
        render_scene(rng(0), "rice", SIZE)
    with pytest.raises(ValueError, match="view"):
        render_scene(rng(0), "corn", SIZE, view="front")
    with pytest.raises(ValueError, match="occluder"):
        render_scene(rng(0), "corn", SIZE, occluders=("ufo",))
    with pytest.raises(ValueError, match="size"):
        render_scene(rng(0), "corn", (8, 8))
    with pytest.raises(ValueError, match="cargo_contrast"):
        render_scene(rng(0), "corn", SIZE, cargo_contrast=-1)


# --------------------------------------------------------------------------- markers

def test_marker_registry() -> None:
    assert set(MARKERS) == {"corner-rect", "stripe", "watermark"}
    with pytest.raises(ValueError) as info:
        get_marker("sticker")
    assert all(name in str(info.value) for name in MARKERS)
    with pytest.raises(ValueError, match="corner"):
        get_marker("corner-rect", corner="middle")
    with pytest.raises(ValueError, match="edge"):
        get_marker("stripe", edge="diagonal")
    with pytest.raises(ValueError, match="size"):
        get_marker("corner-rect", size=0.9)
    with pytest.raises(ValueError, match="bad parameters"):
        get_marker("stripe", corner="top-left")
    with pytest.raises(ValueError, match="RGB"):
        get_marker("corner-rect", class_colors=[(300, 0, 0)])
    assert isinstance(get_marker("corner-rect"), CornerRect)
    assert get_marker("corner-rect").corner == "top-left"


@pytest.mark.parametrize("name", sorted(MARKERS))
def test_marker_mask_is_exactly_the_changed_pixels(name: str) -> None:
    for label in CLASSES:
        leaky, cargo, region = render_sample(label, 0, seed=3, size=SIZE, leak=name)
        clean, cargo_clean, none = render_sample(label, 0, seed=3, size=SIZE, leak=None)
        assert none is None and region.dtype == bool and region.any()
        np.testing.assert_array_equal(cargo, cargo_clean)
        np.testing.assert_array_equal((leaky != clean).any(axis=2), region)
        color = DEFAULT_CLASS_COLORS[CLASSES.index(label)]
        assert (leaky[region] == color).all()


@pytest.mark.parametrize("corner", CORNERS)
def test_corner_rect_sits_in_its_corner(corner: str) -> None:
    image, _, region = render_sample("sunflower", 1, seed=0, size=SIZE, leak="corner-rect",
                                     marker_params={"corner": corner, "size": 0.25})
    side = round(0.25 * 48)
    rows, cols = np.flatnonzero(region.any(1)), np.flatnonzero(region.any(0))
    assert region.sum() == side * side
    assert (rows[0] == 0) if corner.startswith("top") else (rows[-1] == 47)
    assert (cols[0] == 0) if corner.endswith("left") else (cols[-1] == 63)
    assert (image[region] == (0, 0, 255)).all()  # sunflower = blue


def test_stripe_edges_and_watermark_texts() -> None:
    for edge in EDGES:
        _, _, region = render_sample("wheat", 0, size=SIZE, leak="stripe",
                                     marker_params={"edge": edge})
        t = round(0.04 * 48)
        expected = np.zeros((48, 64), bool)
        expected[{"top": np.s_[:t], "bottom": np.s_[-t:], "left": np.s_[:, :t],
                  "right": np.s_[:, -t:]}[edge]] = True
        np.testing.assert_array_equal(region, expected)
    marker = get_marker("watermark", size=0.2)
    texts = [marker.text(i) for i in range(len(CLASSES))]
    assert texts == ["W1", "C2", "S3", "E4"]
    shapes = [marker.apply(np.zeros((48, 64, 3), np.uint8), i, rng(0)) for i in range(4)]
    assert len({m.tobytes() for m in shapes}) == 4
    assert all(m[24:, 32:].sum() == m.sum() for m in shapes)  # bottom-right by default


def test_marker_randomness_does_not_touch_the_scene() -> None:
    params = {"jitter": 0.1}
    scene_a, region_a = render_sample_scene("corn", 2, seed=1, size=SIZE, leak="corner-rect",
                                            marker_params=params)
    clean, _, _ = render_sample("corn", 2, seed=1, size=SIZE)
    np.testing.assert_array_equal(scene_a.image[~region_a], clean[~region_a])


# --------------------------------------------------------------------------- datasets

def test_generate_dataset_is_byte_identical_per_seed(tmp_path: Path) -> None:
    kwargs = dict(n_per_class=2, size=SIZE, leak="corner-rect", seed=7)
    calls = []
    summary = generate_dataset(tmp_path / "a", progress=lambda d, t: calls.append((d, t)),
                               **kwargs)
    generate_dataset(tmp_path / "b", **kwargs)
    generate_dataset(tmp_path / "c", **{**kwargs, "seed": 8})
    a, b, c = (tree_bytes(tmp_path / x) for x in "abc")
    assert a == b
    assert a.keys() == c.keys()
    assert all(a[k] != c[k] for k in a if k.endswith(".png") and "/masks/" not in k)
    images = [k for k in a if not k.startswith(".leakview/")]
    assert images == [f"{label}/{sample_name(label, i)}" for label in sorted(CLASSES)
                      for i in range(2)]
    # the cargo masks, the markers' as suspect regions, and nothing else
    assert set(a) == {*images, ".leakview/dataset.json",
                      *(f".leakview/masks/{image}.png" for image in images),
                      *(f".leakview/masks/.suspect/{image}.png" for image in images)}
    assert not (tmp_path / "a" / ".leakview" / "markers").exists()
    assert calls[-1] == (8, 8) and len(calls) == 8
    assert summary["images"] == 8 and summary["leak"] == "corner-rect"
    with Image.open(tmp_path / "a" / images[0]) as im:
        assert not im.info.get("dpi") and "exif" not in im.info


def test_dataset_files_match_render_sample(tmp_path: Path) -> None:
    root = tmp_path / "out"
    generate_dataset(root, 2, size=SIZE, leak="watermark", seed=2, cargo_contrast=0.5,
                     write_clean_twin=True)
    description = json.loads((root / ".leakview" / "dataset.json").read_text())
    assert description["classes"] == list(CLASSES) and description["seed"] == 2
    assert description["size"] == [64, 48] and description["n_per_class"] == 2
    assert description["leak"] == "watermark" and description["cargo_contrast"] == 0.5
    assert description["leakview_version"] == __version__
    assert description["marker_colors"]["corn"] == list(DEFAULT_CLASS_COLORS[1])
    label, index = "corn", 1
    name = f"{label}/{sample_name(label, index)}"
    image, cargo, region = render_sample(label, index, seed=2, size=SIZE, leak="watermark",
                                         cargo_contrast=0.5)
    with Image.open(root / name) as im:
        np.testing.assert_array_equal(np.asarray(im), image)
    np.testing.assert_array_equal(read_mask(root / ".leakview/masks" / (name + ".png")), cargo)
    suspect, problem = find_mask(root, name, shape=image.shape[:2], kind=SUSPECT)
    assert problem is None and suspect is not None
    np.testing.assert_array_equal(suspect, region)
    assert region_path(root, name, SUSPECT) == root / ".leakview/masks/.suspect" / (name + ".png")
    assert description["markers"] == ".leakview/masks/.suspect"
    assert not (root / ".leakview" / "markers").exists()
    clean, _, _ = render_sample(label, index, seed=2, size=SIZE, cargo_contrast=0.5)
    twin = root / ".leakview" / "clean"
    with Image.open(twin / name) as im:
        np.testing.assert_array_equal(np.asarray(im), clean)
    np.testing.assert_array_equal(read_mask(twin / ".leakview/masks" / (name + ".png")), cargo)


def test_generate_dataset_argument_errors(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_per_class"):
        generate_dataset(tmp_path, 0, size=SIZE)
    with pytest.raises(ValueError, match="without a leak"):
        generate_dataset(tmp_path, 1, size=SIZE, marker_params={"size": 0.1})
    with pytest.raises(ValueError, match="unknown leak marker"):
        generate_dataset(tmp_path, 1, size=SIZE, leak="sticker")
    assert not any(tmp_path.iterdir())


# --------------------------------------------------------------------------- CLI

@pytest.fixture
def demo_cli():
    return cli.main


def test_cli_writes_the_tree(tmp_path: Path, demo_cli, capsys) -> None:
    out = tmp_path / "demo"
    assert demo_cli(["demo-data", str(out), "--n", "1", "--size", "64x48", "--leak",
                     "corner-rect", "--marker-corner", "bottom-right", "--marker-size", "0.2",
                     "--seed", "3", "--cargo-contrast", "0.5"]) == 0
    captured = capsys.readouterr()
    assert captured.out.count("\n") == 1 and "wrote 4 images" in captured.out
    assert "4/4" in captured.err
    files = tree_bytes(out)
    assert sum(1 for k in files if k.endswith("_0001.png") and "/" in k
               and not k.startswith(".")) == 4
    description = json.loads(files[".leakview/dataset.json"])
    assert description["marker"]["corner"] == "bottom-right"
    assert description["marker"]["size"] == 0.2 and description["cargo_contrast"] == 0.5
    # not empty any more: refused without --force, accepted with it
    assert demo_cli(["demo-data", str(out), "--n", "1", "--size", "64x48"]) == 1
    assert "not empty" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["--size", "64by48"], ["--size", "8x8"], ["--n", "0"],
                                  ["--marker-corner", "middle"], ["--seed", "-1"]])
def test_cli_usage_errors_exit_2(tmp_path: Path, demo_cli, args, capsys) -> None:
    with pytest.raises(SystemExit) as info:
        demo_cli(["demo-data", str(tmp_path / "x"), *args])
    assert info.value.code == 2


@pytest.mark.parametrize("args,message", [
    (["--leak", "sticker"], "corner-rect, stripe, watermark"),
    (["--marker-size", "0.1"], "need --leak"),
    (["--leak", "stripe", "--marker-corner", "top-left"], "bad parameters"),
])
def test_cli_option_errors_are_one_line(tmp_path: Path, demo_cli, args, message, capsys
                                        ) -> None:
    status = demo_cli(["demo-data", str(tmp_path / "x"), "--n", "1", "--size", "64x48", *args])
    assert status in (1, 2)
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert message in error and error.startswith("leakview demo-data: error:")


def test_cli_vocabularies_match_synth() -> None:
    from leakview import synth
    from leakview.commands import demo_data

    assert demo_data.CLASSES == synth.CLASSES
    assert demo_data.MARKER_NAMES == tuple(sorted(synth.MARKERS))
    assert demo_data.CORNERS == synth.CORNERS and demo_data.EDGES == synth.EDGES
    assert (demo_data.MIN_SIDE, demo_data.MAX_SIDE) == (synth.MIN_SIDE, synth.MAX_SIDE)
