"""Model bundles: save, load safely, preprocess and predict.

A bundle is one file written with ``torch.save`` and read with ``torch.load(weights_only=True)``
(see the README's file formats): a dict with ``format``, ``arch`` (a torchvision classification
model name), ``classes``, ``input_size`` ``[H, W]``, ``mean``, ``std`` and ``state_dict``, plus
optional keys such as ``gradcam_layer`` and ``trained_on``. TorchScript archives are accepted
too, with their class names from a sidecar JSON. Nothing is ever unpickled with full pickle.
"""

from __future__ import annotations

import json
import os
import pickle
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
import torchvision

from leakview.atomic import atomic_open
from leakview.errors import PathError

BUNDLE_FORMAT = "leakview-model/1"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
REQUIRED_KEYS = ("format", "arch", "classes", "input_size", "mean", "std", "state_dict")
DEFAULT_BATCH_SIZE = 32

# Architectures whose constructors need extra arguments to build without pretrained weights.
_ARCH_KWARGS: dict[str, dict[str, Any]] = {
    "googlenet": {"aux_logits": False, "init_weights": False},
    "inception_v3": {"aux_logits": False, "init_weights": False},
}


class ModelLoadError(PathError):
    """A model file that cannot be used; carries the path and a human-readable reason."""


def classification_architectures() -> list[str]:
    """Names of the torchvision classification models a bundle may use."""
    return sorted(torchvision.models.list_models(module=torchvision.models))


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


def build_architecture(arch: str, num_classes: int, input_size: Sequence[int] = (224, 224)
                       ) -> torch.nn.Module:
    """A freshly initialised torchvision classifier ``arch`` with ``num_classes`` outputs."""
    if arch not in classification_architectures():
        raise ValueError(
            f"unknown architecture {arch!r}: expected a torchvision classification model "
            f"such as resnet18, mobilenet_v3_small or efficientnet_b0"
        )
    kwargs: dict[str, Any] = dict(_ARCH_KWARGS.get(arch, {}))
    if arch.startswith("vit_"):
        if input_size[0] != input_size[1]:
            raise ValueError(f"{arch} needs a square input size, got {list(input_size)}")
        kwargs["image_size"] = int(input_size[0])
    module: torch.nn.Module = torchvision.models.get_model(arch, weights=None,
                                                           num_classes=num_classes, **kwargs)
    return module


@dataclass
class LoadedModel:
    """A classifier ready for prediction and attribution.

    ``module`` is the ``torch.nn.Module`` (in eval mode, on ``device``) mapping a preprocessed
    batch ``N x 3 x H x W`` to logits ``N x len(classes)``.
    """

    module: torch.nn.Module
    classes: list[str]
    input_size: tuple[int, int]
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    arch: str = "torchscript"
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    extra: dict[str, Any] = field(default_factory=dict)
    source: Path | None = None

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def gradcam_layer(self) -> str | None:
        """Module name of the Grad-CAM layer recorded in the bundle, if any."""
        layer = self.extra.get("gradcam_layer")
        return str(layer) if layer else None

    def preprocess(self, image: np.ndarray) -> torch.Tensor:
        """RGB uint8 ``H x W x 3`` -> normalised float tensor ``3 x h x w`` on the device,
        resized (bilinear, antialiased) to the model's input size."""
        return self.preprocess_batch([image])[0]

    def preprocess_batch(self, images: Iterable[np.ndarray]) -> torch.Tensor:
        """Preprocess several images of any sizes into one ``N x 3 x h x w`` tensor."""
        resized = [resize_uint8(image, self.input_size) for image in images]
        if not resized:
            return torch.empty((0, 3, *self.input_size), device=self.device)
        batch = torch.from_numpy(np.stack(resized)).to(self.device)
        batch = batch.permute(0, 3, 1, 2).float() / 255.0
        mean = torch.tensor(self.mean, device=self.device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=self.device).view(1, 3, 1, 1)
        return (batch - mean) / std

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
                outputs.append(torch.softmax(self.module(batch).float(), dim=1).cpu().numpy())
        if not outputs:
            return np.zeros((0, self.num_classes), dtype=np.float32)
        return np.concatenate(outputs, axis=0)

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
        if not _is_plain_data(value):
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


def _is_plain_data(value: Any) -> bool:
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain_data(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(key, str) and _is_plain_data(item) for key, item in value.items())
    return False


def load_model(path: str | os.PathLike[str], device: str | torch.device | None = None
               ) -> LoadedModel:
    """Load a bundle or a TorchScript archive; never runs pickled code.

    Raises :class:`ModelLoadError` naming the file and what is wrong with it.
    """
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(path, "no such file")
    if path.is_dir():
        raise ModelLoadError(path, "is a folder, not a model file")
    try:
        target_device = choose_device(device)
    except ValueError as error:
        raise ModelLoadError(path, str(error)) from None
    if _is_torchscript(path):
        return _load_torchscript(path, target_device)
    bundle = _read_checkpoint(path)
    return _model_from_bundle(path, bundle, target_device)


def _is_torchscript(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.split("/", 1)[-1].startswith("code/") for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _holds_pickle_data(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            if stream.read(1) == pickle.PROTO:
                return True
        return zipfile.is_zipfile(path)
    except OSError:
        return False


def _read_checkpoint(path: Path) -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        # weights_only names what it refused: a GLOBAL (a Python object to import) or, in real
        # pickle data (protocol 2+ header or a torch zip), an opcode it does not run (protocol
        # 4+ uses FRAME: any plain pickle.dump). Random bytes also fail on an opcode.
        refused = [line for line in lines if "GLOBAL" in line
                   or (line.startswith("Unsupported") and _holds_pickle_data(path))]
        if not refused:
            detail = lines[0] if lines and len(lines[0]) < 120 else ""
            raise ModelLoadError(path, f"not a PyTorch checkpoint (unreadable pickle data"
                                       f"{': ' + detail if detail else ''})") from None
        # Everything weights_only refuses arrives here, checkpoints crafted to run code included.
        raise ModelLoadError(
            path,
            "refused: this file needs full pickle to load (it references Python objects or "
            "uses pickle instructions that weights_only loading does not allow), and leakview "
            "never runs pickled code, which could execute anything. Re-save it as a leakview "
            "bundle (leakview.models.save_bundle) from a trusted environment. "
            f"Detail: {refused[0]}",
        ) from None
    except PermissionError:
        raise ModelLoadError(path, "permission denied") from None
    except Exception as error:  # torch.load raises many types on arbitrary bytes
        detail = str(error).split("\n")[0] or type(error).__name__
        raise ModelLoadError(path, f"not a PyTorch checkpoint ({detail})") from None


def _model_from_bundle(path: Path, bundle: Any, device: torch.device) -> LoadedModel:
    if not isinstance(bundle, dict):
        raise ModelLoadError(path, f"not a leakview model bundle: it holds a "
                                   f"{type(bundle).__name__}, not a dict")
    missing = [key for key in REQUIRED_KEYS if key not in bundle]
    if missing:
        hint = ""
        if all(isinstance(value, torch.Tensor) for value in bundle.values()):
            hint = (" (it looks like a bare state_dict: wrap it with leakview.models.save_bundle, "
                    "naming its arch, classes and input size)")
        raise ModelLoadError(path, f"not a leakview model bundle: missing key(s) "
                                   f"{', '.join(missing)}{hint}")
    if bundle["format"] != BUNDLE_FORMAT:
        raise ModelLoadError(path, f"unsupported bundle format {bundle['format']!r} "
                                   f"(expected {BUNDLE_FORMAT!r})")
    classes = _check_classes(path, bundle["classes"])
    input_size = _check_input_size(path, "input_size", bundle["input_size"])
    mean = _check_channels(path, "mean", bundle["mean"])
    std = _check_channels(path, "std", bundle["std"])
    if any(value <= 0 for value in std):
        raise ModelLoadError(path, f"key 'std' must be positive, got {list(std)}")
    state_dict = bundle["state_dict"]
    if not isinstance(state_dict, dict) or not all(
            isinstance(value, torch.Tensor) for value in state_dict.values()):
        raise ModelLoadError(path, "key 'state_dict' must map parameter names to tensors")
    arch = bundle["arch"]
    try:
        module = build_architecture(str(arch), len(classes), input_size)
    except (ValueError, TypeError) as error:
        raise ModelLoadError(path, f"key 'arch': {error}") from None
    _load_state_dict(path, module, state_dict, str(arch))
    extra = {key: value for key, value in bundle.items()
             if key not in REQUIRED_KEYS}
    module.eval().to(device)
    return LoadedModel(module=module, classes=classes, input_size=input_size,
                       mean=mean, std=std, arch=str(arch), device=device,
                       extra=extra, source=path)


def _check_classes(path: Path, classes: Any) -> list[str]:
    if (not isinstance(classes, (list, tuple)) or len(classes) < 2
            or not all(isinstance(name, str) and name for name in classes)):
        raise ModelLoadError(path, "key 'classes' must be a list of at least two class names")
    if len(set(classes)) != len(classes):
        raise ModelLoadError(path, "key 'classes' has duplicate names")
    return list(classes)


def _check_floats(path: Path, key: str, value: Any, length: int) -> tuple[float, ...]:
    try:
        numbers = [float(item) for item in value]
    except (TypeError, ValueError):
        numbers = []
    if len(numbers) != length or not all(np.isfinite(numbers)):
        raise ModelLoadError(path, f"key {key!r} must be a list of {length} numbers, got {value!r}")
    return tuple(numbers)


def _check_input_size(path: Path, key: str, value: Any) -> tuple[int, int]:
    size = _check_floats(path, key, value, 2)
    if not all(number == int(number) and number >= 8 for number in size):
        raise ModelLoadError(path, f"key {key!r} must be whole numbers >= 8, got {value!r}")
    return int(size[0]), int(size[1])


def _check_channels(path: Path, key: str, value: Any) -> tuple[float, float, float]:
    """Three finite numbers, one per RGB channel (``mean``, ``std``)."""
    first, second, third = _check_floats(path, key, value, 3)
    return first, second, third


def _load_state_dict(path: Path, module: torch.nn.Module, state_dict: dict[str, Any], arch: str
                     ) -> None:
    expected = module.state_dict()
    missing = [key for key in expected if key not in state_dict]
    unexpected = [key for key in state_dict if key not in expected]
    wrong_shape = [f"{key} (file {tuple(state_dict[key].shape)}, {arch} "
                   f"{tuple(expected[key].shape)})"
                   for key in expected if key in state_dict
                   and tuple(state_dict[key].shape) != tuple(expected[key].shape)]
    problems = []
    if missing:
        problems.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
    if wrong_shape:
        examples = "; ".join(wrong_shape[:2])
        problems.append(f"{len(wrong_shape)} of the wrong shape (e.g. {examples})")
    if problems:
        raise ModelLoadError(path, f"state_dict does not fit architecture {arch!r} with "
                                   f"the bundle's classes: "
                                   f"{'; '.join(problems)} parameters")
    module.load_state_dict(state_dict, strict=True)


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """The JSON file describing a TorchScript archive: ``model.pt`` -> ``model.pt.json``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def _load_torchscript(path: Path, device: torch.device) -> LoadedModel:
    candidates = [sidecar_path(path), path.with_suffix(".json")]
    sidecar = next((candidate for candidate in candidates if candidate.is_file()), None)
    if sidecar is None:
        raise ModelLoadError(path, f"TorchScript archive without class names: write them to "
                                   f"{candidates[0].name} as "
                                   '{"classes": [...], "input_size": [H, W]}')
    try:
        meta = json.loads(sidecar.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelLoadError(sidecar, f"unreadable sidecar JSON ({error})") from None
    if not isinstance(meta, dict):
        raise ModelLoadError(sidecar, "sidecar JSON must be an object with 'classes'")
    classes = _check_classes(sidecar, meta.get("classes"))
    input_size = _check_input_size(sidecar, "input_size", meta.get("input_size", [224, 224]))
    mean = _check_channels(sidecar, "mean", meta.get("mean", IMAGENET_MEAN))
    std = _check_channels(sidecar, "std", meta.get("std", IMAGENET_STD))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated upstream
            module = torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError, OSError) as error:
        raise ModelLoadError(path, f"unreadable TorchScript archive "
                                   f"({str(error).splitlines()[0] if str(error) else error})"
                             ) from None
    module.eval().to(device)
    extra = {key: value for key, value in meta.items()
             if key not in ("classes", "input_size", "mean", "std")}
    loaded = LoadedModel(module=module, classes=classes, input_size=input_size,
                         mean=mean, std=std, arch="torchscript", device=device,
                         extra=extra, source=path)
    _check_output_width(path, loaded)
    return loaded


def _check_output_width(path: Path, model: LoadedModel) -> None:
    probe = torch.zeros((1, 3, *model.input_size), device=model.device)
    try:
        with torch.inference_mode():
            width = model.module(probe).shape[-1]
    except Exception as error:  # a scripted module can raise anything on a bad input
        raise ModelLoadError(path, f"the model fails on a {list(model.input_size)} input "
                                   f"({type(error).__name__}: {error})") from None
    if width != model.num_classes:
        raise ModelLoadError(path, f"the model outputs {width} scores but the sidecar names "
                                   f"{model.num_classes} classes")


def describe(model: LoadedModel) -> dict[str, Any]:
    """Plain-data summary of a loaded model (for ``leakview info`` and the GUI)."""
    parameters = sum(p.numel() for p in model.module.parameters())
    return {
        "source": str(model.source) if model.source else None,
        "arch": model.arch,
        "classes": model.classes,
        "input_size": list(model.input_size),
        "mean": list(model.mean),
        "std": list(model.std),
        "parameters": int(parameters),
        "device": str(model.device),
        **{key: value for key, value in model.extra.items()},
    }
