"""Building an empty classifier from an architecture name: torchvision names, and the other
sources' prefixed names as their adapters add them (``timm/NAME``, ``hf/ClassName``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from leakview.models.hf_models import CONFIG_KEY, build_hf, is_hf_arch
from leakview.models.timm_models import KWARGS_KEY, build_timm, is_timm_arch
from leakview.models.torchvision_models import build_architecture

# What leakview's preprocessing feeds a model: RGB, or one gray channel (GRAY_WEIGHTS).
INPUT_CHANNELS = (3, 1)


def channels_refusal(channels: int) -> str:
    """The one-line reason a model taking ``channels`` input channels cannot be fed."""
    return (f"takes {channels} input channels; leakview feeds RGB (3) or gray (1), so a model "
            f"must take 3 or 1")


def build_model(arch: str, num_classes: int, input_size: Sequence[int] = (224, 224),
                channels: int = 3, config: Mapping[str, Any] | None = None) -> torch.nn.Module:
    """A freshly initialised classifier ``arch`` with ``num_classes`` outputs taking
    ``channels`` input channels (3, or 1: for torchvision the first ``Conv2d`` taking 3
    channels is replaced by the same convolution taking 1). ``config`` is the bundle's
    optional data, where a source keeps what its name alone does not say (``timm_kwargs``,
    ``hf_config``). Raises ValueError for an unknown name or a bad combination."""
    config = config or {}
    if channels not in INPUT_CHANNELS:
        raise ValueError(f"{arch} {channels_refusal(channels)}")
    if is_timm_arch(arch):
        return build_timm(arch, num_classes, input_size, channels, config.get(KWARGS_KEY))
    if is_hf_arch(arch):
        return build_hf(arch, num_classes, channels, config.get(CONFIG_KEY))
    module = build_architecture(arch, num_classes, input_size)
    if channels != 3:
        replace_first_conv(module, channels)
    return module


def replace_first_conv(module: torch.nn.Module, channels: int) -> str:
    """Replace the first ``Conv2d`` taking 3 channels (module order) by the same convolution
    taking ``channels``; returns its name. ValueError when there is none."""
    for name, sub in module.named_modules():
        if isinstance(sub, torch.nn.Conv2d) and sub.in_channels == 3 and sub.groups == 1:
            padding = sub.padding if isinstance(sub.padding, str) else _pair(sub.padding)
            replacement = torch.nn.Conv2d(
                channels, sub.out_channels, _pair(sub.kernel_size), stride=_pair(sub.stride),
                padding=padding, dilation=_pair(sub.dilation),
                bias=sub.bias is not None, padding_mode=sub.padding_mode,
                device=sub.weight.device, dtype=sub.weight.dtype)
            parent_name, _, child = name.rpartition(".")
            parent = module.get_submodule(parent_name) if parent_name else module
            setattr(parent, child, replacement)
            return str(name)
    raise ValueError("it has no Conv2d taking 3 input channels to turn into a "
                     f"{channels}-channel one")


def _pair(values: tuple[int, ...]) -> tuple[int, int]:
    return int(values[0]), int(values[1])
