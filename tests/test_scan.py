"""End to end: `leakview scan` on a generated ImageFolder with masks and a tiny trained model."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from leakview.cli import main
from leakview.csvio import CSV_COLUMNS, IncrementalCsv, partial_path, read_csv
from leakview.pipeline import SCAN_COLUMNS
from leaky_folder import SIZE, train_tiny, write_leaky_folder

CLASS_COLOURS = {"red": (230, 30, 30), "blue": (30, 30, 230)}


def _write_leaky_folder(root: Path, per_class: int, mask_corner: bool) -> Path:
    return write_leaky_folder(root, CLASS_COLOURS, per_class, mask_corner)


@pytest.fixture(scope="module")
def leaky_setup(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("scan")
    data = _write_leaky_folder(base / "data", per_class=10, mask_corner=False)
    return data, train_tiny(data, base / "leaky.pt")


def _scan(args: list[str]) -> int:
    return main(["scan", *args, "--device", "cpu", "--batch-size", "4"])


def _rows(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.reader(stream))


def test_scan_writes_exact_header_and_a_row_per_image_and_method(leaky_setup, tmp_path) -> None:
    data, model = leaky_setup
    out = tmp_path / "out.csv"
    summary = tmp_path / "summary.json"
    assert _scan([str(data), "--model", str(model), "--methods", "saliency,gradcam",
                  "--csv", str(out), "--summary", str(summary),
                  "--maps", str(tmp_path / "maps")]) == 0
    rows = _rows(out)
    assert tuple(rows[0][:len(CSV_COLUMNS)]) == CSV_COLUMNS
    assert len(rows) == 1 + 20 * 2
    assert {row[4] for row in rows[1:]} == {"saliency", "gradcam"}
    assert rows[1][0] == "blue/blue0.png" and rows[1][1] == "blue"
    saved = np.load(tmp_path / "maps" / "blue" / "blue0.png.saliency.npy")
    assert saved.shape == (SIZE, SIZE) and saved.dtype == np.float32
    verdict = json.loads(summary.read_text())
    assert verdict["methods"]["saliency"]["images"] == 20
    assert not partial_path(out).exists()


def test_fail_on_leak_returns_3_for_the_leaky_model(leaky_setup, tmp_path) -> None:
    data, model = leaky_setup
    status = _scan([str(data), "--model", str(model), "--csv", str(tmp_path / "a.csv"),
                    "--fail-on-leak"])
    assert status == 3
    flags = [row["leak_flag"] for row in read_csv(tmp_path / "a.csv")]
    assert flags.count("1") >= 11  # most saliency sits on the corner, not on the centre mask


def test_masks_on_the_real_cue_pass_the_gate(leaky_setup, tmp_path) -> None:
    data, model = leaky_setup
    honest = _write_leaky_folder(tmp_path / "corner-masks", per_class=10, mask_corner=True)
    assert _scan([str(honest), "--model", str(model), "--csv", str(tmp_path / "b.csv"),
                  "--fail-on-leak"]) == 0
    flags = [row["leak_flag"] for row in read_csv(tmp_path / "b.csv")]
    assert flags.count("1") <= 4


def test_resume_completes_without_duplicates(leaky_setup, tmp_path) -> None:
    data, model = leaky_setup
    full = tmp_path / "full.csv"
    assert _scan([str(data), "--model", str(model), "--csv", str(full)]) == 0
    expected = _rows(full)
    # Simulate a scan killed mid-way: a partial file with 7 complete rows and a torn one.
    out = tmp_path / "resumed.csv"
    text = full.read_text(encoding="utf-8").splitlines(keepends=True)
    partial_path(out).write_text("".join(text[:8]) + text[8][:15], encoding="utf-8")
    assert _scan([str(data), "--model", str(model), "--csv", str(out), "--resume"]) == 0
    resumed = _rows(out)
    assert resumed[0] == expected[0]
    assert sorted(resumed[1:]) == sorted(expected[1:])
    assert len({tuple(row[:6]) for row in resumed[1:]}) == len(resumed) - 1


def test_shards_merge_to_the_same_rows(leaky_setup, tmp_path) -> None:
    data, model = leaky_setup
    whole = tmp_path / "whole.csv"
    assert _scan([str(data), "--model", str(model), "--csv", str(whole)]) == 0
    parts = []
    for index in (1, 2, 3):
        part = tmp_path / f"part{index}.csv"
        assert _scan([str(data), "--model", str(model), "--csv", str(part),
                      "--shard", f"{index}/3"]) == 0
        parts.append(str(part))
    assert sum(len(_rows(Path(part))) - 1 for part in parts) == 20
    merged = tmp_path / "merged.csv"
    assert main(["merge", *parts, parts[0], "-o", str(merged)]) == 0
    assert _rows(merged) == _rows(whole)


def test_corrupt_image_becomes_an_error_row(leaky_setup, tmp_path) -> None:
    data, model = leaky_setup
    broken = tmp_path / "broken"
    (broken / "red").mkdir(parents=True)
    (broken / "blue").mkdir()
    (broken / "red" / "cut.png").write_bytes(
        (data / "red" / "red0.png").read_bytes()[:60])
    Image.open(data / "blue" / "blue0.png").save(broken / "blue" / "fine.png")
    (broken / "red" / "=SUM(A1).png").write_bytes((data / "red" / "red1.png").read_bytes())
    (broken / "=cmd.png").write_bytes((data / "red" / "red1.png").read_bytes())
    out = tmp_path / "c.csv"
    assert _scan([str(broken), "--model", str(model), "--csv", str(out)]) == 0
    rows = {row["image"]: row for row in read_csv(out)}
    assert "red/cut.png" not in rows["red/cut.png"]["error"] and rows["red/cut.png"]["error"]
    assert rows["red/cut.png"]["predicted"] == ""
    assert rows["blue/fine.png"]["error"] == "" and rows["blue/fine.png"]["predicted"]
    assert "'=cmd.png" in rows  # formula neutralised
    assert rows["red/=SUM(A1).png"]["label"] == "red"


def test_bad_arguments_exit_2(leaky_setup, tmp_path) -> None:
    data, model = leaky_setup
    out = str(tmp_path / "x.csv")
    assert _scan([str(data), "--model", str(model), "--csv", out, "--methods", "nope"]) == 2
    assert _scan([str(data), "--model", str(model), "--csv", out, "--shard", "4/3"]) == 2
    assert _scan([str(tmp_path / "absent"), "--model", str(model), "--csv", out]) == 2
    assert _scan([str(data), "--model", str(tmp_path / "absent.pt"), "--csv", out]) == 1


def test_incremental_csv_replaces_only_when_finished(tmp_path) -> None:
    out = tmp_path / "r.csv"
    out.write_text("previous complete file\n")
    writer = IncrementalCsv(out, SCAN_COLUMNS)
    writer.write([{"image": "a.png", "method": "saliency", "mass_in_mask": float("nan")}])
    assert out.read_text() == "previous complete file\n"
    writer.finish()
    rows = read_csv(out)
    assert rows[0]["image"] == "a.png" and rows[0]["mass_in_mask"] == ""


def test_a_relative_folder_finds_its_masks(leaky_setup, tmp_path, monkeypatch) -> None:
    """Regression: `leakview scan data` (relative) once looked for masks under data/data/."""
    data, model = leaky_setup
    monkeypatch.chdir(data.parent)
    out = tmp_path / "relative.csv"
    assert _scan([data.name, "--model", str(model), "--csv", str(out)]) == 0
    rows = read_csv(out)
    assert len(rows) == 20
    assert all(float(row["mask_area_frac"]) > 0 for row in rows)
