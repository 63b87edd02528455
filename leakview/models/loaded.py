"""The one model interface every source adapter returns: :class:`LoadedModel`, plus the device
choice and the one resize of leakview's preprocessing."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from leakview.errors import PathError, exception_reason

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
DEFAULT_BATCH_SIZE = 32
# ITU-R BT.601 luma, the weights of torchvision.transforms.Grayscale (and PIL's "L" mode), so a
# model trained on torchvision's grayscale images sees the same values here.
GRAY_WEIGHTS = (0.299, 0.587, 0.114)

# The capabilities a method may need (see leakview.attribution.registry, MethodInfo.needs).
GRADIENTS = "gradients"
HOOKS = "hooks"


class ModelRunError(PathError):
    """A loaded model that raised on inputs of the size and channels it declared (a batch
    size it does not take, ...); the path is its file (or its architecture's name)."""


def choose_device(requested: str | torch.device | None = None) -> torch.device:
    """The device to run on: ``requested`` if given (``"cpu"``, ``"cuda:1"``, ...), else CUDA
    when available, else the CPU. ``"auto"`` means the same as ``None``."""
    if requested is None or str(requested) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(requested)
    except RuntimeError as error:
        raise ValueError(f"unknown device {requested!r}: {error}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {requested!r} requested but CUDA is not available here")
    if device.type == "cuda" and device.index is not None \
            and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {requested!r} requested but this machine has "
                         f"{torch.cuda.device_count()} CUDA device(s)")
    return device


@dataclass
class LoadedModel:
    """A classifier ready for prediction and attribution, whatever file it came from.

    ``module`` is a ``torch.nn.Module`` (in eval mode, on ``device``) mapping a preprocessed
    batch ``N x channels x H x W`` to logits ``N x len(classes)``. ``channels`` is 3 (RGB) or
    1 (the image converted to gray with :data:`GRAY_WEIGHTS` before normalising); ``mean`` and
    ``std`` have one entry per channel.

    ``kind`` names the source (``bundle``, ``state_dict``, ``checkpoint``, ``safetensors``,
    ``torchscript``, ``timm``, ``huggingface``, ``onnx``, ``torch.export``).
    ``unavailable`` maps a capability the module lacks (:data:`GRADIENTS`, :data:`HOOKS`) to
    the reason, so the attribution registry can refuse a method before it runs. ``notes`` are
    one-line facts about how the model was read (an architecture guessed from the weights, a
    prefix stripped, ...), shown by ``leakview info`` and the window.
    """

    module: torch.nn.Module
    classes: list[str]
    input_size: tuple[int, int]
    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    arch: str = "torchscript"
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    extra: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None
    kind: str = "bundle"
    channels: int = 3
    unavailable: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def gradcam_layer(self) -> str | None:
        """Module name of the Grad-CAM layer recorded in the bundle, if any."""
        layer = self.extra.get("gradcam_layer")
        return str(layer) if layer else None

    def preprocess(self, image: np.ndarray) -> torch.Tensor:
        """RGB uint8 ``H x W x 3`` -> normalised float tensor ``channels x h x w`` on the
        device, resized (bilinear, antialiased) to the model's input size."""
        return self.preprocess_batch([image])[0]

    def preprocess_batch(self, images: Iterable[np.ndarray]) -> torch.Tensor:
        """Preprocess several images of any sizes into one ``N x channels x h x w`` tensor."""
        resized = [resize_uint8(image, self.input_size) for image in images]
        if not resized:
            return torch.empty((0, self.channels, *self.input_size), device=self.device)
        batch = torch.from_numpy(np.stack(resized)).to(self.device)
        return self.normalise(batch.permute(0, 3, 1, 2).float() / 255.0)

    def normalise(self, rgb01: torch.Tensor) -> torch.Tensor:
        """An RGB batch ``N x 3 x h x w`` in 0..1 -> the model's input (gray first when
        ``channels`` is 1, then ``(x - mean) / std``)."""
        if self.channels == 1:
            weights = torch.tensor(GRAY_WEIGHTS, dtype=rgb01.dtype, device=rgb01.device)
            rgb01 = (rgb01 * weights.view(1, 3, 1, 1)).sum(dim=1, keepdim=True)
        mean = torch.tensor(self.mean, dtype=rgb01.dtype, device=rgb01.device)
        std = torch.tensor(self.std, dtype=rgb01.dtype, device=rgb01.device)
        return (rgb01 - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)

    def logits(self, batch: torch.Tensor) -> torch.Tensor:
        """Logits of a preprocessed batch (gradients flow; no mode change)."""
        logits: torch.Tensor = self.module(batch)
        return logits

    def predict(self, images: Sequence[np.ndarray], batch_size: int = DEFAULT_BATCH_SIZE
                ) -> np.ndarray:
        """Class probabilities ``N x C`` (float32) for RGB uint8 images, in batches."""
        outputs = []
        with torch.inference_mode():
            for start in range(0, len(images), batch_size):
                batch = self.preprocess_batch(images[start:start + batch_size])
                outputs.append(torch.softmax(self._run(batch).float(), dim=1).cpu().numpy())
        if not outputs:
            return np.zeros((0, self.num_classes), dtype=np.float32)
        return np.concatenate(outputs, axis=0)

    def _run(self, batch: torch.Tensor) -> torch.Tensor:
        """The module on ``batch``; what it raises becomes one :class:`ModelRunError`."""
        try:
            output: torch.Tensor = self.module(batch)
        except Exception as error:  # an opaque module can raise anything
            count, channels, height, width = batch.shape
            raise ModelRunError(self.source or self.arch,
                                f"the model fails on a batch of {count} {channels}-channel "
                                f"{height}x{width} inputs ({exception_reason(error)})") from None
        return output

    def to(self, device: str | torch.device) -> LoadedModel:
        """Move the model to ``device`` (in place) and return it."""
        self.device = choose_device(device)
        self.module.to(self.device)
        return self


def resize_uint8(image: np.ndarray, size: Sequence[int]) -> np.ndarray:
    """Resize an RGB uint8 image to ``size`` (h, w): bilinear, antialiased, in uint8 on the CPU.

    The one resize of leakview's preprocessing: training, prediction and attribution all use
    it, so a model sees the same pixels whichever path an image takes.
    """
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise ValueError(f"expected an RGB uint8 image H x W x 3, got {array.dtype} {array.shape}")
    if tuple(array.shape[:2]) == tuple(size):
        return np.ascontiguousarray(array)
    # Kept channels-last (no .contiguous()): torch's uint8 antialiased bilinear kernel takes
    # that layout directly; an NCHW copy is about 5x slower for the same pixels.
    tensor = torch.from_numpy(np.ascontiguousarray(array)).permute(2, 0, 1)[None]
    resized = F.interpolate(tensor, size=tuple(int(v) for v in size), mode="bilinear",
                            align_corners=False, antialias=True)
    return resized[0].permute(1, 2, 0).contiguous().numpy()
