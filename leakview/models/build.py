"""Building an empty classifier from an architecture name: torchvision names, and the other
sources' prefixed names as their adapters add them (``timm/NAME``, ``hf/ClassName``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from leakview.models.hf_models import CONFIG_KEY, build_hf, is_hf_arch
from leakview.models.timm_models import KWARGS_KEY, build_timm, is_timm_arch
from leakview.models.torchvision_models import build_architecture


def build_model(arch: str, num_classes: int, input_size: Sequence[int] = (224, 224),
                channels: int = 3, config: Mapping[str, Any] | None = None) -> torch.nn.Module:
    """A freshly initialised classifier ``arch`` with ``num_classes`` outputs taking
    ``channels`` input channels. ``config`` is the bundle's optional data, where a source
    keeps what its name alone does not say (``timm_kwargs``, ``hf_config``). Raises
    ValueError for an unknown name or a bad combination."""
    config = config or {}
    if is_timm_arch(arch):
        return build_timm(arch, num_classes, input_size, channels, config.get(KWARGS_KEY))
    if is_hf_arch(arch):
        return build_hf(arch, num_classes, channels, config.get(CONFIG_KEY))
    if channels != 3:
        raise ValueError(f"{arch}: {channels} input channels are not supported")
    return build_architecture(arch, num_classes, input_size)
