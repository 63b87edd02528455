"""Models: every accepted file form behind the one :class:`LoadedModel` interface.

:func:`load_model` looks at a path and hands it to the adapter for its form (see
``docs/architecture.md``, "Model sources"). Nothing is ever unpickled with full pickle.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from leakview.models.bundle import (
    BUNDLE_FORMAT,
    REQUIRED_KEYS,
    model_from_bundle,
    save_bundle,
)
from leakview.models.checkpoint import is_safetensors, read_checkpoint
from leakview.models.checks import ModelLoadError, ModelSpecNeeded
from leakview.models.export_models import is_exported_program, load_exported
from leakview.models.hf_models import CONFIG_KEY as HF_CONFIG_KEY
from leakview.models.hf_models import load_hf_folder
from leakview.models.loaded import (
    DEFAULT_BATCH_SIZE,
    GRADIENTS,
    GRAY_WEIGHTS,
    HOOKS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    LoadedModel,
    ModelRunError,
    choose_device,
    resize_uint8,
)
from leakview.models.onnx_models import is_onnx, load_onnx
from leakview.models.plain import (
    SAFETENSORS_SUFFIX,
    load_plain,
    load_safetensors,
    refuse_fake_safetensors,
)
from leakview.models.spec import ModelSpec, read_classes_file
from leakview.models.state_dicts import recognise_torchvision
from leakview.models.timm_models import is_timm_arch, load_timm, names_timm_arch
from leakview.models.torchscript import is_torchscript, load_torchscript, sidecar_path
from leakview.models.torchvision_models import build_architecture, classification_architectures

__all__ = [
    "BUNDLE_FORMAT", "DEFAULT_BATCH_SIZE", "GRADIENTS", "GRAY_WEIGHTS", "HOOKS", "IMAGENET_MEAN",
    "IMAGENET_STD", "REQUIRED_KEYS", "LoadedModel", "ModelLoadError", "ModelRunError",
    "ModelSpec",
    "ModelSpecNeeded",
    "build_architecture", "choose_device", "classification_architectures", "describe",
    "load_model", "read_classes_file", "recognise_torchvision", "resize_uint8", "save_bundle",
    "sidecar_path",
]


def load_model(path: str | os.PathLike[str], device: str | torch.device | None = None,
               spec: ModelSpec | None = None) -> LoadedModel:
    """Load a model from any accepted form; never runs pickled code.

    ``spec`` carries what the user said about a file that does not describe itself (a bare
    state_dict's architecture and classes, ...). Raises :class:`ModelLoadError` naming the
    file and what is wrong with it.
    """
    path = Path(path)
    if not path.exists():
        raise ModelLoadError(path, "no such file")
    try:
        target_device = choose_device(device)
    except ValueError as error:
        raise ModelLoadError(path, str(error)) from None
    if path.is_dir():  # a Hugging Face save_pretrained folder, or "is a folder" refused
        return load_hf_folder(path, target_device, spec)
    if is_onnx(path):
        return load_onnx(path, target_device, spec)
    if is_exported_program(path):
        return load_exported(path, target_device, spec)
    if path.suffix.lower() == SAFETENSORS_SUFFIX and not is_safetensors(path):
        refuse_fake_safetensors(path)
    if spec is not None and is_timm_arch(spec.arch):
        return load_timm(path, target_device, spec)
    if is_safetensors(path):
        return load_safetensors(path, target_device, spec)
    if is_torchscript(path):
        return load_torchscript(path, target_device, spec)
    content = read_checkpoint(path)
    if names_timm_arch(path, content):
        return load_timm(path, target_device, spec, content)
    if isinstance(content, dict) and "format" in content:
        return model_from_bundle(path, content, target_device)
    return load_plain(path, content, target_device, spec)


def describe(model: LoadedModel) -> dict[str, Any]:
    """Plain-data summary of a loaded model (for ``leakview info`` and the GUI). A Hugging Face
    model's whole ``config.json`` (kept for convert) is summarised by its model type."""
    parameters = sum(p.numel() for p in model.module.parameters())
    return {
        "source": str(model.source) if model.source else None,
        "kind": model.kind,
        "arch": model.arch,
        "classes": model.classes,
        "input_size": list(model.input_size),
        "channels": model.channels,
        "mean": list(model.mean),
        "std": list(model.std),
        "parameters": int(parameters),
        "device": str(model.device),
        "notes": list(model.notes),
        **{key: value for key, value in model.extra.items() if key != HF_CONFIG_KEY},
        **({"hf_model_type": model.extra[HF_CONFIG_KEY].get("model_type")}
           if isinstance(model.extra.get(HF_CONFIG_KEY), dict) else {}),
    }
