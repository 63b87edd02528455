"""Validation of what a model file (or the user) says about a model: class names, input size,
normalisation, and the model's output width on a probe input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch

from leakview.errors import PathError, exception_reason
from leakview.models.loaded import LoadedModel


class ModelLoadError(PathError):
    """A model file that cannot be used; carries the path and a human-readable reason."""


def check_classes(path: Path, classes: Any, key: str = "classes") -> list[str]:
    if (not isinstance(classes, (list, tuple)) or len(classes) < 2
            or not all(isinstance(name, str) and name for name in classes)):
        raise ModelLoadError(path, f"key {key!r} must be a list of at least two class names")
    if len(set(classes)) != len(classes):
        raise ModelLoadError(path, f"key {key!r} has duplicate names")
    return list(classes)


def check_floats(path: Path, key: str, value: Any, length: int) -> tuple[float, ...]:
    try:
        numbers = [float(item) for item in value]
    except (TypeError, ValueError):
        numbers = []
    if len(numbers) != length or not all(np.isfinite(numbers)):
        raise ModelLoadError(path, f"key {key!r} must be a list of {length} numbers, got {value!r}")
    return tuple(numbers)


def check_input_size(path: Path, key: str, value: Any) -> tuple[int, int]:
    size = check_floats(path, key, value, 2)
    if not all(number == int(number) and number >= 8 for number in size):
        raise ModelLoadError(path, f"key {key!r} must be whole numbers >= 8, got {value!r}")
    return int(size[0]), int(size[1])


def check_channels(path: Path, key: str, value: Any, channels: int = 3) -> tuple[float, ...]:
    """One finite number per input channel (``mean``, ``std``; ``std`` must be positive)."""
    numbers = check_floats(path, key, value, channels)
    if key == "std" and any(number <= 0 for number in numbers):
        raise ModelLoadError(path, f"key 'std' must be positive, got {list(numbers)}")
    return numbers


def check_output_width(path: Path, model: LoadedModel, named_by: str = "the sidecar") -> None:
    """Run one zero input through the model: it must work and output one score per class."""
    try:
        width = _probe_width(model, model.channels)
    except Exception as error:  # an opaque module can raise anything on a bad input
        height, side = model.input_size
        reason = (f"the model fails on a {model.channels}-channel {height}x{side} input "
                  f"({exception_reason(error)})")
        other = 1 if model.channels == 3 else 3
        if _runs_on(model, other):
            reason += (f"; it runs on {other}-channel input: describe it with a mean and std "
                       f"of {other} number{'s' if other > 1 else ''} each")
        raise ModelLoadError(path, reason) from None
    if width != model.num_classes:
        raise ModelLoadError(path, f"the model outputs {width} scores but {named_by} names "
                                   f"{model.num_classes} classes")


def _probe_width(model: LoadedModel, channels: int) -> int:
    """The output width of the model on one zero input of ``channels`` channels."""
    probe = torch.zeros((1, channels, *model.input_size), device=model.device)
    with torch.inference_mode():
        return int(model.module(probe).shape[-1])


def _runs_on(model: LoadedModel, channels: int) -> bool:
    try:
        _probe_width(model, channels)
    except Exception:  # noqa: BLE001 - only whether it runs matters
        return False
    return True


def read_json_object(path: Path, what: str = "JSON") -> dict[str, Any]:
    """The JSON object in ``path``, or a ModelLoadError "unreadable WHAT (...)"."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelLoadError(path, f"unreadable {what} ({error})") from None
    if not isinstance(data, dict):
        raise ModelLoadError(path, f"{what} must be an object")
    return data


def is_plain_data(value: Any) -> bool:
    """Whether ``value`` is str/number/bool/None or lists and str-keyed dicts of them."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if isinstance(value, (list, tuple)):
        return all(is_plain_data(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and is_plain_data(item) for key, item in value.items())
    return False


class ModelSpecNeeded(ModelLoadError):
    """A readable model file that does not say everything leakview needs (a bare state_dict
    has no class names, ...). ``missing`` names the :class:`~leakview.models.spec.ModelSpec`
    fields to give (``arch``, ``classes``, ...); ``guessed_arch`` is the architecture the
    weights point to, when they point to exactly one. The window asks for these in a dialog;
    the command line names its flags."""

    def __init__(self, path: Path, reason: str, missing: tuple[str, ...],
                 guessed_arch: str | None = None) -> None:
        super().__init__(path, reason)
        self.missing = missing
        self.guessed_arch = guessed_arch

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.reason, self.missing, self.guessed_arch))
