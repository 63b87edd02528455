"""What a compiled graph (ONNX, torch.export) and its sidecar JSON say together about a model's
input: class names, input size, channels, normalisation and a fixed batch size, checked against
each other; and running such a graph on any batch size when its batch is fixed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from leakview.models.checks import ModelLoadError, check_input_size
from leakview.models.spec import ModelSpec
from leakview.models.torchscript import read_sidecar, sidecar_fields


@dataclass(frozen=True)
class GraphInput:
    """A graph model's description: the sidecar's classes and normalisation, the input size
    and channels from the graph where it fixes them, ``fixed_batch`` when the graph takes
    exactly that many images per call (None: any number)."""

    classes: list[str]
    input_size: tuple[int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    channels: int
    extra: dict[str, Any]
    fixed_batch: int | None = None
    notes: list[str] = field(default_factory=list)


def describe_graph_input(path: Path, what: str, shape: Sequence[int | None],
                         spec: ModelSpec | None = None) -> GraphInput:
    """Read ``path``'s sidecar JSON and reconcile it with the graph's input ``shape``
    (``N, C, H, W``; None where the graph leaves a dimension open). Raises ModelLoadError
    naming the file when they disagree or the input is not an image batch; ``spec`` (what
    the user gave) fills in where the sidecar is silent, or stands for it."""
    sidecar, meta = read_sidecar(path, what, spec)
    if len(shape) != 4:
        raise ModelLoadError(path, f"the {what} takes a {len(shape)}-dimensional input "
                                   f"{_shape_text(shape)}; leakview feeds image batches "
                                   "N x C x H x W")
    batch, channels, height, width = shape
    if channels is not None and channels not in (1, 3):
        raise ModelLoadError(path, f"the {what} takes {channels} input channels "
                                   f"{_shape_text(shape)}; leakview feeds RGB (3 channels) or "
                                   "grayscale (1 channel) images")
    classes, input_size, mean, std, sidecar_channels, extra = sidecar_fields(sidecar, meta)
    notes = []
    if channels is not None and channels != sidecar_channels:
        if channels == 1 and "mean" not in meta:
            raise ModelLoadError(sidecar, f"the {what} takes 1 input channel (grayscale): give "
                                          "'mean' and 'std' with one entry each")
        raise ModelLoadError(sidecar, f"'mean' and 'std' have {sidecar_channels} entries but "
                                      f"the {what} takes {channels} input channels")
    if height is not None and width is not None:
        graph_size = check_input_size(path, "the graph's input shape", [height, width])
        if "input_size" in meta and input_size != graph_size:
            raise ModelLoadError(sidecar, f"'input_size' is {list(input_size)} but the {what} "
                                          f"takes {list(graph_size)} {_shape_text(shape)}")
        if "input_size" not in meta:
            notes.append(f"input size {graph_size[0]} x {graph_size[1]} read from the graph's "
                         "input shape")
        input_size = graph_size
    if batch is not None:
        notes.append("the graph takes exactly 1 image per call: leakview runs it image by image"
                     if batch == 1 else f"the graph takes exactly {batch} images per call: "
                     f"leakview runs it {batch} at a time (the last call padded)")
    return GraphInput(classes, input_size, mean, std, sidecar_channels, extra, batch, notes)


def run_in_fixed_batches(run: Callable[[torch.Tensor], torch.Tensor], batch: torch.Tensor,
                         size: int | None) -> torch.Tensor:
    """``run(batch)`` for a graph that takes exactly ``size`` images per call (None: any):
    the batch is cut into chunks of ``size``, the last one padded with zeros, and the outputs
    of the padding dropped. Differentiable (gradients reach ``batch``)."""
    count = batch.shape[0]
    if size is None or count == size:
        return run(batch)
    outputs = []
    for start in range(0, max(count, 1), size):
        chunk = batch[start:start + size]
        used = chunk.shape[0]
        if used < size:
            chunk = torch.cat([chunk, chunk.new_zeros((size - used, *chunk.shape[1:]))])
        outputs.append(run(chunk)[:used])
    return torch.cat(outputs)


def _shape_text(shape: Sequence[int | None]) -> str:
    return "[" + ", ".join("?" if dim is None else str(dim) for dim in shape) + "]"
