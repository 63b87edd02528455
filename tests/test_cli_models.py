"""The model flags of every command that takes a model, `leakview info` and `leakview convert`,
and scans that run the methods that can run when one cannot (real files on disk: a tiny
resnet18 bundle at 32 px and a TorchScript trace of it with a sidecar)."""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from leakview.attribution import unavailable_reason
from leakview.cli import EXIT_USAGE, CommandError, main
from leakview.commands import argtypes
from leakview.models import (
    LoadedModel,
    ModelLoadError,
    ModelSpec,
    ModelSpecNeeded,
    build_architecture,
    load_model,
    save_bundle,
    sidecar_path,
)
from leakview.models.convert import to_bundle
from leakview.verdict import folder_verdict
from leaky_folder import SIZE, write_leaky_folder
from model_checks import opaque_cnn

CLASSES = ["blue", "red"]  # the leaky folder's class folders, sorted
COLOURS = {"red": (230, 30, 30), "blue": (30, 30, 230)}
NO_GRADCAM = "Grad-CAM is unavailable for this model: TorchScript runs compiled code"


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """An image folder with masks, a resnet18 bundle and a TorchScript trace of a small CNN
    that is no torchvision architecture (so Grad-CAM cannot run on it) with its sidecar."""
    base = tmp_path_factory.mktemp("cli-models")
    data = write_leaky_folder(base / "data", COLOURS, per_class=3)
    torch.manual_seed(0)
    module = build_architecture("resnet18", len(CLASSES), (SIZE, SIZE)).eval()
    bundle = save_bundle(base / "model.pt", module, "resnet18", CLASSES, (SIZE, SIZE),
                         gradcam_layer="layer4", trained_on={"images": 6})
    scripted = base / "scripted.pt"
    torch.jit.trace(opaque_cnn(len(CLASSES)), torch.zeros(1, 3, SIZE, SIZE)).save(str(scripted))
    sidecar_path(scripted).write_text(json.dumps({"classes": CLASSES,
                                                  "input_size": [SIZE, SIZE]}))
    return {"data": data, "bundle": bundle, "scripted": scripted}


def _csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


# ----------------------------------------------------------------------------- info

def test_info_prints_what_the_model_is(files, capsys) -> None:
    assert main(["info", str(files["bundle"]), "--device", "cpu"]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0].split() == ["model", str(files["bundle"])]
    facts = {line.split("  ")[0]: line.split("  ", 1)[1].strip() for line in lines
             if "  " in line and not line.startswith(" ")}
    assert facts["source"] == "bundle"
    assert facts["architecture"] == "resnet18"
    assert facts["classes"] == "2: blue, red"
    assert facts["input size"] == "32 x 32 (H x W)"
    assert facts["channels"] == "3 (RGB)"
    assert facts["normalisation"] == "mean 0.485, 0.456, 0.406; std 0.229, 0.224, 0.225"
    assert facts["device"] == "cpu"
    parameters = sum(p.numel() for p in load_model(files["bundle"], "cpu").module.parameters())
    assert facts["parameters"] == f"{parameters:,}"
    assert facts["Grad-CAM layer"] == "layer4"
    assert facts["other keys"] == "trained_on"
    methods = lines[lines.index("methods") + 1:]
    assert [line.split()[0] for line in methods] == [
        "saliency", "smoothgrad", "integrated_gradients", "gradcam", "lime"]
    assert all(line.split()[1] == "available" for line in methods)


def test_info_json_and_the_reason_a_method_is_unavailable(files, capsys) -> None:
    assert main(["info", str(files["scripted"]), "--device", "cpu", "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["kind"] == "torchscript" and described["classes"] == CLASSES
    assert described["input_size"] == [SIZE, SIZE] and described["channels"] == 3
    assert described["methods"]["saliency"] == {"available": True}
    assert described["methods"]["lime"] == {"available": True}
    gradcam = described["methods"]["gradcam"]
    assert gradcam["available"] is False and gradcam["reason"].startswith(NO_GRADCAM)

    assert main(["info", str(files["scripted"]), "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    (line,) = [line for line in lines if line.split()[0] == "gradcam"]
    assert line.split(None, 1)[1] == f"unavailable: {gradcam['reason']}"


def test_info_imports_neither_lime_nor_other_commands(files) -> None:
    """`leakview info` builds only its own parser and imports no LIME fitting, segmentation
    or figure code (what made it slow to start), nor the optional model sources' packages
    for a bundle."""
    heavy = ("lime", "sklearn", "skimage", "matplotlib", "scipy", "timm", "transformers",
             "onnxruntime", "leakview.markers", "leakview.pipeline",
             "leakview.commands.scan_cmd")
    code = (f"import sys; from leakview.cli import main; "
            f"status = main(['info', {str(files['bundle'])!r}, '--device', 'cpu']); "
            f"print(status, [m for m in {heavy!r} if m in sys.modules])")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "0 []"


def test_help_lists_convert() -> None:
    parser = __import__("leakview.cli", fromlist=["build_parser"]).build_parser()
    assert "convert" in parser.format_help()


# ----------------------------------------------------------------- unavailable methods

def test_scan_runs_the_methods_that_can_run(files, tmp_path, capsys) -> None:
    out, summary = tmp_path / "scan.csv", tmp_path / "summary.json"
    status = main(["scan", str(files["data"]), "--model", str(files["scripted"]),
                   "--methods", "saliency,gradcam,lime", "--lime-samples", "20", "--seed", "0",
                   "--csv", str(out), "--summary", str(summary), "--device", "cpu",
                   "--batch-size", "4"])
    assert status == 0
    captured = capsys.readouterr()
    skipped = [line for line in captured.err.splitlines() if "skipped" in line]
    assert len(skipped) == 1 and skipped[0].startswith(f"gradcam skipped: {NO_GRADCAM}")
    reason = skipped[0].removeprefix("gradcam skipped: ")
    assert "gradcam: not run (unavailable for this model)" in captured.out

    rows = _csv(out)
    assert len(rows) == 6 * 3
    by_method = {method: [row for row in rows if row["method"] == method]
                 for method in ("saliency", "gradcam", "lime")}
    assert all(len(method_rows) == 6 for method_rows in by_method.values())
    for row in by_method["gradcam"]:
        assert row["error"] == reason
        assert row["predicted"] in CLASSES and row["confidence"]  # the prediction still ran
        assert row["leak_flag"] == "" and row["mass_in_mask"] == "" and row["target"] == ""
    for row in by_method["saliency"] + by_method["lime"]:
        assert row["error"] == "" and row["mass_in_mask"] != "" and row["leak_flag"] in "01"

    written = json.loads(summary.read_text())
    assert written["methods"]["gradcam"]["verdict"] == "unavailable"
    assert written["methods"]["gradcam"]["reason"] == reason
    ran = folder_verdict(by_method["saliency"] + by_method["lime"])
    assert written["verdict"] == ran["verdict"]  # the verdict of the methods that ran
    for method in ("saliency", "lime"):
        assert written["methods"][method]["verdict"] == ran["methods"][method]["verdict"]
    assert f"verdict: {ran['verdict']}" in captured.out


def test_scan_and_atlas_fail_when_no_method_can_run(files, tmp_path, capsys) -> None:
    out = tmp_path / "scan.csv"
    assert main(["scan", str(files["data"]), "--model", str(files["scripted"]),
                 "--methods", "gradcam", "--csv", str(out), "--device", "cpu"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0
    assert "no requested method can run on this model" in error and NO_GRADCAM in error
    assert main(["atlas", str(files["data"]), "--model", str(files["scripted"]),
                 "--method", "gradcam", "--out", str(tmp_path / "atlas.png"),
                 "--device", "cpu"]) == 1
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and NO_GRADCAM in error
    assert list(tmp_path.iterdir()) == []


def test_unknown_methods_stay_usage_errors(files, tmp_path, capsys) -> None:
    assert main(["scan", str(files["data"]), "--model", str(files["scripted"]),
                 "--methods", "saliency,nope", "--csv", str(tmp_path / "o.csv"),
                 "--device", "cpu"]) == EXIT_USAGE
    assert "unknown method(s) nope" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_canary_refuses_a_method_its_init_cannot_run_before_training(files, tmp_path,
                                                                     capsys) -> None:
    out = tmp_path / "canary"
    status = main(["canary", str(files["data"]), "--init", str(files["scripted"]),
                   "--methods", "saliency,gradcam", "--out", str(out), "--epochs", "1",
                   "--device", "cpu"])
    assert status == EXIT_USAGE
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "gradcam" in error and NO_GRADCAM in error
    assert not out.exists()


def test_canary_takes_the_description_flags_only_with_init(files, tmp_path, capsys) -> None:
    status = main(["canary", str(files["data"]), "--arch", "resnet18", "--classes", "a,b",
                   "--out", str(tmp_path / "c"), "--device", "cpu"])
    assert status == EXIT_USAGE
    assert "--classes describe(s) the model of --init" in capsys.readouterr().err
    assert not (tmp_path / "c").exists()


# ---------------------------------------------------------------------------- convert

def test_convert_a_bundle_round_trip_and_refuse_to_overwrite(files, tmp_path, capsys) -> None:
    out = tmp_path / "copy.pt"
    assert main(["convert", str(files["bundle"]), "--out", str(out)]) == 0
    assert capsys.readouterr().out.startswith(f"{out}: bundle of resnet18 (2 classes, 32 x 32")
    source, copy = load_model(files["bundle"], "cpu"), load_model(out, "cpu")
    assert (copy.kind, copy.arch, copy.classes, copy.input_size) == (
        "bundle", "resnet18", CLASSES, (SIZE, SIZE))
    assert (copy.mean, copy.std, copy.gradcam_layer) == (source.mean, source.std, "layer4")
    assert copy.extra["trained_on"] == {"images": 6}
    assert copy.extra["converted_from"] == {"kind": "bundle", "file": "model.pt"}
    images = [np.random.default_rng(3).integers(0, 256, (40, 40, 3), dtype=np.uint8)]
    np.testing.assert_array_equal(copy.predict(images), source.predict(images))

    before = out.read_bytes()
    assert main(["convert", str(files["bundle"]), "--out", str(out)]) == 1
    error = capsys.readouterr().err
    assert "already exists" in error and "--force" in error
    assert out.read_bytes() == before
    assert main(["convert", str(out), "--out", str(out), "--force"]) == 0
    assert load_model(out, "cpu").extra["converted_from"] == {"kind": "bundle",
                                                              "file": "copy.pt"}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["copy.pt"]


def test_convert_writes_a_recognised_torchscript_as_its_torchvision_bundle(
        files, tmp_path) -> None:
    """A trace of a torchvision model runs as its eager twin; the bundle records the
    torchvision architecture (not "torchscript"), so it loads back with Grad-CAM."""
    traced = tmp_path / "traced.pt"
    module = load_model(files["bundle"], "cpu").module
    torch.jit.trace(module, torch.zeros(1, 3, SIZE, SIZE)).save(str(traced))
    sidecar_path(traced).write_text(json.dumps({"classes": CLASSES,
                                                "input_size": [SIZE, SIZE]}))
    out = tmp_path / "bundle.pt"
    assert main(["convert", str(traced), "--out", str(out)]) == 0
    converted = load_model(out, "cpu")
    assert converted.arch == "resnet18" and "torchvision_arch" not in converted.extra
    assert converted.extra["converted_from"]["kind"] == "torchscript"
    assert unavailable_reason(converted, "gradcam") is None


def test_convert_refuses_torchscript_without_an_architecture(files, tmp_path, capsys) -> None:
    out = tmp_path / "bundle.pt"
    assert main(["convert", str(files["scripted"]), "--out", str(out)]) == 1
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0
    assert "compiled code without a recognised architecture" in error
    assert "convert the state_dict or checkpoint it was made from" in error
    assert list(tmp_path.iterdir()) == []


class _Doubled(torch.nn.Module):
    """A resnet18 whose forward doubles the logits: its state_dict fits a plain resnet18, but
    the bundle rebuilt from it would not compute what this module computes."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = build_architecture("resnet18", len(CLASSES), (SIZE, SIZE))

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        return 2 * self.inner(batch)

    def state_dict(self, *args, **kwargs):  # the inner module's keys, as a plain resnet18's
        return self.inner.state_dict(*args, **kwargs)


def test_to_bundle_keeps_nothing_that_does_not_reproduce_the_model(tmp_path) -> None:
    model = LoadedModel(module=_Doubled().eval(), classes=CLASSES, input_size=(SIZE, SIZE),
                        arch="resnet18", kind="checkpoint", source=tmp_path / "ckpt.pt")
    with pytest.raises(ModelLoadError, match="logits differ from the model's"):
        to_bundle(model, tmp_path / "out.pt")
    assert list(tmp_path.iterdir()) == []
    onnx = LoadedModel(module=model.module, classes=CLASSES, input_size=(SIZE, SIZE),
                       arch="onnx", kind="onnx", source=tmp_path / "m.onnx")
    with pytest.raises(ModelLoadError, match="ONNX graph holds no PyTorch module"):
        to_bundle(onnx, tmp_path / "out.pt")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------- model flags

def _spec_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="t")
    argtypes.add_model_spec_arguments(parser)
    return parser


def test_model_spec_from_the_flags(tmp_path) -> None:
    parser = _spec_parser()
    assert argtypes.model_spec(parser.parse_args([])) is None
    args = parser.parse_args(["--arch", "timm/vit_tiny_patch16_224", "--classes", "cat, dog,eel",
                              "--input-size", "48", "64", "--mean", "0.5", "--std", "0.25"])
    assert argtypes.model_spec(args) == ModelSpec(
        arch="timm/vit_tiny_patch16_224", classes=("cat", "dog", "eel"), input_size=(48, 64),
        mean=(0.5,), std=(0.25,))
    names = tmp_path / "classes.txt"
    names.write_text("zebra\n\nant\n  bee  \n")
    spec = argtypes.model_spec(parser.parse_args(["--classes-file", str(names)]))
    assert spec == ModelSpec(classes=("zebra", "ant", "bee"))
    root = tmp_path / "train"
    for name in ("dog", "cat", ".cache"):
        (root / name).mkdir(parents=True)
    (root / "notes.txt").write_text("not a class")
    spec = argtypes.model_spec(parser.parse_args(["--classes-file", str(root),
                                                  "--mean", "1", "2", "3"]))
    assert spec == ModelSpec(classes=("cat", "dog"), mean=(1.0, 2.0, 3.0))


@pytest.mark.parametrize("flags,message", [
    (["--input-size", "4", "4"], "at least 8 pixels"),
    (["--input-size", "32"], "expected 2 arguments"),
    (["--input-size", "32", "x"], "expected a whole number"),
    (["--mean", "0.5", "0.5"], "give 1 number (a gray model) or 3 (R G B), got 2"),
    (["--mean", "nan", "0", "0"], "finite"),
    (["--std", "0.2", "0", "0.2"], "--std: must be positive"),
    (["--classes", "solo"], "at least two"),
    (["--classes", "a,b,a"], "duplicate"),
    (["--classes", "a,b", "--classes-file", "{names}"], "not allowed with argument"),
    (["--classes-file", "{missing}"], "unreadable classes file"),
])
@pytest.mark.parametrize("command", ["info", "scan", "atlas", "convert", "canary"])
def test_bad_model_flags_are_usage_errors(files, tmp_path, capsys, command: str,
                                          flags: list[str], message: str) -> None:
    names = tmp_path / "names.txt"
    names.write_text("a\nb\n")
    model, data = str(files["bundle"]), str(files["data"])
    base = {"info": ["info", model], "convert": ["convert", model, "--out", "x.pt"],
            "scan": ["scan", data, "--model", model, "--csv", "x.csv"],
            "atlas": ["atlas", data, "--model", model, "--out", "x.png"],
            "canary": ["canary", data, "--init", model]}[command]
    values = {"names": str(names), "missing": str(tmp_path / "missing.txt")}
    with pytest.raises(SystemExit) as info:
        main(base + [flag.format(**values) for flag in flags])
    assert info.value.code == EXIT_USAGE
    assert message in capsys.readouterr().err
    assert sorted(path.name for path in tmp_path.iterdir()) == ["names.txt"]


def test_spec_needed_names_the_flags_to_give() -> None:
    error = ModelSpecNeeded(Path("model.pt"), "a bare state_dict does not name its classes",
                            ("classes",), guessed_arch="resnet18")
    assert argtypes.spec_needed_message(error) == (
        "model.pt: a bare state_dict does not name its classes: give --classes a,b,c or "
        "--classes-file FILE (architecture resnet18 guessed from the weights)")
    failure = argtypes.model_error(error)
    assert isinstance(failure, CommandError) and failure.status == EXIT_USAGE
    both = ModelSpecNeeded(Path("w.safetensors"), "the weights fit no known architecture",
                           ("arch", "classes"))
    assert argtypes.spec_needed_message(both) == (
        "w.safetensors: the weights fit no known architecture: give --arch NAME (a torchvision "
        "name such as resnet18, or timm/NAME) and --classes a,b,c or --classes-file FILE")
    plain = argtypes.model_error(ModelLoadError(Path("m.pt"), "not a PyTorch checkpoint"))
    assert plain.status == 1 and str(plain) == "m.pt: not a PyTorch checkpoint"


def test_a_bare_state_dict_from_the_command_line(files, tmp_path, capsys) -> None:
    """A bare state_dict: exit 2 naming the flags, then info, scan and convert with them."""
    bare = tmp_path / "weights.pt"
    torch.save(load_model(files["bundle"], "cpu").module.state_dict(), bare)
    assert main(["info", str(bare), "--device", "cpu"]) == EXIT_USAGE
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0 and "--classes a,b,c or --classes-file FILE" in error
    assert "resnet18 guessed from the weights" in error
    flags = ["--arch", "resnet18", "--classes-file", str(files["data"]),
             "--input-size", str(SIZE), str(SIZE)]
    assert main(["info", str(bare), "--device", "cpu", "--json", *flags]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["arch"] == "resnet18" and described["classes"] == CLASSES
    assert main(["scan", str(files["data"]), "--model", str(bare), "--csv",
                 str(tmp_path / "s.csv"), "--device", "cpu", *flags]) == 0
    out = tmp_path / "bundle.pt"
    assert main(["convert", str(bare), "--out", str(out), *flags]) == 0
    images = [np.random.default_rng(3).integers(0, 256, (40, 40, 3), dtype=np.uint8)]
    np.testing.assert_allclose(load_model(out, "cpu").predict(images),
                               load_model(files["bundle"], "cpu").predict(images), atol=1e-6)
