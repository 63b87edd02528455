"""Training: loss falls on a tiny learnable set, bundles round-trip, runs are reproducible."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from leakview.cli import main
from leakview.models import load_model
from leakview.train import augment, find_classes, load_image_folder, split_indices, train

CLASSES = ("bright", "dark")


def write_tiny_folder(root: Path, per_class: int = 12, size: int = 24) -> Path:
    """Two classes a small CNN separates in a few epochs: bright vs dark squares with noise."""
    rng = np.random.default_rng(0)
    for index, name in enumerate(CLASSES):
        folder = root / name
        folder.mkdir(parents=True)
        for number in range(per_class):
            base = 190 if index == 0 else 60
            pixels = np.clip(base + rng.normal(0, 25, (size, size, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{name}_{number:02d}.png")
    (root / "notes.txt").write_text("not an image")
    (root / "bright" / "broken.png").write_bytes(b"not a png")
    return root


def test_loading_skips_unreadable_files_and_labels_by_folder(tmp_path: Path) -> None:
    root = write_tiny_folder(tmp_path / "data", per_class=3)
    data = load_image_folder(root, (16, 16))
    assert data.classes == list(CLASSES)
    assert data.images.shape == (6, 16, 16, 3) and data.images.dtype == np.uint8
    assert list(data.labels) == [0, 0, 0, 1, 1, 1]
    assert len(data.skipped) == 1 and "broken.png" in data.skipped[0]


def test_find_classes_needs_two_folders(tmp_path: Path) -> None:
    (tmp_path / "only").mkdir()
    with pytest.raises(ValueError, match="at least two class folders"):
        find_classes(tmp_path)


def test_split_is_stratified_and_seeded() -> None:
    labels = np.array([0] * 10 + [1] * 10)
    train_a, val_a = split_indices(labels, 0.2, seed=1)
    train_b, val_b = split_indices(labels, 0.2, seed=1)
    assert np.array_equal(val_a, val_b) and np.array_equal(train_a, train_b)
    assert sorted(labels[val_a].tolist()) == [0, 0, 1, 1]
    assert set(train_a) | set(val_a) == set(range(20)) and not set(train_a) & set(val_a)


def test_augment_keeps_shape_and_range() -> None:
    batch = torch.rand(4, 3, 20, 20)
    out = augment(batch, torch.Generator().manual_seed(0))
    assert out.shape == batch.shape
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    assert not torch.equal(out, batch)


def test_training_learns_and_round_trips(tmp_path: Path) -> None:
    root = write_tiny_folder(tmp_path / "data")
    data = load_image_folder(root, (24, 24))
    result = train(data, "mobilenet_v3_small", (24, 24), epochs=6, seed=3, device="cpu",
                   val_split=0.25, batch_size=8, learning_rate=3e-3, out=tmp_path / "m.pt")
    losses = [entry["loss"] for entry in result.history]
    assert losses[-1] < losses[0]
    loaded = load_model(tmp_path / "m.pt")
    assert loaded.classes == list(CLASSES)
    assert loaded.extra["trained_on"]["train_images"] + loaded.extra["trained_on"][
        "val_images"] == 24
    np.testing.assert_allclose(loaded.predict(list(data.images)),
                               result.model.predict(list(data.images)), atol=1e-5)


def test_same_seed_same_weights(tmp_path: Path) -> None:
    data = load_image_folder(write_tiny_folder(tmp_path / "data", per_class=6), (16, 16))
    runs = [train(data, "mobilenet_v3_small", (16, 16), epochs=1, seed=5, device="cpu",
                  val_split=0.0, batch_size=4) for _ in range(2)]
    first, second = (run.model.module.state_dict() for run in runs)
    assert all(torch.equal(first[key], second[key]) for key in first)


def test_train_command(tmp_path: Path, capsys) -> None:
    root = write_tiny_folder(tmp_path / "data", per_class=4)
    out = tmp_path / "cli.pt"
    status = main(["train", str(root), "--arch", "mobilenet_v3_small", "--out", str(out),
                   "--epochs", "1", "--input-size", "16", "16", "--device", "cpu"])
    assert status == 0
    assert out.is_file() and "wrote" in capsys.readouterr().out
    assert main(["train", str(root), "--arch", "nonet", "--out", str(out)]) == 2


def test_ctrl_c_keeps_the_best_epoch_so_far(tmp_path: Path) -> None:
    data = load_image_folder(write_tiny_folder(tmp_path / "data", per_class=6), (16, 16))
    seen = []

    def interrupt_in_epoch_two(step) -> None:
        seen.append((step.epoch, step.batch, step.epoch_done))
        if step.epoch == 2 and step.batch == 2:
            raise KeyboardInterrupt

    result = train(data, "mobilenet_v3_small", (16, 16), epochs=5, seed=0, device="cpu",
                   val_split=0.25, batch_size=4, out=tmp_path / "stopped.pt",
                   progress=interrupt_in_epoch_two)
    assert result.interrupted and result.best_epoch == 1
    assert len(result.history) == 1 and max(epoch for epoch, _, _ in seen) == 2
    bundle = load_model(tmp_path / "stopped.pt")
    assert bundle.extra["trained_on"]["interrupted"] is True
    assert bundle.extra["trained_on"]["best_epoch"] == 1
