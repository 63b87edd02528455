"""How many images a folder verdict rests on: "judged N of M", the rule that says when that is
too few (VerdictRule.min_judged / min_judged_share), the summary JSON's coverage fields and the
``leakview scan`` summary line and exit status (``--fail-on-leak`` never passes on too few)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from leakview.cli import main
from leakview.masks import mask_path, write_mask
from leakview.report import format_summary, summarize, summary_document
from leakview.verdict import LEAK, OK, UNDETERMINED, VerdictRule, coverage_text, folder_verdict


def _rows(method: str, flagged: int, clean: int, unmasked: int, errors: int = 0) -> list[dict]:
    """Rows of one method: ``flagged`` + ``clean`` judged images, ``unmasked`` without a
    mask (empty flag) and ``errors`` unreadable ones."""
    def row(number: int, flag, error: str = "") -> dict:
        return {"image": f"img{number}.png", "label": "wheat", "predicted": "wheat",
                "method": method, "leak_flag": flag, "mass_in_mask": 0.5 if flag != "" else "",
                "error": error}
    kinds = [1] * flagged + [0] * clean + [""] * unmasked
    rows = [row(number, flag) for number, flag in enumerate(kinds)]
    rows += [row(len(kinds) + number, "", "truncated") for number in range(errors)]
    return rows


def test_judged_needed_is_max_of_count_and_share_capped_at_all_images() -> None:
    rule = VerdictRule()
    assert (rule.min_judged, rule.min_judged_share) == (5, 0.5)
    assert rule.judged_needed(39) == 20          # ceil(0.5 * 39)
    assert rule.judged_needed(8) == 5            # at least 5 ...
    assert rule.judged_needed(3) == 3            # ... or all of them when there are fewer
    assert rule.judged_needed(0) == 1            # no judged image is never enough
    assert VerdictRule(min_judged_share=0.3).judged_needed(10) == 5
    assert VerdictRule(min_judged=0, min_judged_share=0.3).judged_needed(10) == 3  # not 4
    assert VerdictRule(min_judged=0, min_judged_share=0.0).judged_needed(39) == 1


def test_rule_refuses_bad_coverage_thresholds() -> None:
    for bad in ({"min_judged": -1}, {"min_judged": 2.5}, {"min_judged": True},
                {"min_judged_share": 1.5}, {"min_judged_share": math.nan}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            VerdictRule(**bad)  # type: ignore[arg-type]


def test_two_judged_of_39_is_a_leak_that_rests_on_too_few_images() -> None:
    """The issue's case: 2 masked images of 39, both flagged. The verdict stays leak (a
    consumer reading ``verdict`` is not made laxer) and says it rests on too few."""
    verdict = folder_verdict(_rows("saliency", flagged=2, clean=0, unmasked=36, errors=1))
    assert verdict["verdict"] == LEAK
    assert (verdict["judged"], verdict["images"], verdict["needed"]) == (2, 39, 20)
    assert verdict["coverage"] == pytest.approx(2 / 39)
    assert verdict["coverage_ok"] is False
    method = verdict["methods"]["saliency"]
    assert (method["judged"], method["images"], method["coverage_ok"]) == (2, 39, False)
    assert coverage_text(verdict) == "judged 2 of 39: too few, needs 20"

    enough = folder_verdict(_rows("saliency", flagged=15, clean=5, unmasked=19))
    assert enough["verdict"] == LEAK and enough["coverage_ok"] is True
    assert coverage_text(enough) == "judged 20 of 39"
    assert folder_verdict(_rows("saliency", 2, 0, 37), VerdictRule(min_judged_share=0.05)
                          )["coverage_ok"] is False  # still fewer than 5
    assert folder_verdict(_rows("saliency", 2, 0, 37),
                          VerdictRule(min_judged=2, min_judged_share=0.05))["coverage_ok"]


def test_folder_coverage_is_that_of_the_methods_the_verdict_rests_on() -> None:
    # leak: one well-covered leaky method is enough, a poorly covered one does not weaken it
    rows = _rows("saliency", 15, 5, 0) + _rows("lime", 2, 0, 18)
    verdict = folder_verdict(rows)
    assert verdict["verdict"] == LEAK
    assert (verdict["judged"], verdict["coverage_ok"]) == (20, True)
    # ok: every method must say no, so the least covered one decides
    rows = _rows("saliency", 0, 20, 0) + _rows("lime", 0, 3, 17)
    verdict = folder_verdict(rows)
    assert verdict["verdict"] == OK
    assert (verdict["judged"], verdict["images"], verdict["coverage_ok"]) == (3, 20, False)
    # no mask at all: undetermined, judged 0 of all
    verdict = folder_verdict(_rows("saliency", 0, 0, 12))
    assert verdict["verdict"] == UNDETERMINED
    assert (verdict["judged"], verdict["images"], verdict["coverage_ok"]) == (0, 12, False)
    empty = folder_verdict([])
    assert (empty["verdict"], empty["judged"], empty["images"], empty["coverage"],
            empty["coverage_ok"]) == (UNDETERMINED, 0, 0, None, False)


def test_summary_json_keeps_its_fields_and_adds_coverage() -> None:
    summary = summarize(_rows("saliency", 2, 0, 37))
    document = json.loads(summary_document(summary, "m.pt", "data", ["saliency"]))
    for old in ("verdict", "rule", "methods", "per_class", "model", "folder",
                "scanned_methods", "shard"):
        assert old in document
    assert {key: document[key] for key in ("judged", "images", "needed", "coverage_ok")} == {
        "judged": 2, "images": 39, "needed": 20, "coverage_ok": False}
    assert document["rule"] == {"min_topk_share": 0.2, "max_flag_rate": 0.5,
                                "min_judged": 5, "min_judged_share": 0.5,
                                "max_suspect_share": 0.3}
    assert document["methods"]["saliency"]["judged"] == 2
    assert document["per_class"][0]["judged"] == 2 and document["per_class"][0]["images"] == 39
    assert format_summary(summary).splitlines()[1].split()[:5] == [
        "wheat", "saliency", "39", "0", "2"]


# -- leakview scan: a folder where only a couple of images have masks -----------------------

@pytest.fixture(scope="module")
def sparse_folder(tmp_path_factory) -> tuple[Path, Path]:
    """12 images of two classes, 2 of them with a mask, and a tiny (untrained) model."""
    import torch

    from leakview.models import build_architecture, save_bundle

    root = tmp_path_factory.mktemp("sparse")
    rng = np.random.default_rng(3)
    for label in ("cat", "dog"):
        (root / "images" / label).mkdir(parents=True)
        for index in range(6):
            pixels = (rng.random((32, 32, 3)) * 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / "images" / label / f"{label}_{index}.png")
    mask = np.zeros((32, 32), dtype=bool)
    mask[4:12, 4:12] = True   # 6% of the image
    for name in ("cat/cat_0.png", "dog/dog_3.png"):
        write_mask(mask_path(root / "images", root / "images" / name), mask)
    torch.manual_seed(0)
    model = root / "tiny.pt"
    save_bundle(model, build_architecture("mobilenet_v3_small", 2, (32, 32)),
                "mobilenet_v3_small", ["cat", "dog"], (32, 32))
    return root / "images", model


def _scan(folder: Path, model: Path, tmp_path: Path, *extra: str) -> int:
    return main(["scan", str(folder), "--model", str(model), "--csv", str(tmp_path / "s.csv"),
                 "--summary", str(tmp_path / "s.json"), "--device", "cpu", *extra])


def test_scan_says_judged_2_of_12_and_the_gate_fails_on_too_few(sparse_folder, tmp_path,
                                                                capsys) -> None:
    folder, model = sparse_folder
    # nothing can be flagged (share < 0 never holds): an ok from 2 of 12 images
    status = _scan(folder, model, tmp_path, "--min-topk-share", "0", "--fail-on-leak")
    out, err = capsys.readouterr()
    summary_line = out.splitlines()[0]
    assert "verdict: ok (judged 2 of 12: too few, needs 6)" in summary_line, out
    assert "saliency: flagged 0 of 2 judged" in out and "(judged 2 of 12: too few" in out
    assert "warning: the verdict rests on too few images" in err
    assert status == 4                                        # never passes silently
    document = json.loads((tmp_path / "s.json").read_text())
    assert (document["verdict"], document["judged"], document["images"],
            document["coverage_ok"]) == ("ok", 2, 12, False)
    assert document["rule"]["min_judged"] == 5

    # without --fail-on-leak the scan succeeds (and still warns)
    assert _scan(folder, model, tmp_path, "--min-topk-share", "0") == 0
    assert "too few" in capsys.readouterr().err

    # a leak from 2 images still fails as a leak (exit 3), not as too few
    assert _scan(folder, model, tmp_path, "--min-topk-share", "1", "--fail-on-leak") == 3
    assert "verdict: leak (judged 2 of 12: too few, needs 6)" in capsys.readouterr().out

    # the rule from the command line: 2 judged images are declared enough -> the gate passes
    assert _scan(folder, model, tmp_path, "--min-topk-share", "0", "--fail-on-leak",
                 "--min-judged", "2", "--min-judged-share", "0.1") == 0
    out, err = capsys.readouterr()
    assert "verdict: ok (judged 2 of 12)" in out and "too few" not in out + err
    assert json.loads((tmp_path / "s.json").read_text())["coverage_ok"] is True


def test_scan_without_any_mask_fails_the_gate(sparse_folder, tmp_path, capsys) -> None:
    folder, model = sparse_folder
    status = main(["scan", str(folder), "--model", str(model), "--csv",
                   str(tmp_path / "n.csv"), "--masks", str(tmp_path / "no-masks"),
                   "--device", "cpu", "--fail-on-leak"])
    assert status == 4
    assert "verdict: undetermined (judged 0 of 12: too few, needs 6)" in capsys.readouterr().out


@pytest.mark.parametrize("args,message", [
    (["--min-judged", "-1"], "--min-judged"),
    (["--min-judged", "2.5"], "--min-judged"),
    (["--min-judged-share", "1.5"], "--min-judged-share"),
])
def test_bad_coverage_options_are_usage_errors(tmp_path, capsys, args, message) -> None:
    (tmp_path / "images").mkdir()
    with pytest.raises(SystemExit) as info:
        main(["scan", str(tmp_path / "images"), "--csv", str(tmp_path / "o.csv"), *args])
    assert info.value.code == 2 and message in capsys.readouterr().err
