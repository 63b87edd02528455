"""`leakview canary` end to end on a tiny world, partial reports on Ctrl-C / cancel, verdict."""

from __future__ import annotations

import argparse
import base64
import csv
import io
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import leakview.cli as cli
from leakview.attribution import Cancelled
from leakview.canary import (
    CSV_COLUMNS,
    IMAGE_COLUMNS,
    CanaryConfig,
    CanaryConfigError,
    CanaryRule,
    build_marker,
    judge,
    leaky_name,
    palette,
    run_canary,
)
from leakview.canary.run import Run as _Run
from leakview.commands import canary_cmd
from leakview.masks import SUSPECT, find_mask, mask_path, read_mask, write_mask
from leakview.models import load_model

SIZE = 32
CLASSES = ("alpha", "beta")


def write_honest_folder(root: Path, per_class: int = 8) -> Path:
    """Two classes of grey noise that NO honest cue separates (so only a planted marker can),
    with a centre mask as the expected region. One JPEG, to exercise the PNG renaming."""
    rng = np.random.default_rng(5)
    for name in CLASSES:
        (root / name).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            pixels = rng.integers(90, 160, size=(SIZE, SIZE, 3), dtype=np.uint8)
            suffix = ".jpg" if index == 0 else ".png"
            path = root / name / f"{name}{index}{suffix}"
            Image.fromarray(pixels).save(path)
            mask = np.zeros((SIZE, SIZE), dtype=bool)
            mask[10:26, 10:26] = True
            write_mask(mask_path(root, path), mask)
    return root


def tiny_config(data: Path, out: Path, **changes) -> CanaryConfig:
    settings = dict(data=data, out=out, arch="resnet18", input_size=(SIZE, SIZE),
                    epochs=6, seed=0, device="cpu", holdout=0.25, batch_size=12,
                    learning_rate=3e-3, marker="corner-rect", marker_params={"size": 0.3},
                    methods=("saliency", "lime"), method_options={"lime": {"samples": 40}},
                    figures_per_class=1)
    settings.update(changes)
    return CanaryConfig(**settings)


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> tuple[Path, Path, object, list]:
    base = tmp_path_factory.mktemp("canary")
    data = write_honest_folder(base / "data")
    calls: list = []
    result = run_canary(tiny_config(data, base / "out"),
                        progress=lambda *args: calls.append(args))
    return data, base / "out", result, calls


def _csv(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.reader(stream))


def test_reports_are_complete_and_consistent(finished) -> None:
    data, out, result, calls = finished
    assert result.status == "complete"
    rows = _csv(out / "canary.csv")
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [(row[0], row[1]) for row in rows[1:]] == [("clean", "saliency"), ("clean", "lime"),
                                                      ("leaky", "saliency"), ("leaky", "lime")]
    for row in rows[1:]:
        record = dict(zip(CSV_COLUMNS, row))
        assert record["images"] == "4" and record["errors"] == "0"
        assert record["expected_images"] == "4"
        for key in ("accuracy_with_marker", "accuracy_without_marker",
                    "prediction_change_rate", "marker_area_frac"):
            assert 0.0 <= float(record[key]) <= 1.0
    per_image = _csv(out / "canary-images.csv")
    assert tuple(per_image[0]) == IMAGE_COLUMNS and len(per_image) == 1 + 4 * 2 * 2
    report = json.loads((out / "canary.json").read_text())
    assert report["status"] == "complete" and report["stopped"] is None
    assert report["phases_done"] == ["prepare", "train-clean", "train-leaky",
                                     "evaluate-clean", "evaluate-leaky", "figures"]
    assert report["config"]["arch"] == "resnet18"
    assert report["data"]["images"] == 16 and report["data"]["held_out_images"] == 4
    assert report["data"]["train_images"] == 12 and report["data"]["expected_masks"] == 16
    assert set(report["verdict"]["methods"]) == {"saliency", "lime"}
    assert report["verdict"]["outcome"] in ("found", "partly found", "missed",
                                            "leak did not take")
    assert report["marker"]["colors"] == {"alpha": [255, 0, 0], "beta": [0, 255, 0]}
    assert {phase for phase, *_ in calls} == {"prepare", "train-clean", "train-leaky",
                                              "evaluate-clean", "evaluate-leaky", "figures"}
    # both bundles load and remember their role; the held-out images are the same for both
    for which in ("clean", "leaky"):
        bundle = load_model(out / f"{which}.pt", device="cpu")
        assert bundle.extra["canary"]["role"] == which
        assert bundle.extra["trained_on"]["train_images"] == 12
    assert result.model_paths == {"clean": out / "clean.pt", "leaky": out / "leaky.pt"}


def test_the_leaky_copy_has_markers_masks_and_png_names(finished) -> None:
    data, out, result, _ = finished
    leaky = out / "leaky-data"
    assert (leaky / "alpha" / "alpha0.jpg.png").is_file()  # a JPEG becomes a PNG
    assert leaky_name("alpha/alpha1.png") == "alpha/alpha1.png"
    assert leaky_name("a/b.JPG") == "a/b.JPG.png"
    description = json.loads((leaky / ".leakview" / "dataset.json").read_text())
    assert description["generator"] == "leakview.canary" and len(description["images"]) == 16
    marked = np.asarray(Image.open(leaky / "beta" / "beta3.png").convert("RGB"))
    original = np.asarray(Image.open(data / "beta" / "beta3.png").convert("RGB"))
    assert description["markers"] == ".leakview/masks/.suspect"
    assert not (leaky / ".leakview" / "markers").exists()
    region, problem = find_mask(leaky, "beta/beta3.png", kind=SUSPECT)  # the suspect region
    assert problem is None and region is not None
    side = int(round(0.3 * SIZE))
    assert region.sum() == side * side and region[:side, :side].all()  # top-left by default
    assert (marked[region] == (0, 255, 0)).all()           # class 1's colour
    assert np.array_equal(marked[~region], original[~region])  # nothing else changed
    expected = read_mask(mask_path(leaky, "beta/beta3.png"))  # expected-region mask copied
    assert expected[10:26, 10:26].all() and expected.sum() == 16 * 16


def test_html_is_self_contained_with_embedded_figures(finished) -> None:
    _, out, result, _ = finished
    text = (out / "report.html").read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "http://" not in text and "https://" not in text and "<script" not in text
    assert "<link" not in text and "url(" not in text
    sources = re.findall(r'src="([^"]*)"', text)
    assert len(sources) == 4  # 2 classes x 1 image x 2 models
    for source in sources:
        assert source.startswith("data:image/png;base64,")
        image = Image.open(io.BytesIO(base64.b64decode(source.split(",", 1)[1])))
        assert image.format == "PNG" and image.width > image.height
    assert "Verdict" in text and "Partial report" not in text
    assert len(list((out / "figures").rglob("*.png"))) == 4


def test_the_planted_leak_takes_and_lime_sees_it(finished) -> None:
    """Noise classes: the clean model cannot do better than chance, the leaky one can only use
    the marker. With two classes the change rate of a marker-only model stops at ~50% (it falls
    back on one class without the marker); the swap test has no such ceiling."""
    _, _, result, _ = finished
    rows = {(row["model"], row["method"]): row for row in result.rows}
    leaky, clean = rows[("leaky", "lime")], rows[("clean", "lime")]
    assert leaky["accuracy_with_marker"] == 1.0
    assert leaky["swap_follow_rate"] >= 0.75 and leaky["prediction_change_rate"] >= 0.25
    assert clean["prediction_change_rate"] <= 0.25
    assert result.verdict["leak_took"]
    assert leaky["marker_mass"] > max(clean["marker_mass"], 3 * leaky["marker_area_frac"])


def _stop_at(phase: str):
    seen = {"phase": None}

    def progress(current, done, total, text):
        seen["phase"] = current

    return progress, (lambda: seen["phase"] == phase)


def _assert_valid_partial(out: Path, stopped: str) -> dict:
    report = json.loads((out / "canary.json").read_text())
    assert report["status"] == "partial" and report["stopped"] == stopped
    assert tuple(_csv(out / "canary.csv")[0]) == CSV_COLUMNS
    text = (out / "report.html").read_text(encoding="utf-8")
    assert text.rstrip().endswith("</html>") and "Partial report" in text
    assert not list(out.glob(".*.tmp"))
    return report


def test_should_stop_leaves_a_partial_report(tmp_path) -> None:
    data = write_honest_folder(tmp_path / "data", per_class=4)
    out = tmp_path / "out"
    progress, should_stop = _stop_at("train-leaky")
    with pytest.raises(Cancelled):
        run_canary(tiny_config(data, out, epochs=1, methods=("saliency",), method_options={}),
                   progress=progress, should_stop=should_stop)
    report = _assert_valid_partial(out, "cancelled")
    assert report["phases_done"] == ["prepare", "train-clean"]
    assert (out / "clean.pt").is_file() and not (out / "leaky.pt").exists()
    assert len(_csv(out / "canary.csv")) == 1


def test_ctrl_c_in_the_cli_exits_130_with_a_partial_report(tmp_path, monkeypatch,
                                                          capsys) -> None:
    data = write_honest_folder(tmp_path / "data", per_class=4)
    out = tmp_path / "out"
    original = _Run.evaluate

    def interrupted(self, which, *args):
        if which == "leaky":
            raise KeyboardInterrupt
        return original(self, which, *args)

    monkeypatch.setattr(_Run, "evaluate", interrupted)
    status = cli.main(["canary", str(data), "--arch", "resnet18", "--input-size",
                       str(SIZE), str(SIZE), "--epochs", "1", "--methods", "saliency",
                       "--out", str(out), "--device", "cpu", "--batch-size", "4",
                       "--holdout", "0.25"])
    assert status == 130
    assert "partial report" in capsys.readouterr().err
    report = _assert_valid_partial(out, "interrupted")
    assert report["phases_done"][-1] == "evaluate-clean"
    rows = _csv(out / "canary.csv")
    assert [row[0] for row in rows[1:]] == ["clean"]  # the clean model's results survive


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser()
    canary_cmd.register(parser.add_subparsers(dest="command"))
    return parser


def test_cli_runs_and_refuses_to_overwrite_without_force(tmp_path, capsys) -> None:
    data = write_honest_folder(tmp_path / "data", per_class=4)
    out = tmp_path / "out"
    base = ["canary", str(data), "--arch", "resnet18", "--input-size", str(SIZE),
            str(SIZE), "--epochs", "1", "--methods", "saliency", "--out", str(out),
            "--device", "cpu", "--batch-size", "4", "--holdout", "0.25", "--marker", "stripe",
            "--marker-edge", "left", "--images-per-class-for-figures", "0"]
    args = _parser().parse_args(base)
    assert args.func(args) in (0,)
    printed = capsys.readouterr().out
    assert "report.html" in printed and "outcome:" in printed
    report = json.loads((out / "canary.json").read_text())
    assert report["marker"]["params"]["edge"] == "left" and report["figures"] == []
    args = _parser().parse_args(base)
    with pytest.raises(cli.CommandError) as info:
        args.func(args)
    assert info.value.status == 2 and "--force" in str(info.value)
    args = _parser().parse_args(base + ["--force", "--fail-on-miss"])
    assert args.func(args) in (0, 3)
    assert json.loads((out / "canary.json").read_text())["status"] == "complete"


def test_bad_settings_fail_before_writing(tmp_path) -> None:
    data = write_honest_folder(tmp_path / "data", per_class=2)
    with pytest.raises(CanaryConfigError, match="inside the data"):
        run_canary(tiny_config(data, data / "canary"))
    with pytest.raises(CanaryConfigError, match="unknown method"):
        run_canary(tiny_config(data, tmp_path / "o1", methods=("nope",)))
    with pytest.raises(CanaryConfigError, match="unknown architecture"):
        run_canary(tiny_config(data, tmp_path / "o2", arch="nonet"))
    with pytest.raises(CanaryConfigError, match="option"):
        run_canary(tiny_config(data, tmp_path / "o3", method_options={"lime": {"bogus": 1}}))
    with pytest.raises(CanaryConfigError, match="marker size"):
        run_canary(tiny_config(data, tmp_path / "o5", marker_params={"size": 0.9}))
    with pytest.raises(CanaryConfigError, match="edge"):
        run_canary(tiny_config(data, tmp_path / "o6", marker="stripe",
                               marker_params={"edge": "middle"}))
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "mine.txt").write_text("keep me")
    with pytest.raises(CanaryConfigError, match="not empty"):
        run_canary(tiny_config(data, tmp_path / "busy"))
    assert not any((tmp_path / f"o{i}").exists() for i in (1, 2, 3, 5, 6))
    assert (tmp_path / "busy" / "mine.txt").is_file()
    args = _parser().parse_args(["canary", str(data), "--out", str(tmp_path / "o4")])
    with pytest.raises(cli.CommandError) as info:  # neither --arch nor --init
        args.func(args)
    assert info.value.status == 2


class _RunsCode:
    """Unpickling this creates ``marker``: stands for any code a checkpoint could run."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_init_with_pickled_code_is_refused_before_anything_is_written(tmp_path, capsys) -> None:
    import pickle

    data = write_honest_folder(tmp_path / "data", per_class=2)
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps(_RunsCode(tmp_path / "PWNED")))
    out = tmp_path / "out"
    status = cli.main(["canary", str(data), "--init", str(evil), "--out", str(out),
                       "--epochs", "1", "--device", "cpu"])
    assert status == 1
    assert str(evil) in capsys.readouterr().err
    assert not (tmp_path / "PWNED").exists()
    assert not out.exists()


def test_markers_follow_the_class_positions() -> None:
    colours = palette(9)
    assert len(set(colours)) == 9 and colours[:2] == [(255, 0, 0), (0, 255, 0)]
    marker = build_marker("watermark", {}, ["cat", "dog", "eel"])
    assert [marker.text(i) for i in range(3)] == ["C1", "D2", "E3"]
    with pytest.raises(ValueError, match="colour"):
        build_marker("corner-rect", {"class_colors": [(1, 2, 3)]}, ["a", "b"])
    with pytest.raises(ValueError, match="differ"):
        build_marker("stripe", {"class_colors": [(1, 2, 3), (1, 2, 3)]}, ["a", "b"])


def _row(model: str, method: str, change: float, mass: float, pointing: float = 0.0,
         area: float = 0.02) -> dict:
    return {"model": model, "method": method, "prediction_change_rate": change,
            "marker_mass": mass, "marker_area_frac": area, "marker_pointing_rate": pointing,
            "expected_mass": math.nan}


def test_verdict_rules() -> None:
    rows = [_row("clean", "saliency", 0.02, 0.02), _row("clean", "lime", 0.02, 0.03),
            _row("leaky", "saliency", 0.95, 0.40, 0.9), _row("leaky", "lime", 0.95, 0.05)]
    verdict = judge(rows)
    assert verdict["leak_took"] and verdict["clean_ignores_marker"]
    assert verdict["methods"]["saliency"]["strength"] == "clearly"
    assert verdict["methods"]["saliency"]["mass_ratio"] == pytest.approx(20.0)
    assert verdict["methods"]["saliency"]["leaky_concentration"] == pytest.approx(20.0)
    assert verdict["methods"]["lime"]["strength"] == "missed"  # ratio 1.7 < 2
    assert verdict["outcome"] == "partly found" and verdict["found_by"] == ["saliency"]
    rows[3] = _row("leaky", "lime", 0.95, 0.10, 0.2)
    assert judge(rows)["methods"]["lime"]["strength"] == "weakly"
    assert judge(rows)["outcome"] == "found"
    weak = [dict(row, prediction_change_rate=0.3) if row["model"] == "leaky" else row
            for row in rows]
    assert judge(weak)["outcome"] == "leak did not take"
    assert judge(weak, CanaryRule(leak_took_min_change=0.25))["outcome"] == "found"
    zero = [_row("clean", "saliency", 0.0, 0.0), _row("leaky", "saliency", 1.0, 0.3, 1.0)]
    assert judge(zero)["methods"]["saliency"]["mass_ratio"] == "inf"
    json.dumps(judge(zero))


def test_image_csv_keeps_names_with_carriage_returns_and_formulas_on_one_row() -> None:
    """The canary CSVs use the scan CSV's writer: a CR in a file name never splits a row."""
    from leakview.canary import report as canary

    rows = [{"image": "wheat/a\rb.png", "label": "wheat", "model": "leaky", "method": "lime",
             "marker_mass": 0.5, "error": "=cmd|' /C calc'!A0"},
            {"image": "corn/c.png", "label": "corn", "model": "clean", "method": "saliency",
             "marker_mass": float("nan")}]
    text = canary.render_csv(rows, IMAGE_COLUMNS)
    grid = list(csv.reader(io.StringIO(text, newline="")))
    assert len(grid) == 3 and all(len(cells) == len(IMAGE_COLUMNS) for cells in grid)
    record = dict(zip(IMAGE_COLUMNS, grid[1]))
    assert record["image"] == "wheat/a\rb.png"
    assert record["error"].startswith("'=")
    assert dict(zip(IMAGE_COLUMNS, grid[2]))["marker_mass"] == ""


def test_html_escapes_names_from_the_data() -> None:
    """Class, file and method names and error texts come from the user's data: the report's
    template escapes every one of them."""
    from leakview.canary import render_html

    hostile = "<script>alert(1)</script>"
    row = {"model": "leaky", "method": hostile, "images": 1, "marker_mass": 0.5}
    report = {
        "status": "partial", "stopped": "error", "error": f"ValueError: {hostile}",
        "phases_done": ["prepare"], "config": {"data": f"/data/{hostile}", "arch": "resnet18",
                                               "input_size": [32, 32], "methods": [hostile]},
        "marker": {"name": "watermark", "params": {"texts": [hostile]},
                   "colors": {hostile: [1, 2, 3], "b&'\"": [4, 5, 6]},
                   "texts": {hostile: "<T>", "b&'\"": "&"}},
        "results": [row], "per_class": [dict(row, **{"class": hostile})],
        "verdict": {"outcome": "missed", "summary": [hostile], "methods": {}},
    }
    figure = {"model": "leaky", "image": f"{hostile}.png", "label": hostile, "png": b"\x89PNG",
              "pred_with": hostile, "pred_without": hostile}
    text = render_html(report, [figure])
    assert "<script" not in text and "<T>" not in text
    assert text.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 10
    assert "b&amp;&#39;&#34;: rgb(4, 5, 6), text &amp;" in re.sub(r"\s+", " ", text)
    assert text.startswith("<!DOCTYPE html>") and text.endswith("</html>\n")


def test_each_held_out_image_is_loaded_once_for_both_models(tmp_path, monkeypatch) -> None:
    """The evaluation of the leaky model reuses the held-out images loaded for the clean one:
    the original and the leaky copy of each are read from disk once in all."""
    from leakview.canary import evaluate
    from leakview.models import build_architecture, save_bundle

    data = write_honest_folder(tmp_path / "data", per_class=4)
    bundle = save_bundle(tmp_path / "m.pt", build_architecture("resnet18", 2, (SIZE, SIZE)),
                         "resnet18", list(CLASSES), (SIZE, SIZE))
    run = _Run(tiny_config(data, tmp_path / "out", methods=("saliency",), method_options={}))
    run.validate()
    prepared = run.prepare()
    _, held_idx = run.split(prepared)
    reads: list[Path] = []
    real_load = evaluate.load_image

    def counting_load(path, *args, **kwargs):
        reads.append(Path(path))
        return real_load(path, *args, **kwargs)

    monkeypatch.setattr(evaluate, "load_image", counting_load)
    model = load_model(bundle, device="cpu")
    for which in ("clean", "leaky"):
        run.evaluate(which, model, prepared, held_idx)
    assert len(held_idx) == 2 and len(reads) == 2 * len(held_idx) == len(set(reads))
    assert [(row["model"], row["images"]) for row in run.record.rows] == [("clean", 2),
                                                                          ("leaky", 2)]
    assert len(run.record.image_rows) == 2 * len(held_idx)
    # past the memory budget the rest is loaded again, with the same results
    held = evaluate.HeldOutSet(prepared, held_idx, seed=0, cache_bytes=0)
    first = [item for items in held.chunks(1, run.control) for item in items]
    again = [item for items in held.chunks(1, run.control) for item in items]
    assert held.loads == 2 * len(held_idx) and not held.kept
    assert all(np.array_equal(a.swapped, b.swapped) for a, b in zip(first, again))


def test_the_evaluation_reads_the_marker_from_the_suspect_region(tmp_path) -> None:
    """The marker mask the evaluation measures against is the leaky copy's suspect region
    (``leaky-data/.leakview/masks/.suspect``): an edit there is what it reads."""
    from leakview.canary.evaluate import load_held_out
    from leakview.masks import region_path

    data = write_honest_folder(tmp_path / "data", per_class=2)
    run = _Run(tiny_config(data, tmp_path / "out", methods=("saliency",), method_options={}))
    run.validate()
    prepared = run.prepare()
    leaky = tmp_path / "out" / "leaky-data"
    index = prepared.leaky_names.index("beta/beta1.png")
    item = load_held_out(prepared, index, seed=0)
    assert item.error is None and item.marker is not None and item.marker.sum() > 0
    suspect = region_path(leaky, "beta/beta1.png", SUSPECT)
    np.testing.assert_array_equal(read_mask(suspect), item.marker)
    edited = np.zeros((SIZE, SIZE), dtype=bool)
    edited[20:, 20:] = True
    write_mask(suspect, edited)
    np.testing.assert_array_equal(load_held_out(prepared, index, seed=0).marker, edited)
    suspect.unlink()
    missing = load_held_out(prepared, index, seed=0)
    assert missing.marker is None and str(suspect) in (missing.error or "")


def test_the_cli_and_the_dialog_share_the_config_checks(tmp_path) -> None:
    """check_config is what both call before a run: cheap (no model is loaded) and it can skip
    the data folder that is generated when the run starts."""
    from leakview.canary import check_config
    from leakview.models import ModelLoadError

    data = write_honest_folder(tmp_path / "data", per_class=2)
    check_config(tiny_config(data, tmp_path / "o"))
    with pytest.raises(CanaryConfigError, match="no such folder"):
        check_config(tiny_config(tmp_path / "later", tmp_path / "o"))
    check_config(tiny_config(tmp_path / "later", tmp_path / "o"), data_ready=False)
    with pytest.raises(CanaryConfigError, match="edge"):
        check_config(tiny_config(tmp_path / "later", tmp_path / "o", marker="stripe",
                                 marker_params={"edge": "middle"}), data_ready=False)
    with pytest.raises(CanaryConfigError, match="2 classes"):
        check_config(tiny_config(data, tmp_path / "o", marker_params={"class_colors": [(1, 2, 3)]}))
    with pytest.raises(ModelLoadError, match="no such file"):
        check_config(tiny_config(data, tmp_path / "o", init=tmp_path / "missing.pt"))
    assert not (tmp_path / "o").exists()
