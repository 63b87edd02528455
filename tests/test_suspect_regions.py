"""Suspect regions in the headless core: the ``suspect_*`` CSV columns of ``leakview scan``
(overlap metrics against ``MASKS_ROOT/.suspect/<image>.png``), a bad suspect file as the row's
error, ``--resume`` / ``merge`` / older CSVs, the suspect rule and the combined ``leak_flag``,
``--max-suspect-share`` and the summary's suspect keys."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from leakview.attribution import Attribution
from leakview.cli import main
from leakview.csvio import CSV_COLUMNS, merge_csv, partial_path, read_csv
from leakview.masks import SUSPECT, mask_path, region_path, write_mask
from leakview.metrics import overlap_metrics
from leakview.report import summarize
from leakview.scan import score_attribution
from leakview.scanrow import SCAN_COLUMNS, SUPERPIXEL_SHARE_COLUMN, ScanRow, read_scan_rows
from leakview.verdict import (
    VerdictRule,
    expected_flag,
    leak_flag,
    rejudge,
    suspect_flag,
    suspect_threshold,
)

SUSPECT_COLUMNS = ("suspect_area_frac", "suspect_mass", "suspect_topk_share", "suspect_flag")
SIZE = 32
#: images with a suspect region (the top-left corner, 16% of the image); dog_2 has none
WITH_SUSPECT = ("cat/cat_0.png", "cat/cat_1.png", "cat/cat_2.png", "dog/dog_0.png",
                "dog/dog_1.png")


@pytest.fixture(scope="module")
def suspect_folder(tmp_path_factory) -> tuple[Path, Path]:
    """6 noise images of two classes, each with an expected mask (the centre) and all but
    ``dog/dog_2.png`` with a suspect region (the corner), and a tiny untrained model."""
    import torch

    from leakview.models import build_architecture, save_bundle

    root = tmp_path_factory.mktemp("suspect")
    images = root / "images"
    rng = np.random.default_rng(5)
    centre = np.zeros((SIZE, SIZE), bool)
    centre[10:26, 10:26] = True
    corner = np.zeros((SIZE, SIZE), bool)
    corner[:13, :13] = True
    for label in ("cat", "dog"):
        (images / label).mkdir(parents=True)
        for index in range(3):
            name = f"{label}/{label}_{index}.png"
            pixels = rng.integers(0, 255, size=(SIZE, SIZE, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(images / name)
            write_mask(mask_path(images, images / name), centre)
            if name in WITH_SUSPECT:
                write_mask(region_path(images, images / name, SUSPECT), corner)
    torch.manual_seed(0)
    model = root / "tiny.pt"
    save_bundle(model, build_architecture("mobilenet_v3_small", 2, (SIZE, SIZE)),
                "mobilenet_v3_small", ["cat", "dog"], (SIZE, SIZE))
    return images, model


def _scan(folder: Path, model: Path, csv: Path, *extra: str) -> int:
    return main(["scan", str(folder), "--model", str(model), "--csv", str(csv),
                 "--device", "cpu", "--batch-size", "4", *extra])


def test_scan_writes_the_suspect_columns_with_the_overlap_metrics(suspect_folder, tmp_path,
                                                                  capsys) -> None:
    folder, model = suspect_folder
    out = tmp_path / "out.csv"
    assert _scan(folder, model, out, "--maps", str(tmp_path / "maps"),
                 "--summary", str(tmp_path / "s.json")) == 0
    header = out.read_text(encoding="utf-8").splitlines()[0].split(",")
    lime = header.index(SUPERPIXEL_SHARE_COLUMN)
    assert tuple(header[lime + 1:lime + 5]) == SUSPECT_COLUMNS
    assert tuple(header[:len(CSV_COLUMNS)]) == CSV_COLUMNS
    rows = {row["image"]: row for row in read_csv(out)}
    assert set(rows) == {*WITH_SUSPECT, "dog/dog_2.png"}
    for column in SUSPECT_COLUMNS:                     # no suspect region: empty cells
        assert rows["dog/dog_2.png"][column] == ""
    rule = VerdictRule()
    for name in WITH_SUSPECT:
        row = rows[name]
        assert row["error"] == ""
        assert float(row["suspect_area_frac"]) == pytest.approx(13 * 13 / SIZE ** 2, abs=1e-6)
        # by hand: the saved map against the suspect file, with the metrics module
        saliency = np.load(tmp_path / "maps" / f"{name}.saliency.npy")
        corner = np.asarray(Image.open(region_path(folder, folder / name, SUSPECT))) > 0
        metrics = overlap_metrics(saliency, corner)
        assert float(row["suspect_mass"]) == pytest.approx(metrics["mass_in_mask"], rel=1e-5)
        assert float(row["suspect_topk_share"]) == pytest.approx(metrics["topk_intersection"],
                                                                 rel=1e-5)
        # the corner (16%) holds the whole top 5%: the threshold is max_suspect_share itself
        suspect = int(metrics["topk_intersection"] > rule.max_suspect_share)
        assert row["suspect_flag"] == str(suspect)
        expected = int(float(row["topk_intersection"]) < rule.min_topk_share)
        assert row["leak_flag"] == str(max(suspect, expected))
    assert rows["dog/dog_2.png"]["leak_flag"] == str(
        int(float(rows["dog/dog_2.png"]["topk_intersection"]) < rule.min_topk_share))

    method = json.loads((tmp_path / "s.json").read_text())["methods"]["saliency"]
    shares = [float(rows[name]["suspect_topk_share"]) for name in WITH_SUSPECT]
    assert method["suspect_judged"] == 5
    assert method["suspect_flagged"] == sum(rows[name]["suspect_flag"] == "1"
                                            for name in WITH_SUSPECT)
    assert method["mean_suspect_topk_share"] == pytest.approx(np.mean(shares), rel=1e-5)
    summary_line = next(line for line in capsys.readouterr().out.splitlines()
                        if line.lstrip().startswith("saliency:"))
    assert (f"; {method['suspect_flagged']} of 5 by the suspect region)" in summary_line), \
        summary_line


def test_max_suspect_share_from_the_command_line_reaches_the_flags(suspect_folder, tmp_path
                                                                    ) -> None:
    folder, model = suspect_folder
    # min-topk-share 0: the expected rule never flags, so leak_flag is the suspect rule's
    assert _scan(folder, model, tmp_path / "never.csv", "--min-topk-share", "0",
                 "--max-suspect-share", "1", "--summary", str(tmp_path / "n.json")) == 0
    never = {row["image"]: row for row in read_csv(tmp_path / "never.csv")}
    assert {row["suspect_flag"] for name, row in never.items() if name in WITH_SUSPECT} == {"0"}
    assert {row["leak_flag"] for row in never.values()} == {"0"}
    document = json.loads((tmp_path / "n.json").read_text())
    assert document["rule"]["max_suspect_share"] == 1.0
    assert document["verdict"] == "ok"

    assert _scan(folder, model, tmp_path / "always.csv", "--min-topk-share", "0",
                 "--max-suspect-share", "0", "--fail-on-leak") == 3
    always = {row["image"]: row for row in read_csv(tmp_path / "always.csv")}
    for name in WITH_SUSPECT:   # any top-k pixel in the corner is too many
        assert always[name]["suspect_flag"] == str(int(float(
            always[name]["suspect_topk_share"]) > 0))
        assert always[name]["leak_flag"] == always[name]["suspect_flag"]
    assert always["dog/dog_2.png"]["leak_flag"] == "0"    # no suspect region: expected rule


def test_a_bad_suspect_file_is_the_rows_error_naming_it(suspect_folder, tmp_path) -> None:
    folder, model = suspect_folder
    copy = tmp_path / "copy"
    for name in ("cat/cat_0.png", "cat/cat_1.png"):
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes((folder / name).read_bytes())
    wrong = region_path(copy, copy / "cat/cat_0.png", SUSPECT)
    write_mask(wrong, np.ones((SIZE, SIZE + 4), bool))          # not the image's size
    garbage = region_path(copy, copy / "cat/cat_1.png", SUSPECT)
    garbage.write_bytes(b"not a png")
    write_mask(mask_path(copy, copy / "cat/cat_1.png"), np.ones((SIZE, SIZE), bool))
    out = tmp_path / "bad.csv"
    assert _scan(copy, model, out) == 0
    rows = {row["image"]: row for row in read_csv(out)}
    first, second = rows["cat/cat_0.png"], rows["cat/cat_1.png"]
    assert first["error"].startswith("suspect region: ") and str(wrong) in first["error"]
    assert "36x32 but the image is 32x32" in first["error"]
    assert str(garbage) in second["error"] and "unreadable mask" in second["error"]
    for row in (first, second):                      # not judged, nothing suspect measured
        assert row["leak_flag"] == row["suspect_flag"] == row["suspect_topk_share"] == ""
    assert second["topk_intersection"] == "1"        # the expected region is still measured


def test_resume_and_merge_keep_the_suspect_columns(suspect_folder, tmp_path) -> None:
    folder, model = suspect_folder
    full = tmp_path / "full.csv"
    assert _scan(folder, model, full) == 0
    lines = full.read_text(encoding="utf-8").splitlines(keepends=True)
    out = tmp_path / "resumed.csv"
    partial_path(out).write_text("".join(lines[:4]) + lines[4][:20], encoding="utf-8")
    assert _scan(folder, model, out, "--resume") == 0
    assert sorted(out.read_text(encoding="utf-8").splitlines()) == sorted(
        full.read_text(encoding="utf-8").splitlines())

    # shards merge to the same rows, suspect columns included
    parts = [tmp_path / f"part{index}.csv" for index in (1, 2)]
    for index, part in enumerate(parts, start=1):
        assert _scan(folder, model, part, "--shard", f"{index}/2") == 0
    merged = tmp_path / "merged.csv"
    assert merge_csv(parts, merged, ["saliency"]) == 6
    assert merged.read_text(encoding="utf-8") == full.read_text(encoding="utf-8")


def test_a_csv_from_before_the_suspect_columns_still_reads_and_resumes(suspect_folder,
                                                                        tmp_path) -> None:
    folder, model = suspect_folder
    full = tmp_path / "full.csv"
    assert _scan(folder, model, full) == 0
    old_columns = (*CSV_COLUMNS, SUPERPIXEL_SHARE_COLUMN)
    old_rows = read_csv(full)
    old = tmp_path / "old.csv"
    old.write_text(",".join(old_columns) + "\n" + "".join(
        ",".join(row[column] for column in old_columns) + "\n" for row in old_rows),
        encoding="utf-8")
    back = read_scan_rows(old)
    assert len(back) == 6 and math.isnan(back[0].suspect_topk_share)
    assert back[0].suspect_flag is None
    # an old CSV merged with a new one: the columns in the scan's order
    merged = tmp_path / "merged.csv"
    merge_csv([old, full], merged)
    assert merged.read_text(encoding="utf-8").splitlines()[0] == ",".join(SCAN_COLUMNS)
    # --resume from an old CSV keeps its rows (empty suspect cells) under the new header
    assert _scan(folder, model, old, "--resume") == 0
    resumed = read_csv(old)
    assert list(resumed[0]) == list(SCAN_COLUMNS)
    assert [row["suspect_topk_share"] for row in resumed] == [""] * 6


# -- the rule -----------------------------------------------------------------------------

def test_suspect_rule_flags_above_the_scaled_threshold_only() -> None:
    rule = VerdictRule(max_suspect_share=0.4)
    # a region as large as the top-k set or larger: the threshold is max_suspect_share
    assert suspect_threshold(0.3, rule) == pytest.approx(0.4)
    assert suspect_flag({"suspect_topk_share": 0.4, "suspect_area_frac": 0.3}, rule) == 0
    assert suspect_flag({"suspect_topk_share": 0.41, "suspect_area_frac": 0.3}, rule) == 1
    # a region of 1% holds at most a fifth of the top 5%: the threshold is scaled to 0.08
    assert suspect_threshold(0.01, rule) == pytest.approx(0.08)
    assert suspect_flag({"suspect_topk_share": 0.08, "suspect_area_frac": 0.01}, rule) == 0
    assert suspect_flag({"suspect_topk_share": 0.09, "suspect_area_frac": 0.01}, rule) == 1
    # and the top-k fraction scales it: with 10%, a 1% region caps at a tenth
    assert suspect_threshold(0.01, rule, topk_fraction=0.1) == pytest.approx(0.04)
    # undefined: no region, an empty one, an all-zero map (CSV cells: empty strings)
    for cells in ({}, {"suspect_topk_share": "", "suspect_area_frac": ""},
                  {"suspect_topk_share": "", "suspect_area_frac": "0"},
                  {"suspect_topk_share": math.nan, "suspect_area_frac": 0.2}):
        assert suspect_flag(cells, rule) is None
    assert suspect_flag({"suspect_topk_share": "0.9", "suspect_area_frac": "0.2"}, rule) == 1


def test_leak_flag_is_the_expected_rule_or_the_suspect_rule() -> None:
    rule = VerdictRule()
    expected = {None: {}, 0: {"topk_intersection": 0.9, "mask_area_frac": 0.2},
                1: {"topk_intersection": 0.1, "mask_area_frac": 0.2}}
    suspect = {None: {}, 0: {"suspect_topk_share": 0.1, "suspect_area_frac": 0.1},
               1: {"suspect_topk_share": 0.9, "suspect_area_frac": 0.1}}
    for expected_value, expected_cells in expected.items():
        for suspect_value, suspect_cells in suspect.items():
            cells = {**expected_cells, **suspect_cells}
            assert expected_flag(cells, rule) == expected_value
            assert suspect_flag(cells, rule) == suspect_value
            defined = [value for value in (expected_value, suspect_value) if value is not None]
            assert leak_flag(cells, rule) == (max(defined) if defined else None), cells


def test_rejudge_sets_both_flags_again() -> None:
    row = ScanRow(image="a.png", method="saliency", mask_area_frac=0.2, topk_intersection=0.9,
                  suspect_area_frac=0.1, suspect_topk_share=0.6)
    error_row = ScanRow(image="b.png", method="saliency", suspect_area_frac=0.1,
                        suspect_topk_share=0.9, error="suspect region: b.png.png: bad")
    strict, lenient = (rejudge([row, error_row], VerdictRule(max_suspect_share=share))
                       for share in (0.5, 0.7))
    assert (strict[0].suspect_flag, strict[0].leak_flag) == (1, 1)
    assert (lenient[0].suspect_flag, lenient[0].leak_flag) == (0, 0)
    assert strict[1] is error_row and error_row.leak_flag is None  # errors are not judged
    as_dicts = rejudge([dict(row)], VerdictRule(max_suspect_share=0.5))
    assert (as_dicts[0]["suspect_flag"], as_dicts[0]["leak_flag"]) == (1, 1)


@pytest.mark.parametrize("bad", [-0.1, 1.5, math.nan])
def test_rule_refuses_a_max_suspect_share_outside_0_to_1(bad: float) -> None:
    with pytest.raises(ValueError, match="max_suspect_share"):
        VerdictRule(max_suspect_share=bad)
    assert VerdictRule(max_suspect_share=0.0).as_dict()["max_suspect_share"] == 0.0


@pytest.mark.parametrize("value,message", [("1.5", "share from 0 to 1"), ("-0.1", "0 to 1"),
                                           ("nan", "finite"), ("lots", "expected a number")])
def test_bad_max_suspect_share_is_a_usage_error(tmp_path, capsys, value, message) -> None:
    (tmp_path / "images").mkdir()
    with pytest.raises(SystemExit) as info:
        main(["scan", str(tmp_path / "images"), "--csv", str(tmp_path / "o.csv"),
              "--max-suspect-share", value])
    error = capsys.readouterr().err
    assert info.value.code == 2 and "--max-suspect-share" in error and message in error
    assert sorted(path.name for path in tmp_path.iterdir()) == ["images"]


def test_scan_help_shows_max_suspect_share(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["scan", "--help"])
    out = capsys.readouterr().out
    assert "--max-suspect-share" in out and ".suspect" in out


# -- the one scoring of the scan and the window, and the summary -------------------------

def test_score_attribution_measures_the_suspect_region_it_is_given() -> None:
    heat = np.zeros((20, 20), np.float32)
    heat[:4, :5] = 1.0                   # all the evidence (the top 5%: 20 pixels) on the tag
    attribution = Attribution(method="saliency", target=1, target_name="dog", map=heat,
                              map_model=heat, signed=False)
    expected = np.zeros((20, 20), bool)
    expected[8:16, 8:16] = True
    tag = np.zeros((20, 20), bool)
    tag[:5, :5] = True
    probabilities = np.array([0.3, 0.7])
    row = score_attribution("a.png", "dog", ("cat", "dog"), probabilities, "saliency",
                            attribution, expected, suspect=tag)
    assert (row.suspect_area_frac, row.suspect_mass, row.suspect_topk_share) == (
        0.0625, 1.0, 1.0)
    assert (row.suspect_flag, row.leak_flag) == (1, 1)
    without = score_attribution("a.png", "dog", ("cat", "dog"), probabilities, "saliency",
                                attribution, None)
    assert math.isnan(without.suspect_topk_share) and without.suspect_flag is None
    assert without.leak_flag is None                            # no region of either kind


def test_summary_counts_the_suspect_rule_per_method() -> None:
    rows = [{"image": f"{index}.png", "method": "lime", "label": "", "error": "",
             "leak_flag": flag, "suspect_flag": suspect, "suspect_topk_share": share}
            for index, (flag, suspect, share) in enumerate(
                [(1, 1, 0.8), (0, 0, 0.2), (0, "", ""), ("", "", "")])]
    summary = summarize(rows)
    lime = summary["methods"]["lime"]
    assert (lime["suspect_judged"], lime["suspect_flagged"]) == (2, 1)
    assert lime["mean_suspect_topk_share"] == pytest.approx(0.5)
    assert (lime["judged"], lime["flagged"]) == (3, 1)
    assert summary["rule"]["max_suspect_share"] == VerdictRule().max_suspect_share
    none = summarize([{"image": "x.png", "method": "lime", "error": "", "leak_flag": 0}])
    assert none["methods"]["lime"]["suspect_judged"] == 0
    assert none["methods"]["lime"]["mean_suspect_topk_share"] is None


def test_the_window_settings_keep_max_suspect_share(tmp_path) -> None:
    pytest.importorskip("PySide6")
    from leakview.gui.settings import AppSettings, open_settings

    settings = AppSettings(open_settings(tmp_path / "settings.ini"))
    assert settings.rule().max_suspect_share == VerdictRule().max_suspect_share
    settings.set_rule(VerdictRule(min_topk_share=0.3, max_suspect_share=0.35))
    settings.sync()
    again = AppSettings(open_settings(tmp_path / "settings.ini"))
    assert again.rule() == VerdictRule(min_topk_share=0.3, max_suspect_share=0.35)
    assert "max_suspect_share=0.35" in (tmp_path / "settings.ini").read_text()
