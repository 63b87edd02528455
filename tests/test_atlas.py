"""Class atlas: per-class mean maps, the hot-spot rule, the figure and `leakview atlas`."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import leaky_folder
from leakview.atlas import _Accumulator, _finish, _normalised, compute_atlas
from leakview.commands import atlas_cmd
from leakview.models import load_model
from leaky_folder import CORNER, SIZE, train_tiny

CLASS_COLOURS = {"blue": (30, 30, 230), "red": (230, 30, 30)}


def write_leaky_folder(root: Path, per_class: int = 10) -> Path:
    return leaky_folder.write_leaky_folder(root, CLASS_COLOURS, per_class)


@pytest.fixture(scope="module")
def leaky_setup(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("atlas")
    data = write_leaky_folder(base / "data")
    return data, train_tiny(data, base / "leaky.pt")


def test_atlas_of_a_leaky_model_puts_the_hot_spot_on_the_marker(leaky_setup) -> None:
    data, model_path = leaky_setup
    model = load_model(model_path, device="cpu")
    calls = []
    atlas = compute_atlas(model, data, progress=lambda done, total: calls.append((done, total)))
    assert atlas.frame == (SIZE, SIZE) and atlas.images == 20 and not atlas.errors
    assert calls[-1] == (20, 20)
    assert sum(entry.count + entry.empty_maps for entry in atlas.classes) == 20
    for entry in atlas.classes:
        if entry.count == 0:
            continue
        assert entry.mean_map.shape == (SIZE, SIZE)
        assert math.isclose(entry.mean_map.sum(), 1.0, rel_tol=1e-9)
        assert entry.mean_image.shape == (SIZE, SIZE, 3) and entry.mean_image.dtype == np.uint8
        # The hot spot sits on the corner marker, far from the centre mask.
        y0, x0, y1, x1 = entry.hot_box
        assert y1 <= CORNER + 2 and x1 <= CORNER + 2, entry.summary()
        assert entry.hot_centre[0] < 0.3 and entry.hot_centre[1] < 0.3
        assert entry.masked == entry.count
        assert entry.hot_outside_cells == 1.0 and entry.hot_spot_outside is True
        assert entry.mass_outside_masks > 0.5
    assert set(atlas.flagged()) == {e.name for e in atlas.classes if e.count}
    figure = atlas.figure()
    assert figure.ndim == 3 and figure.shape[2] == 3 and figure.dtype == np.uint8
    json.dumps(atlas.to_dict())


def test_atlas_command_writes_png_json_and_npz(leaky_setup, tmp_path, capsys) -> None:
    data, model_path = leaky_setup
    parser = argparse.ArgumentParser()
    atlas_cmd.register(parser.add_subparsers(dest="command"))
    out, js, npz = tmp_path / "atlas.png", tmp_path / "atlas.json", tmp_path / "atlas.npz"
    args = parser.parse_args(["atlas", str(data), "--model", str(model_path), "--out", str(out),
                              "--json", str(js), "--npz", str(npz), "--device", "cpu",
                              "--batch-size", "7"])
    assert args.func(args) == 0
    with Image.open(out) as image:
        assert image.mode == "RGB" and image.width >= 2 * SIZE
    described = json.loads(js.read_text())
    assert described["format"] == "leakview-atlas/1" and described["method"] == "saliency"
    assert described["images"] == 20 and len(described["classes"]) == 2
    assert described["rule"] == {"hot_fraction": 0.01, "outside_share": 0.9,
                                 "min_concentration": 3.0, "min_images": 3, "cell": 1}
    arrays = np.load(npz)
    name = next(c["class"] for c in described["classes"] if c["images"])
    assert arrays[f"{name}/mean_map"].shape == (SIZE, SIZE)
    assert "hot spot outside the expected region" in capsys.readouterr().out


def test_atlas_with_lime_and_without_masks(leaky_setup, tmp_path) -> None:
    data, model_path = leaky_setup
    model = load_model(model_path, device="cpu")
    plain = tmp_path / "plain"
    for name in CLASS_COLOURS:
        (plain / name).mkdir(parents=True)
        for index in range(2):
            (plain / name / f"{name}{index}.png").write_bytes(
                (data / name / f"{name}{index}.png").read_bytes())
    atlas = compute_atlas(model, plain, method="lime", method_options={"samples": 40},
                          frame=(16, 16))
    assert atlas.frame == (16, 16) and atlas.method_options == {"samples": 40}
    for entry in atlas.classes:
        assert entry.hot_spot_outside is None and entry.mask_coverage is None
        if entry.count:
            assert entry.mean_map.shape == (16, 16)
            assert math.isnan(entry.mass_outside_masks)


def test_cancel_between_batches(leaky_setup) -> None:
    from leakview.attribution import Cancelled

    data, model_path = leaky_setup
    model = load_model(model_path, device="cpu")
    with pytest.raises(Cancelled):
        compute_atlas(model, data, batch_size=4, should_stop=lambda: True)


def test_bad_arguments_raise_value_error(leaky_setup) -> None:
    data, model_path = leaky_setup
    model = load_model(model_path, device="cpu")
    with pytest.raises(ValueError):
        compute_atlas(model, data, method="no-such-method")
    with pytest.raises(ValueError):
        compute_atlas(model, data, hot_fraction=0)


def test_maps_are_normalised_so_bright_images_do_not_dominate() -> None:
    dim = np.zeros((4, 4), np.float32)
    dim[0, 0] = 0.001
    bright = np.zeros((4, 4), np.float32)
    bright[3, 3] = 1000.0
    acc = _Accumulator((4, 4))
    image = np.zeros((4, 4, 3), np.uint8)
    for raw in (dim, bright):
        acc.add(_normalised(raw, (4, 4)), image, None, 0, None)
    acc.add(_normalised(-np.ones((4, 4), np.float32), (4, 4)), image, None, 0, None)
    entry = _finish("a", 0, acc, 0.0625, 0.9, 5.0)
    assert entry.count == 2 and entry.empty_maps == 1
    assert entry.mean_map[0, 0] == pytest.approx(0.5) and entry.mean_map[3, 3] == pytest.approx(0.5)
    # a map at another resolution is resized to the frame and still sums to 1
    assert _normalised(np.ones((8, 8), np.float32), (4, 4)).sum() == pytest.approx(1.0)


def _synthetic(maps: list[np.ndarray], masks: list[np.ndarray | None], **rule) -> object:
    acc = _Accumulator(maps[0].shape)
    image = np.zeros((*maps[0].shape, 3), np.uint8)
    for raw, mask in zip(maps, masks):
        acc.add(_normalised(raw, raw.shape), image, 0, 0, mask)
    return _finish("a", 0, acc, rule.get("hot_fraction", 0.01), rule.get("outside_share", 0.9),
                   rule.get("min_concentration", 3.0), None, rule.get("min_images", 3))


def test_hot_spot_rule() -> None:
    rng = np.random.default_rng(0)
    centre = np.zeros((40, 40), bool)
    centre[10:30, 10:30] = True
    # A consistent corner spot outside every mask: flagged.
    corner_maps = []
    for _ in range(5):
        raw = rng.uniform(0, 0.1, (40, 40)).astype(np.float32)
        raw[:4, :4] += 10
        corner_maps.append(raw)
    entry = _synthetic(corner_maps, [centre] * 5)
    assert entry.hot_spot_outside is True and entry.hot_box == (0, 0, 4, 4)
    assert entry.hot_concentration > 5 and entry.mass_outside_union > 0.9
    # Too few masked images for a verdict: undetermined, unless the rule allows it.
    assert _synthetic(corner_maps[:2], [centre] * 2).hot_spot_outside is None
    assert _synthetic(corner_maps[:2], [centre] * 2, min_images=2).hot_spot_outside is True
    # The same spot inside the masks: not flagged.
    corner_mask = np.zeros((40, 40), bool)
    corner_mask[:6, :6] = True
    entry = _synthetic(corner_maps, [corner_mask] * 5)
    assert entry.hot_spot_outside is False and entry.hot_outside_cells == 0.0
    # A diffuse map has no consistent hot spot: not flagged even though it lies outside.
    diffuse = [rng.uniform(0, 1, (40, 40)).astype(np.float32) for _ in range(5)]
    entry = _synthetic(diffuse, [centre] * 5)
    assert entry.hot_concentration < 3 and entry.hot_spot_outside is False
    # The spot outside only in some images (masks that sometimes cover it): X = 90% not met.
    entry = _synthetic(corner_maps, [centre, centre, corner_mask, corner_mask, centre])
    assert entry.hot_outside_rate == pytest.approx(0.6) and entry.hot_spot_outside is False
    # No masks: undetermined.
    entry = _synthetic(corner_maps, [None] * 5)
    assert entry.hot_spot_outside is None and entry.masked == 0


def test_masks_are_found_under_a_relative_root(leaky_setup, monkeypatch) -> None:
    data, model_path = leaky_setup
    model = load_model(model_path, device="cpu")
    monkeypatch.chdir(data.parent)
    atlas = compute_atlas(model, Path(data.name))
    assert sum(entry.masked for entry in atlas.classes) == sum(
        entry.count for entry in atlas.classes) > 0


def test_bundled_demo_atlas_flags_the_leaky_model_only() -> None:
    """The README's atlas figures: demo-clean shows no consistent hot spot off the cargo on the
    bundled demo images; demo-leaky shows one on the corner marker for most classes."""
    from leakview.resources import demo_images_dir, demo_model_path

    flagged = {}
    for kind in ("clean", "leaky"):
        atlas = compute_atlas(load_model(demo_model_path(kind), device="cpu"), demo_images_dir())
        assert atlas.images == 40 and not atlas.errors
        flagged[kind] = set(atlas.flagged())
    assert flagged["clean"] == set()
    assert len(flagged["leaky"]) >= 3, flagged
