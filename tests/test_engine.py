"""The one scan engine: explain_batch, find_mask, typed ScanRows at the CSV boundary, and the
atlas fed by the scan's own maps (`leakview scan --atlas`, `leakview atlas`)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from leakview.attribution import explain, explain_batch, registry
from leakview.cli import main
from leakview.csvio import CsvFormatError, format_cell, read_csv
from leakview.masks import MaskError, find_mask, mask_path, write_mask
from leakview.models import load_model
from leakview.scanrow import SCAN_COLUMNS, ScanRow, read_scan_rows
from leaky_folder import train_tiny, write_leaky_folder

COLOURS = {"green": (30, 200, 30), "violet": (160, 30, 200)}


@pytest.fixture(scope="module")
def setup(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("engine")
    data = write_leaky_folder(base / "data", COLOURS, per_class=6)
    return data, train_tiny(data, base / "leaky.pt")


class SaliencySpy:
    """Counts the images the batched saliency kernel is asked for (the real kernel runs)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.images = 0
        self.real = registry.saliency_batch
        monkeypatch.setattr(registry, "saliency_batch", self)

    def __call__(self, model, images, targets=None):
        self.images += len(images)
        return self.real(model, images, targets)


def test_scan_with_atlas_computes_each_map_once_and_matches_the_atlas_command(
        setup, tmp_path, monkeypatch) -> None:
    data, model = setup
    common = ["--model", str(model), "--device", "cpu", "--batch-size", "5"]
    spy = SaliencySpy(monkeypatch)
    assert main(["scan", str(data), "--csv", str(tmp_path / "scan.csv"), "--atlas",
                 str(tmp_path / "scan-atlas.png"), "--atlas-json", str(tmp_path / "scan.json"),
                 *common]) == 0
    assert spy.images == 12            # one map per image: the atlas reuses the scan's maps
    assert main(["atlas", str(data), "--out", str(tmp_path / "atlas.png"), "--json",
                 str(tmp_path / "atlas.json"), *common]) == 0
    assert spy.images == 24            # the atlas command is one more scan, not two
    assert main(["scan", str(data), "--csv", str(tmp_path / "plain.csv"), *common]) == 0
    # Same figure, same numbers; and the CSV is the one a plain scan writes.
    assert (tmp_path / "scan-atlas.png").read_bytes() == (tmp_path / "atlas.png").read_bytes()
    assert json.loads((tmp_path / "scan.json").read_text()) == json.loads(
        (tmp_path / "atlas.json").read_text())
    assert (tmp_path / "scan.csv").read_bytes() == (tmp_path / "plain.csv").read_bytes()
    assert json.loads((tmp_path / "atlas.json").read_text())["images"] == 12


def test_scan_atlas_with_several_methods_writes_one_atlas_each(setup, tmp_path) -> None:
    data, model = setup
    assert main(["scan", str(data), "--csv", str(tmp_path / "s.csv"), "--methods",
                 "saliency,gradcam", "--atlas", str(tmp_path / "a.png"), "--model", str(model),
                 "--device", "cpu"]) == 0
    assert (tmp_path / "a.saliency.png").is_file() and (tmp_path / "a.gradcam.png").is_file()
    assert not (tmp_path / "a.png").exists()


def test_atlas_cannot_resume(setup, tmp_path, capsys) -> None:
    data, model = setup
    code = main(["scan", str(data), "--csv", str(tmp_path / "s.csv"), "--resume", "--atlas",
                 str(tmp_path / "a.png"), "--model", str(model), "--device", "cpu"])
    assert code == 2 and "--resume" in capsys.readouterr().err
    assert not (tmp_path / "a.png").exists() and not (tmp_path / "s.csv").exists()


def test_explain_batch_is_explain_per_image(setup) -> None:
    data, model_path = setup
    model = load_model(model_path, device="cpu")
    images = [np.asarray(Image.open(path).convert("RGB"))
              for path in sorted((data / "green").glob("*.png"))[:3]]
    batched = explain_batch(model, images, "saliency", [0, None, 1])
    for image, target, attribution in zip(images, [0, None, 1], batched):
        single = explain(model, image, "saliency", target=target)
        assert attribution.target == single.target
        np.testing.assert_allclose(attribution.map, single.map, rtol=1e-4, atol=1e-6)
    lime = explain_batch(model, images[:2], "lime", samples=30, seed=3)
    for image, attribution in zip(images[:2], lime):
        np.testing.assert_array_equal(attribution.map,
                                      explain(model, image, "lime", samples=30, seed=3).map)
    with pytest.raises(ValueError, match="2 targets for 3 images"):
        explain_batch(model, images, "saliency", [0, 1])


def test_find_mask(tmp_path) -> None:
    image = tmp_path / "a" / "b.png"
    image.parent.mkdir()
    assert find_mask(tmp_path, image) == (None, None)
    mask = np.zeros((4, 5), bool)
    mask[1:3, 1:4] = True
    write_mask(mask_path(tmp_path, image), mask)
    found, problem = find_mask(tmp_path, "a/b.png", shape=(4, 5))
    assert problem is None and np.array_equal(found, mask)
    found, problem = find_mask(tmp_path, image, shape=(5, 5))
    assert found is None and isinstance(problem, MaskError)
    assert problem.path == mask_path(tmp_path, image) and "5x5" in problem.reason
    other = tmp_path / "elsewhere"
    write_mask(other / "a" / "b.png.png", ~mask)
    found, _ = find_mask(tmp_path, image, masks_root=other, shape=(4, 5))
    assert np.array_equal(found, ~mask)


@pytest.mark.parametrize("name", ["=cmd.png", "'=quoted.png", "'plain.png", "-1.png", "x.png"])
def test_scan_row_round_trips_through_its_cells(name: str) -> None:
    row = ScanRow(image=name, label="'lab", predicted="+p", confidence=0.123456789,
                  method="lime", target="t", mass_in_mask=1e-7, leak_flag=0,
                  error="@bad", lime_top5_superpixel_share=math.inf)
    cells = row.cells()
    assert len(cells) == len(SCAN_COLUMNS) and cells[0] != "" and not cells[0].startswith("=")
    back = ScanRow.from_cells(dict(zip(SCAN_COLUMNS, cells)))
    assert back.cells() == cells                        # written again: the same bytes
    assert back != row                                  # 0.123456789 was written as 0.123457
    assert ScanRow.from_cells(dict(zip(SCAN_COLUMNS, back.cells()))) == back
    # the text comes back too, except for a name that itself starts with "'" + a formula
    # character: its cell is the same as the neutralised name's (resume compares cells)
    assert back.image == (name[1:] if name.startswith("'=") else name)
    assert back.predicted == "+p" and back.error == "@bad"
    assert back["leak_flag"] == 0 and math.isnan(back["auc"]) and dict(back)["label"] == "'lab"


def test_resume_keeps_names_that_start_with_a_quote(setup, tmp_path) -> None:
    """A name whose CSV cell needs the formula prefix (or starts with a quote) is recognised as
    done on --resume: no image is scanned twice and no row is duplicated."""
    data, model = setup
    folder = tmp_path / "odd"
    (folder / "green").mkdir(parents=True)
    sources = sorted((data / "green").glob("*.png"))
    for source, name in zip(sources, ["=a.png", "'=b.png", "'c.png", "d.png"]):
        (folder / "green" / name).write_bytes(source.read_bytes())
    out = tmp_path / "odd.csv"
    common = ["--csv", str(out), "--model", str(model), "--device", "cpu"]
    assert main(["scan", str(folder), *common]) == 0
    first = out.read_bytes()
    assert main(["scan", str(folder), "--resume", *common]) == 0
    assert out.read_bytes() == first
    assert sorted(row["image"] for row in read_csv(out)) == sorted(
        format_cell(f"green/{name}") for name in ["=a.png", "'=b.png", "'c.png", "d.png"])
    assert len(read_scan_rows(out)) == 4


def test_a_resumed_csv_with_a_bad_number_names_the_file_and_row(tmp_path) -> None:
    path = tmp_path / "bad.csv"
    row = ScanRow(image="x.png", method="saliency", mass_in_mask=0.5)
    cells = row.cells()
    cells[SCAN_COLUMNS.index("mass_in_mask")] = "lots"
    path.write_text(",".join(SCAN_COLUMNS) + "\n" + ",".join(cells) + "\n")
    assert read_csv(path)[0]["mass_in_mask"] == "lots"
    with pytest.raises(CsvFormatError, match="row 1 .*'x.png'.*lots") as caught:
        read_scan_rows(path)
    assert caught.value.path == path
