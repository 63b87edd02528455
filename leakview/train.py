"""Train or fine-tune a torchvision classifier on an ImageFolder tree and write a bundle.

The images are decoded once, resized to the model's input size and kept in memory as uint8
(128x128 RGB is 48 KiB an image: 10,000 images take about 0.5 GB). Augmentation runs on whole
batches: random shifts (reflect padding), horizontal flips, brightness/contrast jitter.
"""

from __future__ import annotations

import copy
import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from leakview import __version__
from leakview.images import ImageLoadError, discover_images, load_image, relative_name
from leakview.masks import LEAKVIEW_DIR
from leakview.models import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    LoadedModel,
    ModelSpec,
    build_architecture,
    choose_device,
    load_model,
    resize_uint8,
    save_bundle,
)
from leakview.models.twin import rebuild_arch


@dataclass
class ImageFolderData:
    """An ImageFolder tree decoded and resized to one input size."""

    root: Path
    classes: list[str]
    images: np.ndarray  # N x h x w x 3 uint8
    labels: np.ndarray  # N int64
    paths: list[str]  # relative, "/"-separated
    skipped: list[str] = field(default_factory=list)  # "path: reason" of unreadable files


def find_classes(root: str | os.PathLike[str]) -> list[str]:
    """Class names of an ImageFolder tree: its non-hidden sub-folders, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder")
    classes = sorted(entry.name for entry in root.iterdir()
                     if entry.is_dir() and not entry.name.startswith("."))
    if len(classes) < 2:
        raise ValueError(f"{root}: an ImageFolder tree needs at least two class folders "
                         f"(root/<class>/<image>), found {classes or 'none'}")
    return classes


def load_image_folder(root: str | os.PathLike[str], input_size: Sequence[int],
                      classes: Sequence[str] | None = None,
                      progress: Callable[[int, int], None] | None = None) -> ImageFolderData:
    """Decode every image of ``root/<class>/...`` at ``input_size``; unreadable files are
    skipped and listed in ``skipped``."""
    root = Path(root)
    classes = list(classes) if classes is not None else find_classes(root)
    index = {name: position for position, name in enumerate(classes)}
    paths = [path for path in discover_images(root)
             if relative_name(path, root).split("/")[0] in index
             and "/" in relative_name(path, root)]
    images, labels, names, skipped = [], [], [], []
    for done, path in enumerate(paths, start=1):
        name = relative_name(path, root)
        try:
            images.append(resize_uint8(load_image(path), input_size))
        except ImageLoadError as error:
            skipped.append(str(error))
            continue
        labels.append(index[name.split("/")[0]])
        names.append(name)
        if progress:
            progress(done, len(paths))
    if not images:
        raise ValueError(f"{root}: no readable images in the class folders {classes}")
    return ImageFolderData(root=root, classes=classes, images=np.stack(images),
                           labels=np.asarray(labels, dtype=np.int64), paths=names,
                           skipped=skipped)


def split_indices(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, seeded split into (train, validation) indices."""
    rng = np.random.default_rng(seed)
    train: list[np.int64] = []
    val: list[np.int64] = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        count = int(round(len(members) * fraction)) if fraction > 0 else 0
        if fraction > 0 and len(members) > 1:
            count = min(max(count, 1), len(members) - 1)
        val.extend(members[:count])
        train.extend(members[count:])
    return np.sort(np.asarray(train, dtype=np.int64)), np.sort(np.asarray(val, dtype=np.int64))


def augment(batch: torch.Tensor, generator: torch.Generator, max_shift: float = 0.06,
            flip: bool = True, jitter: float = 0.15) -> torch.Tensor:
    """Random shift, horizontal flip and brightness/contrast jitter of a float batch in [0, 1]."""
    count, _, height, width = batch.shape
    pad_y, pad_x = int(round(height * max_shift)), int(round(width * max_shift))
    if pad_y or pad_x:
        padded = F.pad(batch, (pad_x, pad_x, pad_y, pad_y), mode="reflect")
        offsets_y = torch.randint(0, 2 * pad_y + 1, (count,), generator=generator)
        offsets_x = torch.randint(0, 2 * pad_x + 1, (count,), generator=generator)
        batch = torch.stack([padded[i, :, y:y + height, x:x + width]
                             for i, (y, x) in enumerate(zip(offsets_y.tolist(),
                                                            offsets_x.tolist()))])
    if flip:
        flips = torch.rand(count, generator=generator) < 0.5
        batch = torch.where(flips.view(-1, 1, 1, 1), batch.flip(-1), batch)
    if jitter:
        brightness = 1 + (torch.rand(count, 1, 1, 1, generator=generator) * 2 - 1) * jitter
        contrast = 1 + (torch.rand(count, 1, 1, 1, generator=generator) * 2 - 1) * jitter
        mean = batch.mean(dim=(1, 2, 3), keepdim=True)
        batch = ((batch - mean) * contrast + mean) * brightness
    return batch.clamp(0, 1)


@dataclass
class TrainProgress:
    """One progress report: batch-level during an epoch, with validation at its end."""

    epoch: int
    epochs: int
    batch: int
    batches: int
    loss: float
    accuracy: float
    val_accuracy: float | None = None
    elapsed: float = 0.0
    epoch_done: bool = False


@dataclass
class TrainResult:
    model: LoadedModel
    history: list[dict[str, Any]]
    best_epoch: int
    best_val_accuracy: float | None
    interrupted: bool
    out: Path | None


def _as_float(images: np.ndarray, device: torch.device) -> torch.Tensor:
    return torch.from_numpy(images).to(device).permute(0, 3, 1, 2).float() / 255.0


def accuracy(model: LoadedModel, images: np.ndarray, labels: np.ndarray,
             batch_size: int = 128) -> float:
    """Top-1 accuracy of ``model`` on uint8 images already at its input size."""
    if len(labels) == 0:
        return float("nan")
    predictions = model.predict(list(images), batch_size=batch_size).argmax(axis=1)
    return float(np.mean(predictions == labels))


def train(data: ImageFolderData, arch: str, input_size: Sequence[int], epochs: int = 10,
          seed: int = 0, device: str | None = None, val_split: float = 0.15,
          batch_size: int = 64, learning_rate: float = 2e-3, weight_decay: float = 1e-4,
          init: str | os.PathLike[str] | None = None, out: str | os.PathLike[str] | None = None,
          progress: Callable[[TrainProgress], None] | None = None,
          augmentation: dict[str, Any] | None = None, extra: dict[str, Any] | None = None,
          init_spec: ModelSpec | None = None) -> TrainResult:
    """Train ``arch`` on ``data`` (already at ``input_size``); keep the best epoch by validation
    accuracy (the last when there is no validation set) and write it to ``out`` as a bundle.
    ``init`` is a model to fine-tune, described by ``init_spec`` where its file does not
    describe itself.

    Ctrl-C (KeyboardInterrupt) stops after the current batch; the best model so far is kept,
    written and returned with ``interrupted=True``. Deterministic for a seed on the CPU.
    """
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1, got {epochs}")
    if batch_size < 2:
        raise ValueError(f"the batch size must be at least 2 (BatchNorm learns from batches "
                         f"of two or more), got {batch_size}")
    torch.manual_seed(seed)
    target_device = choose_device(device)
    input_size = tuple(int(size) for size in input_size)
    if tuple(data.images.shape[1:3]) != input_size:
        raise ValueError(f"images are {data.images.shape[1:3]} but input size is {input_size}")
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    channels = 3
    if init is not None:
        start = load_model(init, device=target_device, spec=init_spec)
        if start.classes != data.classes:
            raise ValueError(f"{init}: its classes {start.classes} differ from the data's "
                             f"{data.classes}")
        module, arch, mean, std = start.module, rebuild_arch(start), start.mean, start.std
        channels = start.channels  # a gray model trains on gray images (LoadedModel.normalise)
    else:
        module = build_architecture(arch, len(data.classes), input_size)
    module.to(target_device)
    _quicken_batchnorm(module)
    train_idx, val_idx = split_indices(data.labels, val_split, seed)
    if len(train_idx) < 2:
        raise ValueError(f"{data.root}: training needs at least 2 training images (BatchNorm "
                         f"learns from batches of two or more), found {len(train_idx)}"
                         + (f" after holding out {len(val_idx)} for validation"
                            if len(val_idx) else ""))
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(module.parameters(), lr=learning_rate,
                                  weight_decay=weight_decay)
    batches = max(1, math.ceil(len(train_idx) / batch_size))
    scheduler = learning_rate_scheduler(optimizer, learning_rate, epochs * batches)
    evaluator = LoadedModel(module=module, classes=data.classes, input_size=input_size,
                            mean=mean, std=std, arch=arch, device=target_device,
                            channels=channels)
    history: list[dict[str, Any]] = []
    best_state, best_epoch, best_val = None, 0, None
    interrupted = False
    started = time.monotonic()
    try:
        for epoch in range(1, epochs + 1):
            module.train()
            order = train_idx[torch.randperm(len(train_idx), generator=generator).numpy()]
            seen = correct = 0
            loss_sum = 0.0
            for batch_number in range(batches):
                chosen = order[batch_number * batch_size:(batch_number + 1) * batch_size]
                if len(chosen) < 2 and batch_number > 0:
                    continue  # BatchNorm cannot train on a batch of one
                inputs = augment(_as_float(data.images[chosen], target_device),
                                 generator, **(augmentation or {}))
                targets = torch.from_numpy(data.labels[chosen]).to(target_device)
                logits = module(evaluator.normalise(inputs))
                loss = F.cross_entropy(logits, targets)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                scheduler.step()
                seen += len(chosen)
                correct += int((logits.argmax(1) == targets).sum())
                loss_sum += loss.item() * len(chosen)
                if progress:
                    progress(TrainProgress(epoch, epochs, batch_number + 1, batches,
                                           loss_sum / seen, correct / seen,
                                           elapsed=time.monotonic() - started))
            module.eval()
            val_accuracy = (accuracy(evaluator, data.images[val_idx], data.labels[val_idx])
                            if len(val_idx) else None)
            history.append({"epoch": epoch, "loss": loss_sum / max(seen, 1),
                            "accuracy": correct / max(seen, 1), "val_accuracy": val_accuracy})
            if progress:
                progress(TrainProgress(epoch, epochs, batches, batches, loss_sum / max(seen, 1),
                                       correct / max(seen, 1), val_accuracy,
                                       time.monotonic() - started, epoch_done=True))
            if val_accuracy is None or best_val is None or val_accuracy >= best_val:
                best_state = copy.deepcopy(module.state_dict())
                best_epoch, best_val = epoch, val_accuracy
    except KeyboardInterrupt:
        interrupted = True
    if best_state is None:  # interrupted during the first epoch: keep what there is
        best_state, best_epoch = copy.deepcopy(module.state_dict()), 0
    module.load_state_dict(best_state)
    module.eval()
    trained_on = _provenance(data, train_idx, val_idx, epochs, seed, history, best_epoch,
                             best_val, interrupted, init)
    out_path = None
    if out is not None:
        out_path = save_bundle(out, module, arch, data.classes, input_size, mean, std,
                               trained_on=trained_on, **(extra or {}))
    evaluator.extra = {"trained_on": trained_on, **(extra or {})}
    return TrainResult(model=evaluator, history=history, best_epoch=best_epoch,
                       best_val_accuracy=best_val, interrupted=interrupted, out=out_path)


WARM_UP_SHARE = 0.2
"""The share of the training steps over which the learning rate rises to its peak."""


def learning_rate_scheduler(optimizer: torch.optim.Optimizer, learning_rate: float,
                            total_steps: int) -> torch.optim.lr_scheduler.LRScheduler:
    """The learning rate over ``total_steps`` optimiser steps: one cycle (a warm-up over
    :data:`WARM_UP_SHARE` of the steps to ``learning_rate``, then cosine annealing) where the
    warm-up spans more than one step, else a constant ``learning_rate``. torch's OneCycleLR
    divides by zero when its warm-up ends on its first step (5 steps) and, with fewer, starts
    at its final rate (1/250,000 of the peak): a run that short would not train."""
    if WARM_UP_SHARE * total_steps > 1:
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=learning_rate, total_steps=total_steps, pct_start=WARM_UP_SHARE)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)


def _quicken_batchnorm(module: torch.nn.Module, momentum: float = 0.1) -> None:
    """Some torchvision models (MobileNetV3, EfficientNet) use BatchNorm momentum 0.01 for long
    ImageNet runs; on a few hundred steps their running statistics would lag far behind the
    weights and evaluation would collapse to one class. Training-time only: inference is
    unaffected."""
    for layer in module.modules():
        if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm) and layer.momentum is not None:
            layer.momentum = max(layer.momentum, momentum)


def _provenance(data: ImageFolderData, train_idx: np.ndarray, val_idx: np.ndarray, epochs: int,
                seed: int, history: list[dict[str, Any]], best_epoch: int, best_val: float | None,
                interrupted: bool, init: str | os.PathLike[str] | None) -> dict[str, Any]:
    """What the bundle records about its training (plain data only)."""
    description_file = data.root / LEAKVIEW_DIR / "dataset.json"
    dataset = None
    if description_file.is_file():
        try:
            dataset = json.loads(description_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            dataset = None
    return {
        "root": str(data.root),
        "classes": list(data.classes),
        "train_images": int(len(train_idx)),
        "val_images": int(len(val_idx)),
        "epochs": int(epochs),
        "best_epoch": int(best_epoch),
        "val_accuracy": best_val,
        "seed": int(seed),
        "interrupted": bool(interrupted),
        "init": str(init) if init else None,
        "history": history,
        "dataset": dataset,
        "leakview_version": __version__,
    }
