"""Every model failure is one line naming the file and the reason (issue 17, item 6: a
TorchScript model fed the wrong number of channels printed its interpreter's 33-line
traceback as the message)."""

from __future__ import annotations

import json
import pickle
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from leakview.cli import main
from leakview.errors import PathError, exception_reason, one_line
from leakview.models import ModelLoadError, load_model


class _Net(torch.nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(channels, 4, 3)
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).mean(dim=(2, 3)))


def scripted_model(folder: Path, channels: int, sidecar: dict) -> Path:
    """A real TorchScript archive of a ``channels``-input CNN with its sidecar JSON."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"net{channels}.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(torch.jit.script(_Net(channels).eval()), str(path))
    path.with_name(path.name + ".json").write_text(json.dumps(sidecar), encoding="utf-8")
    return path


GRAY_GIVEN_RGB = (1, {"classes": ["a", "b"], "input_size": [16, 16]})
RGB_GIVEN_GRAY = (3, {"classes": ["a", "b"], "input_size": [16, 16], "mean": [0.5],
                      "std": [0.25]})


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize(("model", "given", "expected"), [
    (GRAY_GIVEN_RGB, 3, "expected input[1, 3, 16, 16] to have 1 channels, but got 3"),
    (RGB_GIVEN_GRAY, 1, "expected input[1, 1, 16, 16] to have 3 channels, but got 1"),
])
def test_info_on_a_model_fed_the_wrong_channels_is_one_line(tmp_path, capsys, model, given,
                                                            expected) -> None:
    channels, sidecar = model
    path = scripted_model(tmp_path, channels, sidecar)
    assert main(["info", str(path)]) == 1
    line = one_error_line(capsys)
    assert line.startswith(f"leakview info: error: {path}: ")
    assert f"fails on a {given}-channel 16x16 input" in line and expected in line
    assert f"it runs on {channels}-channel input" in line
    assert "Traceback" not in line and "<--- HERE" not in line


def test_scan_with_that_model_is_one_line_and_writes_nothing(tmp_path, capsys) -> None:
    path = scripted_model(tmp_path / "model", *GRAY_GIVEN_RGB)
    folder = tmp_path / "images" / "a"
    folder.mkdir(parents=True)
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(folder / "x.png")
    csv = tmp_path / "out.csv"
    assert main(["scan", str(tmp_path / "images"), "--model", str(path), "--csv",
                 str(csv)]) == 1
    line = one_error_line(capsys)
    assert line.startswith(f"leakview scan: error: {path}: the model fails on a 3-channel")
    assert "to have 1 channels, but got 3 channels instead" in line
    assert not csv.exists()


class _BatchOfOne(torch.nn.Module):
    """Runs on the load-time probe (a batch of one) and fails on any larger batch."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.conv(x).mean(dim=(2, 3)).reshape(1, 4))


def test_a_model_failing_while_scanning_is_one_line(tmp_path, capsys) -> None:
    path = tmp_path / "one.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(torch.jit.script(_BatchOfOne().eval()), str(path))
    path.with_name("one.pt.json").write_text(json.dumps({"classes": ["a", "b"],
                                                          "input_size": [16, 16]}))
    folder = tmp_path / "images" / "a"
    folder.mkdir(parents=True)
    for name in ("x.png", "y.png"):
        Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(folder / name)
    assert main(["scan", str(tmp_path / "images"), "--model", str(path), "--csv",
                 str(tmp_path / "out.csv"), "--batch-size", "2"]) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if ": error: " in line]
    assert len(lines) == 1 and "Traceback" not in err and "<--- HERE" not in err, err
    assert lines[0].startswith(f"leakview scan: error: {path}: the model fails on a batch of "
                               "2 3-channel 16x16 inputs (RuntimeError: shape '[1, 4]' is "
                               "invalid for input of size 8)")


def test_the_model_works_once_described_right(tmp_path) -> None:
    path = scripted_model(tmp_path, 1, {"classes": ["a", "b"], "input_size": [16, 16],
                                        "mean": [0.5], "std": [0.25]})
    model = load_model(path, device="cpu")
    assert model.channels == 1
    assert model.predict([np.zeros((9, 9, 3), np.uint8)]).shape == (1, 2)


def test_a_path_error_is_always_one_line() -> None:
    error = ModelLoadError("m.pt", "first line\n  second line\n\nthird")
    assert str(error) == "m.pt: first line second line third"
    assert pickle.loads(pickle.dumps(error)).reason == error.reason
    assert len(str(PathError("x", "word " * 1000))) < 520
    assert exception_reason(ValueError("")) == "ValueError"
    assert exception_reason(KeyError("k")) == "KeyError: 'k'"
    assert one_line("a\n\tb ") == "a b"
