"""Building an empty classifier from an architecture name: torchvision names, and the other
sources' prefixed names as their adapters add them."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from leakview.models.torchvision_models import build_architecture


def build_model(arch: str, num_classes: int, input_size: Sequence[int] = (224, 224),
                channels: int = 3) -> torch.nn.Module:
    """A freshly initialised classifier ``arch`` with ``num_classes`` outputs taking
    ``channels`` input channels. Raises ValueError for an unknown name or a bad combination."""
    if channels != 3:
        raise ValueError(f"{arch}: {channels} input channels are not supported")
    return build_architecture(arch, num_classes, input_size)
