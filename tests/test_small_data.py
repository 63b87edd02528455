"""`leakview train` and `leakview canary` on the smallest data a user may give them: every
epoch count and data size trains or ends in a one-line reason (exit 1 or 2), never a traceback
(issue 17, item 5: a 5-step run crashed inside torch's OneCycleLR)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from leakview.cli import main

SIZE = 16  # the input side the training tests use with mobilenet_v3_small


def write_folder(root: Path, counts: dict[str, int], size: int = 24) -> Path:
    """An ImageFolder tree with ``counts[class]`` noise PNGs in each class folder."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True)
    for index, (name, count) in enumerate(counts.items()):
        (root / name).mkdir()
        for number in range(count):
            base = 60 + 120 * (index % 2)
            pixels = np.clip(base + rng.normal(0, 25, (size, size, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{name}_{number:02d}.png")
    return root


def run_cli(capsys, arguments: list[str]) -> tuple[int, str, str]:
    try:
        status = main(arguments)
    except SystemExit as usage:  # argparse's usage errors
        status = int(usage.code or 0)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def error_line(err: str) -> str:
    """The one error line of a failed command (progress bars aside)."""
    lines = [line for line in err.splitlines() if ": error: " in line]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize("total_steps", [1, 2, 3, 4, 5, 6, 9, 10, 11, 50])
def test_the_learning_rate_schedule_takes_any_number_of_steps(total_steps: int) -> None:
    from leakview.train import learning_rate_scheduler

    parameter = torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.AdamW([parameter], lr=1e-3)
    scheduler = learning_rate_scheduler(optimizer, 1e-3, total_steps)
    rates = [optimizer.param_groups[0]["lr"]]
    for _ in range(total_steps):
        optimizer.step()
        scheduler.step()
        rates.append(optimizer.param_groups[0]["lr"])
    assert all(np.isfinite(rates)) and all(0 < rate <= 1e-3 * (1 + 1e-9) for rate in rates)
    # every step trains at a real rate: the first is never the schedule's final, tiny one
    assert rates[0] >= 1e-3 / 25 * (1 - 1e-9)


TRAIN = ["--arch", "mobilenet_v3_small", "--input-size", str(SIZE), str(SIZE),
         "--device", "cpu"]


@pytest.mark.parametrize(("counts", "extra"), [
    ({"a": 5, "b": 5}, ["--batch-size", "2", "--val-split", "0"]),   # 5 steps: OneCycleLR /0
    ({"a": 2, "b": 2}, ["--val-split", "0"]),                        # 1 epoch of 1 batch
    ({"a": 1, "b": 1}, []),                                          # 1 image per class
    ({"a": 1, "b": 1, "c": 1}, ["--batch-size", "2"]),               # last batch of one
])
def test_train_on_tiny_data_writes_a_bundle(tmp_path, capsys, counts, extra) -> None:
    data = write_folder(tmp_path / "data", counts)
    out = tmp_path / "m.pt"
    status, printed, err = run_cli(capsys, ["train", str(data), "--out", str(out),
                                            "--epochs", "1", *TRAIN, *extra])
    assert status == 0, err
    assert out.is_file() and "wrote" in printed


@pytest.mark.parametrize(("counts", "extra", "status", "reason"), [
    ({"a": 1, "b": 0}, [], 1, "at least 2 training images"),
    ({"a": 2, "b": 0}, ["--val-split", "0.5"], 1, "at least 2 training images"),
    ({"a": 3}, [], 1, "at least two class folders"),
    ({"a": 0, "b": 0}, [], 1, "no readable images"),
    ({"a": 2, "b": 2}, ["--epochs", "0"], 2, "--epochs"),
    ({"a": 2, "b": 2}, ["--batch-size", "1"], 2, "--batch-size"),
    ({"a": 2, "b": 2}, ["--input-size", "0", "0"], 2, "at least 8 pixels"),
])
def test_train_refuses_what_cannot_train_in_one_line(tmp_path, capsys, counts, extra, status,
                                                     reason) -> None:
    data = write_folder(tmp_path / "data", counts)
    out = tmp_path / "m.pt"
    arguments = ["train", str(data), "--out", str(out), *TRAIN]
    if "--epochs" not in extra:
        arguments += ["--epochs", "1"]
    got, _, err = run_cli(capsys, arguments + extra)
    assert got == status, err
    assert reason in error_line(err)
    assert not out.exists()


CANARY = ["--arch", "mobilenet_v3_small", "--input-size", "32", "32", "--methods", "saliency",
          "--device", "cpu", "--images-per-class-for-figures", "0"]


def test_canary_on_tiny_data_completes(tmp_path, capsys) -> None:
    # 12 images, 2 held out: 10 train in 5 batches of 2, the 5 steps that crashed OneCycleLR
    # (1 epoch of 1 batch is the training tests' case)
    data = write_folder(tmp_path / "data", {"a": 6, "b": 6}, size=32)
    extra = ["--batch-size", "2", "--holdout", "0.15"]
    out = tmp_path / "out"
    status, printed, err = run_cli(capsys, ["canary", str(data), "--epochs", "1", "--out",
                                            str(out), *CANARY, *extra])
    assert status == 0, err
    assert "outcome:" in printed and (out / "canary.json").is_file()


@pytest.mark.parametrize(("counts", "status", "reason"), [
    ({"a": 1, "b": 1}, 1, "at least two"),      # one image per class: nothing to hold out
    ({"a": 3}, 2, "at least two class folders"),
    ({"a": 0, "b": 0}, 1, "at least two"),
])
def test_canary_refuses_what_cannot_run_in_one_line(tmp_path, capsys, counts, status,
                                                    reason) -> None:
    data = write_folder(tmp_path / "data", counts, size=32)
    got, _, err = run_cli(capsys, ["canary", str(data), "--epochs", "1", "--out",
                                   str(tmp_path / "out"), *CANARY])
    assert got == status, err
    assert reason in error_line(err)
