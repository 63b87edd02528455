"""torchvision classifiers: the architecture names, building one without pretrained weights,
and fitting a state_dict to it with a clear account of what does not fit."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
import torchvision

from leakview.models.checks import ModelLoadError

# Architectures whose constructors need extra arguments to build without pretrained weights.
_ARCH_KWARGS: dict[str, dict[str, Any]] = {
    "googlenet": {"aux_logits": False, "init_weights": False},
    "inception_v3": {"aux_logits": False, "init_weights": False},
}


def classification_architectures() -> list[str]:
    """Names of the torchvision classification models a bundle may use."""
    return sorted(torchvision.models.list_models(module=torchvision.models))


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


def load_state_dict_checked(path: Path, module: torch.nn.Module, state_dict: dict[str, Any],
                            arch: str, classes_from: str = "the bundle's classes") -> None:
    """``module.load_state_dict(state_dict, strict=True)``, or a ModelLoadError that counts
    the missing, unexpected and wrongly shaped parameters with examples."""
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
                                   f"{classes_from}: "
                                   f"{'; '.join(problems)} parameters")
    module.load_state_dict(state_dict, strict=True)
