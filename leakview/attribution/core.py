"""Shared pieces of every attribution method: the result type, cancellation, option specs,
progress reporting and the small tensor helpers (input preparation, map resizing, blur).

Nothing here imports Qt; everything runs on the model's device.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from leakview.models import LoadedModel

ProgressFn = Callable[[int, int, "Attribution | None"], None]
StopFn = Callable[[], bool]


class Cancelled(Exception):
    """Raised by an attribution method when ``should_stop()`` turned true (checked between
    batches, so it arrives within one batch of the request)."""


@dataclass
class Attribution:
    """One attribution map for one image and one target class.

    ``map`` is ``H x W`` float32 at the loaded image's resolution (bilinear resize of
    ``map_model``); ``map_model`` is ``h x w`` float32 at the model's input resolution.
    ``signed`` says whether negative values carry meaning (IG, LIME) or the map is a
    non-negative magnitude (saliency, SmoothGrad, Grad-CAM). ``options`` holds the effective
    options, defaults included; ``extras`` holds method-specific data (see each method).
    ``probabilities`` are the model's class probabilities on the unperturbed image.
    """

    method: str
    target: int
    target_name: str
    map: np.ndarray
    map_model: np.ndarray
    signed: bool
    options: dict[str, Any] = field(default_factory=dict)
    extras: dict[str, Any] = field(default_factory=dict)
    probabilities: np.ndarray | None = None


@dataclass(frozen=True)
class OptionSpec:
    """A self-describing option of a method (the CLI and the GUI build their widgets from it).

    ``kind`` is one of ``int``, ``float``, ``choice``, ``bool``, ``str``.
    """

    name: str
    kind: str
    default: Any
    help: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] | None = None

    def validate(self, value: Any, method: str = "") -> Any:
        """The value coerced to this option's kind (strings from a command line are parsed);
        raises ValueError naming the option and what is allowed."""
        where = f"option {self.name!r}" + (f" of method {method!r}" if method else "")
        kind = self.kind
        try:
            if kind == "bool":
                if isinstance(value, (bool, np.bool_)):
                    return bool(value)
                if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
                    return _BOOL_WORDS[value.strip().lower()]
                if isinstance(value, (int, np.integer)) and value in (0, 1):
                    return bool(value)
                raise ValueError
            if kind == "int":
                if isinstance(value, (bool, np.bool_)):
                    raise ValueError
                if isinstance(value, str):
                    number = int(value.strip())
                elif isinstance(value, (float, np.floating)):
                    if not float(value).is_integer():
                        raise ValueError
                    number = int(value)
                else:
                    number = operator.index(value)
                self._check_range(number, where)
                return number
            if kind == "float":
                if isinstance(value, (bool, np.bool_)):
                    raise ValueError
                real = float(value)
                if not math.isfinite(real):
                    raise ValueError
                self._check_range(real, where)
                return real
            if kind == "choice":
                text = str(value)
                if text not in (self.choices or ()):
                    raise ValueError(f"{where} must be one of {', '.join(self.choices or ())}; "
                                     f"got {value!r}")
                return text
            if kind == "str":
                if not isinstance(value, str):
                    raise ValueError
                return value
        except _RangeError as error:
            raise ValueError(str(error)) from None
        except (TypeError, ValueError, OverflowError) as error:
            if str(error).startswith(where):
                raise
            raise ValueError(f"{where} expects {self.describe_kind()}, got {value!r}") from None
        raise ValueError(f"{where} has an unknown kind {kind!r}")

    def _check_range(self, number: float, where: str) -> None:
        if self.minimum is not None and number < self.minimum:
            raise _RangeError(f"{where} must be >= {self.minimum}, got {number}")
        if self.maximum is not None and number > self.maximum:
            raise _RangeError(f"{where} must be <= {self.maximum}, got {number}")

    def describe_kind(self) -> str:
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices or ())
        bounds = ""
        if self.minimum is not None or self.maximum is not None:
            low = "" if self.minimum is None else f"{self.minimum} <= "
            high = "" if self.maximum is None else f" <= {self.maximum}"
            bounds = f" ({low}value{high})"
        return {"int": "an integer", "float": "a number", "bool": "true or false",
                "str": "text"}.get(self.kind, self.kind) + bounds


class _RangeError(ValueError):
    pass


_BOOL_WORDS = {"1": True, "true": True, "yes": True, "on": True,
               "0": False, "false": False, "no": False, "off": False}


class Reporter:
    """Progress and cancellation for one run: ``check()`` between batches raises
    :class:`Cancelled` when ``should_stop()`` is true; ``report()`` forwards to ``progress``."""

    def __init__(self, progress: ProgressFn | None, should_stop: StopFn | None) -> None:
        self._progress = progress
        self._should_stop = should_stop

    @property
    def listening(self) -> bool:
        """Whether anyone receives progress (methods skip building provisional results
        otherwise)."""
        return self._progress is not None

    def check(self) -> None:
        if self._should_stop is not None and self._should_stop():
            raise Cancelled("attribution cancelled")

    def report(self, done: int, total: int, provisional: Attribution | None = None) -> None:
        if self._progress is not None:
            self._progress(int(done), int(total), provisional)


# ---------------------------------------------------------------------------------------------
# Tensor helpers


def module_dtype(model: LoadedModel) -> torch.dtype:
    """The floating dtype of the module's parameters (float32 when it has none), so inputs can
    be cast to it (a float64 test model gets float64 inputs)."""
    for tensor in list(model.module.parameters()) + list(model.module.buffers()):
        if tensor.is_floating_point():
            return tensor.dtype
    return torch.float32


def check_image(image: Any) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image H x W x 3, got {array.dtype} "
                         f"{array.shape}")
    if array.shape[0] < 1 or array.shape[1] < 1:
        raise ValueError(f"empty image {array.shape}")
    return array


def check_target(model: LoadedModel, target: Any) -> int | None:
    """``None`` or a valid class index (ValueError otherwise)."""
    if target is None:
        return None
    if isinstance(target, (bool, np.bool_)) or not isinstance(target, (int, np.integer)):
        raise ValueError(f"target must be a class index (int) or None, got {target!r}")
    if not 0 <= int(target) < model.num_classes:
        raise ValueError(f"target {int(target)} out of range: the model has "
                         f"{model.num_classes} classes (0..{model.num_classes - 1})")
    return int(target)


def prepare_input(model: LoadedModel, image: np.ndarray) -> torch.Tensor:
    """The preprocessed ``1 x channels x h x w`` input on the device, in the module's dtype,
    detached (callers make their own leaf tensors)."""
    batch = model.preprocess_batch([check_image(image)])
    return batch.to(dtype=module_dtype(model)).detach()


def normalised_constant(model: LoadedModel, rgb01: Sequence[float], dtype: torch.dtype
                        ) -> torch.Tensor:
    """A pixel-space colour (0..1 per RGB channel) in the model's normalised input space,
    shape ``1 x channels x 1 x 1``."""
    colour = torch.tensor(list(rgb01), dtype=dtype, device=model.device).view(1, 3, 1, 1)
    return model.normalise(colour)


def denormalise(model: LoadedModel, batch: torch.Tensor) -> torch.Tensor:
    """Back from normalised to pixel space (0..1, not clamped; one gray channel for a
    1-channel model)."""
    mean = torch.tensor(model.mean, dtype=batch.dtype, device=batch.device).view(1, -1, 1, 1)
    std = torch.tensor(model.std, dtype=batch.dtype, device=batch.device).view(1, -1, 1, 1)
    return batch * std + mean


def resize_map(map_model: torch.Tensor, size: tuple[int, int]) -> np.ndarray:
    """``h x w`` map -> ``H x W`` float32 numpy array, bilinear (antialiased when shrinking)."""
    tensor = map_model.detach().to(torch.float32)
    if tuple(tensor.shape[-2:]) == tuple(size):
        return tensor.cpu().numpy().astype(np.float32, copy=True)
    shrinking = size[0] < tensor.shape[-2] or size[1] < tensor.shape[-1]
    resized = F.interpolate(tensor[None, None], size=tuple(int(s) for s in size),
                            mode="bilinear", align_corners=False, antialias=shrinking)
    return resized[0, 0].cpu().numpy().astype(np.float32, copy=False)


def make_attribution(model: LoadedModel, image_size: tuple[int, int], method: str, target: int,
                     map_model: torch.Tensor, signed: bool, options: dict[str, Any],
                     extras: dict[str, Any] | None = None,
                     probabilities: np.ndarray | None = None) -> Attribution:
    """Build an :class:`Attribution` from a model-resolution map tensor."""
    small = map_model.detach().to(torch.float32)
    return Attribution(
        method=method,
        target=int(target),
        target_name=str(model.classes[int(target)]),
        map=resize_map(small, image_size),
        map_model=small.cpu().numpy().astype(np.float32, copy=True),
        signed=signed,
        options=dict(options),
        extras=dict(extras or {}),
        probabilities=probabilities,
    )


def gaussian_blur(batch: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``N x C x h x w`` (replicate padding, so any sigma works on
    any size); ``sigma`` in pixels, 0 returns the input."""
    if sigma <= 0:
        return batch
    radius = max(1, int(math.ceil(3.0 * sigma)))
    offsets = torch.arange(-radius, radius + 1, dtype=batch.dtype, device=batch.device)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    channels = batch.shape[1]
    horizontal = kernel.view(1, 1, 1, -1).repeat(channels, 1, 1, 1)
    vertical = kernel.view(1, 1, -1, 1).repeat(channels, 1, 1, 1)
    out = F.pad(batch, (radius, radius, 0, 0), mode="replicate")
    out = F.conv2d(out, horizontal, groups=channels)
    out = F.pad(out, (0, 0, radius, radius), mode="replicate")
    return F.conv2d(out, vertical, groups=channels)


def softmax_numpy(logits: torch.Tensor) -> np.ndarray:
    return torch.softmax(logits.detach().to(torch.float32), dim=-1).cpu().numpy()
