"""leakview's own model file: one ``torch.save`` dict read back with ``weights_only=True``.

Keys: ``format``, ``arch`` (an architecture name, see :func:`leakview.models.build.build_model`),
``classes``, ``input_size`` ``[H, W]``, ``mean``, ``std`` (one number per input channel) and
``state_dict``, plus optional plain-data keys such as ``gradcam_layer`` and ``trained_on``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from leakview.atomic import atomic_open
from leakview.models.build import build_model
from leakview.models.checks import (
    ModelLoadError,
    check_channels,
    check_classes,
    check_input_size,
    is_plain_data,
)
from leakview.models.loaded import IMAGENET_MEAN, IMAGENET_STD, LoadedModel
from leakview.models.torchvision_models import load_state_dict_checked

BUNDLE_FORMAT = "leakview-model/1"
REQUIRED_KEYS = ("format", "arch", "classes", "input_size", "mean", "std", "state_dict")


def save_bundle(path: str | os.PathLike[str], module: torch.nn.Module, arch: str,
                classes: Sequence[str], input_size: Sequence[int],
                mean: Sequence[float] = IMAGENET_MEAN, std: Sequence[float] = IMAGENET_STD,
                **extra: Any) -> Path:
    """Write a model bundle atomically (temp file + rename); returns the path.

    ``extra`` adds optional keys (``gradcam_layer``, ``trained_on``, ...); their values must be
    plain data (str, numbers, lists, dicts) so the bundle loads with ``weights_only=True``.
    """
    path = Path(path)
    for key, value in extra.items():
        if not is_plain_data(value):
            raise ValueError(f"bundle key {key!r} must hold plain data (str, numbers, lists, "
                             f"dicts), not {type(value).__name__}")
    bundle = {
        "format": BUNDLE_FORMAT,
        "arch": arch,
        "classes": [str(name) for name in classes],
        "input_size": [int(size) for size in input_size],
        "mean": [float(value) for value in mean],
        "std": [float(value) for value in std],
        "state_dict": {key: value.detach().cpu().clone()
                       for key, value in module.state_dict().items()},
        **extra,
    }
    with atomic_open(path, "wb") as stream:
        torch.save(bundle, stream)
    return path


def is_bundle(content: Any) -> bool:
    """Whether a checkpoint's content claims to be a leakview bundle."""
    return isinstance(content, dict) and "format" in content and "state_dict" in content


def model_from_bundle(path: Path, bundle: Any, device: torch.device) -> LoadedModel:
    """The model a bundle describes, checked key by key."""
    if not isinstance(bundle, dict):
        raise ModelLoadError(path, f"not a leakview model bundle: it holds a "
                                   f"{type(bundle).__name__}, not a dict")
    missing = [key for key in REQUIRED_KEYS if key not in bundle]
    if missing:
        raise ModelLoadError(path, f"not a leakview model bundle: missing key(s) "
                                   f"{', '.join(missing)}")
    if bundle["format"] != BUNDLE_FORMAT:
        raise ModelLoadError(path, f"unsupported bundle format {bundle['format']!r} "
                                   f"(expected {BUNDLE_FORMAT!r})")
    classes = check_classes(path, bundle["classes"])
    input_size = check_input_size(path, "input_size", bundle["input_size"])
    channels = len(bundle["mean"]) if isinstance(bundle["mean"], (list, tuple)) else 3
    if channels not in (1, 3):
        channels = 3  # check_channels below reports the bad length
    mean = check_channels(path, "mean", bundle["mean"], channels)
    std = check_channels(path, "std", bundle["std"], channels)
    state_dict = bundle["state_dict"]
    if not isinstance(state_dict, dict) or not all(
            isinstance(value, torch.Tensor) for value in state_dict.values()):
        raise ModelLoadError(path, "key 'state_dict' must map parameter names to tensors")
    arch = str(bundle["arch"])
    extra = {key: value for key, value in bundle.items() if key not in REQUIRED_KEYS}
    try:
        module = build_model(arch, len(classes), input_size, channels, config=extra)
    except (ValueError, TypeError) as error:
        raise ModelLoadError(path, f"key 'arch': {error}") from None
    load_state_dict_checked(path, module, state_dict, arch)
    module.eval().to(device)
    return LoadedModel(module=module, classes=classes, input_size=input_size,
                       mean=mean, std=std, arch=arch, device=device,
                       extra=extra, source=path, kind="bundle", channels=channels)
