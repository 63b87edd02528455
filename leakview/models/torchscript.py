"""TorchScript archives (``torch.jit.save``), described by a sidecar JSON file."""

from __future__ import annotations

import os
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from leakview.models.checks import (
    ModelLoadError,
    ModelSpecNeeded,
    check_channels,
    check_classes,
    check_input_size,
    check_output_width,
    read_json_object,
)
from leakview.models.loaded import HOOKS, IMAGENET_MEAN, IMAGENET_STD, LoadedModel
from leakview.models.spec import ModelSpec, settle
from leakview.models.twin import use_eager_twin

NO_HOOKS = ("TorchScript runs compiled code: forward hooks on its inner layers never fire, so "
            "Grad-CAM cannot see a feature map; save the model as a leakview bundle "
            "(leakview convert) to use Grad-CAM")


# LoadedModel.extra key: the torchvision architecture an opaque module was recognised as.


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """The JSON file describing a TorchScript archive: ``model.pt`` -> ``model.pt.json``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def is_torchscript(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.split("/", 1)[-1].startswith("code/") for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def read_sidecar(path: Path, what: str = "TorchScript archive", spec: ModelSpec | None = None
                 ) -> tuple[Path, dict[str, Any]]:
    """``(sidecar path, its JSON object)`` for a model file that cannot name its classes, with
    what the user gave (``spec``: ``--classes``, ``--input-size`` ...) filled in where the
    sidecar is silent (a contradiction is an error). Without a sidecar the spec alone may
    describe the model; with neither naming the classes, :class:`ModelSpecNeeded`."""
    candidates = [sidecar_path(path), path.with_suffix(".json")]
    sidecar = next((candidate for candidate in candidates if candidate.is_file()), None)
    meta = read_json_object(sidecar, "sidecar JSON") if sidecar is not None else {}
    given = spec or ModelSpec()
    for key, value in (("classes", given.classes), ("input_size", given.input_size),
                       ("mean", given.mean), ("std", given.std)):
        settled = settle(sidecar or path, key, list(value) if value is not None else None,
                         meta.get(key))
        if settled is not None:
            meta[key] = settled
    if "classes" not in meta:
        raise ModelSpecNeeded(path, f"{what} without class names: give them, or write them "
                                    f"to {candidates[0].name} as "
                                    '{"classes": [...], "input_size": [H, W]}', ("classes",))
    return sidecar or path, meta


def sidecar_fields(sidecar: Path, meta: dict[str, Any]
                   ) -> tuple[list[str], tuple[int, int], tuple[float, ...], tuple[float, ...],
                              int, dict[str, Any]]:
    """``(classes, input_size, mean, std, channels, extra)`` from a sidecar's JSON."""
    classes = check_classes(sidecar, meta.get("classes"))
    input_size = check_input_size(sidecar, "input_size", meta.get("input_size", [224, 224]))
    mean_value = meta.get("mean", IMAGENET_MEAN)
    channels = 1 if isinstance(mean_value, (list, tuple)) and len(mean_value) == 1 else 3
    mean = check_channels(sidecar, "mean", mean_value, channels)
    std = check_channels(sidecar, "std", meta.get("std", IMAGENET_STD if channels == 3
                                                  else [1.0]), channels)
    extra = {key: value for key, value in meta.items()
             if key not in ("classes", "input_size", "mean", "std")}
    return classes, input_size, mean, std, channels, extra


def load_torchscript(path: Path, device: torch.device, spec: ModelSpec | None = None
                     ) -> LoadedModel:
    """A TorchScript archive; when its weights are a torchvision classifier's, the equivalent
    eager module (outputs checked equal) runs instead, so Grad-CAM's hooks fire."""
    sidecar, meta = read_sidecar(path, spec=spec)
    classes, input_size, mean, std, channels, extra = sidecar_fields(sidecar, meta)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # TorchScript is deprecated upstream
            module = torch.jit.load(str(path), map_location="cpu")
    except (RuntimeError, ValueError, OSError) as error:
        raise ModelLoadError(path, f"unreadable TorchScript archive "
                                   f"({str(error).splitlines()[0] if str(error) else error})"
                             ) from None
    module.eval()
    loaded = LoadedModel(module=module, classes=classes, input_size=input_size,
                         mean=mean, std=std, arch="torchscript", device=torch.device("cpu"),
                         extra=extra, source=path, kind="torchscript", channels=channels,
                         unavailable={HOOKS: NO_HOOKS})
    check_output_width(path, loaded)
    use_eager_twin(loaded)
    return loaded.to(device)
