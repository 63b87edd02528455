"""The canary's training phases: the held-out split (the same images for both models) and
one model trained on the honest or on the leaky images, with the same seed."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from leakview.canary.config import CanaryConfig
from leakview.canary.control import RunControl
from leakview.canary.leaky_copy import CanaryData

if TYPE_CHECKING:
    from leakview.train import TrainProgress, TrainResult


def split(data: CanaryData, config: CanaryConfig) -> tuple[np.ndarray, np.ndarray]:
    """Stratified ``(train, held-out)`` indices (:func:`leakview.train.split_indices`)."""
    from leakview.train import split_indices

    labels = np.asarray(data.labels, dtype=np.int64)
    return split_indices(labels, config.holdout, config.seed)


def train_model(which: str, data: CanaryData, train_idx: np.ndarray, config: CanaryConfig,
                arch: str, input_size: tuple[int, int], marker_params: Any, path: Path,
                control: RunControl) -> TrainResult:
    """Train model ``which`` ("clean" or "leaky") on ``train_idx`` and write its bundle to
    ``path``. A cancelled run raises from inside :func:`leakview.train.train` (no bundle)."""
    from leakview.train import train

    folder = data.folder(which, train_idx)
    steps_per_epoch = max(1, math.ceil(
        (len(train_idx) - int(round(len(train_idx) * config.select_fraction)))
        / config.batch_size))
    total = steps_per_epoch * config.epochs

    def on_step(step: TrainProgress) -> None:
        done = min(total, (step.epoch - 1) * steps_per_epoch + step.batch)
        text = f"epoch {step.epoch}/{step.epochs} loss {step.loss:.3f} acc {step.accuracy:.3f}"
        if step.val_accuracy is not None:
            text += f" val_acc {step.val_accuracy:.3f}"
        control.report(done, total, text)
        control.check()  # Cancelled propagates out of train(): no bundle is written

    return train(folder, arch, input_size, epochs=config.epochs, seed=config.seed,
                 device=config.device, val_split=config.select_fraction,
                 batch_size=config.batch_size, learning_rate=config.learning_rate,
                 init=config.init, init_spec=config.init_spec, out=path, progress=on_step,
                 augmentation={"flip": bool(config.flip)},
                 extra={"canary": {"role": which, "marker": marker_params,
                                   "held_out_images": int(len(data.labels) - len(train_idx))}})


def model_info(result: TrainResult, path: Path, config: CanaryConfig, train_images: int,
               seconds: float) -> dict[str, Any]:
    """One trained model as the reports describe it."""
    return {
        "path": str(path), "arch": result.model.arch, "epochs": config.epochs,
        "best_epoch": result.best_epoch, "select_accuracy": result.best_val_accuracy,
        "train_images": int(train_images), "interrupted": result.interrupted,
        "final_train_accuracy": (result.history[-1]["accuracy"] if result.history
                                 else None),
        "history": result.history, "seconds": round(seconds, 3),
    }
