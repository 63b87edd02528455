"""Leak verdict rule, folder summary, CSV cells and the study figure."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from PIL import Image

from leakview.attribution import Attribution
from leakview.csvio import format_cell, merge_csv, neutralise, read_csv, write_csv
from leakview.report import format_summary, save_png, study_figure, summarize
from leakview.verdict import LEAK, OK, UNDETERMINED, VerdictRule, folder_verdict, leak_flag


def test_leak_flag_uses_the_top_k_share_scaled_for_small_masks() -> None:
    rule = VerdictRule(min_topk_share=0.2)
    assert leak_flag({"topk_intersection": 0.1, "mask_area_frac": 0.3}, rule) == 1
    assert leak_flag({"topk_intersection": 0.5, "mask_area_frac": 0.3}, rule) == 0
    # A mask of 1% can hold at most a fifth of the top-5% pixels: 0.1 of them is half that.
    assert leak_flag({"topk_intersection": 0.1, "mask_area_frac": 0.01}, rule) == 0
    assert leak_flag({"topk_intersection": 0.02, "mask_area_frac": 0.01}, rule) == 1
    assert leak_flag({"topk_intersection": math.nan, "mask_area_frac": 0.3}, rule) is None
    assert leak_flag({"topk_intersection": 0.5, "mask_area_frac": 0.0}, rule) is None
    assert leak_flag({}, rule) is None


def _row(method: str, flag, mass=0.5, label="wheat", error="") -> dict:
    return {"image": "x.png", "label": label, "predicted": "wheat", "method": method,
            "leak_flag": flag, "mass_in_mask": mass, "error": error}


def test_folder_verdict_per_method_and_overall() -> None:
    rows = ([_row("saliency", 1)] * 3 + [_row("saliency", 0)] + [_row("lime", 0)] * 4
            + [_row("lime", None)] + [_row("lime", None, error="truncated")])
    verdict = folder_verdict(rows, VerdictRule(max_flag_rate=0.5))
    assert verdict["verdict"] == LEAK
    assert verdict["methods"]["saliency"]["flag_rate"] == 0.75
    assert verdict["methods"]["lime"] == {
        "images": 6, "flagged": 0, "undefined": 1, "errors": 1, "mean_mass_in_mask": 0.5,
        "flag_rate": 0.0, "verdict": OK, "judged": 4, "needed": 5, "coverage": 4 / 6,
        "coverage_ok": False, "suspect_judged": 0, "suspect_flagged": 0,
        "mean_suspect_topk_share": None}
    assert folder_verdict([_row("lime", None)])["verdict"] == UNDETERMINED
    strings = [{key: format_cell(value) for key, value in row.items()} for row in rows]
    assert folder_verdict(strings)["verdict"] == LEAK


def test_summary_groups_by_class_and_method() -> None:
    rows = [_row("saliency", 1, 0.1), _row("saliency", 0, 0.3), _row("saliency", 0, 0.2, "corn")]
    summary = summarize(rows)
    wheat = next(e for e in summary["per_class"] if e["label"] == "wheat")
    assert wheat["images"] == 2 and math.isclose(wheat["mean_mass_in_mask"], 0.2)
    assert wheat["flag_rate"] == 0.5 and wheat["accuracy"] == 1.0
    corn = next(e for e in summary["per_class"] if e["label"] == "corn")
    assert corn["accuracy"] == 0.0
    table = format_summary(summary)
    assert table.splitlines()[0].split() == ["class", "method", "images", "errors", "judged",
                                             "mass_in_mask", "flag_rate", "accuracy"]


def test_cells_are_formula_safe_and_numbers_plain() -> None:
    for text in ("=1+1", "+A1", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise(text) == "'" + text
    assert neutralise("wheat/=a.png") == "wheat/=a.png"
    assert format_cell(float("nan")) == "" and format_cell(None) == ""
    assert format_cell(-0.25) == "-0.25" and format_cell(True) == "1"
    assert format_cell(np.float32(0.5)) == "0.5"


def test_merge_keeps_extra_columns_and_sorts_naturally(tmp_path: Path) -> None:
    write_csv(tmp_path / "a.csv", [{"image": "img10.png", "method": "lime", "target": "c",
                                    "note": "x"}])
    write_csv(tmp_path / "b.csv", [{"image": "img2.png", "method": "saliency", "target": "c"}])
    count = merge_csv([tmp_path / "a.csv", tmp_path / "b.csv"], tmp_path / "m.csv",
                      method_order=("saliency", "lime"))
    rows = read_csv(tmp_path / "m.csv")
    assert count == 2 and [row["image"] for row in rows] == ["img2.png", "img10.png"]
    assert rows[1]["note"] == "x" and rows[0]["note"] == ""


def test_study_figure_has_three_panels_and_the_mask_outline(tmp_path: Path) -> None:
    image = np.full((40, 60, 3), 100, dtype=np.uint8)
    heat = np.zeros((40, 60), dtype=np.float32)
    heat[5:10, 5:10] = 1.0
    segments = np.zeros((20, 30), dtype=np.int32)
    segments[:, 15:] = 1
    maps = {
        "saliency": Attribution("saliency", 0, "a", heat, heat, False),
        "lime": Attribution("lime", 0, "a", heat, heat, True,
                            extras={"segments": segments, "weights": np.array([0.9, -0.2])}),
    }
    mask = np.zeros((40, 60), dtype=bool)
    mask[20:30, 20:40] = True
    figure = study_figure(image, maps, mask, title="x.png")
    assert figure.ndim == 3 and figure.shape[1] > 3 * 60
    assert (figure == (0, 255, 255)).all(axis=2).any()  # the mask outline is drawn
    path = save_png(tmp_path / "fig.png", figure)
    assert Image.open(path).size == (figure.shape[1], figure.shape[0])
