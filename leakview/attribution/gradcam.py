"""Grad-CAM (Selvaraju et al. 2017) on a convolutional feature map or a transformer's token grid.

``cam = ReLU(sum_k alpha_k A_k)`` with ``alpha_k`` the spatial mean of ``d y_t / d A_k``
(y_t = target logit, A = the layer's output as ``N x C x h x w``), upsampled bilinearly to the
model's input size and then to the image's size. Unsigned.

A token output ``N x (prefix + h*w) x C`` (ViT, DeiT, ViT with register tokens) is read as
``N x C x h x w`` after dropping its prefix tokens, and a channels-last ``N x h x w x C``
LayerNorm output (Swin) is permuted, as pytorch-grad-cam's ``reshape_transform`` does; the
rules are in :mod:`leakview.attribution.gradcam_layers`.

Layer choice, in order: the ``layer`` option (a module name from ``named_modules()``), the
bundle's ``gradcam_layer``, else automatic detection (:func:`choose_gradcam_layer`): the last
convolutional block for CNNs, the last block's first norm for vision transformers. When a
CNN's last feature map is coarser than 7 x 7 at the model's input size (shufflenet_v2 at
96 x 128: 3 x 4), detection walks back to the deepest block output of at least 7 x 7
(``stage2``, 12 x 16) and the extras name the layer it walked back from; token grids are
never changed. The option and the bundle's layer are used as given.

A layer named with ``layer`` that runs several times in one forward pass is hooked at its last
call. The map is not normalised (metrics only use ratios of the positive part).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from leakview.attribution.core import (
    Attribution,
    Reporter,
    make_attribution,
    prepare_input,
    softmax_numpy,
)
from leakview.attribution.gradcam_layers import (
    Grid,
    LayerChoice,
    check_hookable,
    choose_gradcam_layer,
    find_gradcam_layer,
    layer_examples,
    layout_of,
    trace_layers,
)
from leakview.attribution.saliency import grad_context
from leakview.models import LoadedModel

__all__ = ["choose_gradcam_layer", "find_gradcam_layer", "gradcam", "gradcam_layer_info",
           "resolve_layer", "trace_layers"]


def _layer_examples(model: LoadedModel) -> str:
    try:
        return layer_examples(trace_layers(model))
    except Exception:  # the examples are a courtesy; never hide the real error
        return ", ".join([name for name, _ in model.module.named_modules() if name][-6:])


def resolve_layer(model: LoadedModel, layer: str
                  ) -> tuple[str, nn.Module, str, LayerChoice | None]:
    """``(name, module, source, choice)``: source is ``option``, ``bundle`` or ``auto``;
    ``choice`` is the automatic :class:`LayerChoice` (None for the other sources)."""
    check_hookable(model)
    modules = dict(model.module.named_modules())
    choice = None
    if layer:
        name, source = layer, "option"
    elif model.gradcam_layer:
        name, source = model.gradcam_layer, "bundle"
    else:
        choice = choose_gradcam_layer(model)
        name, source = choice.name, "auto"
    if not name or name not in modules:
        where = "the bundle's gradcam_layer" if source == "bundle" else "option 'layer'"
        raise ValueError(f"{where}: no module named {name!r} in this model; layers with a "
                         f"feature-map or token-grid output include: {_layer_examples(model)}")
    return name, modules[name], source, choice


def gradcam_layer_info(model: LoadedModel) -> dict[str, Any]:
    """The layer Grad-CAM uses on ``model`` without a ``layer`` option (for ``leakview info``):
    ``layer``, ``layer_source`` (``bundle`` or ``auto``), ``feature_size`` (h', w') at the
    model's input size (None when that layer outputs no feature map) and, after a walk-back,
    ``last_layer`` and ``last_feature_size``. Raises ValueError as :func:`gradcam` would."""
    name, _module, source, choice = resolve_layer(model, "")
    if choice is not None:
        info: dict[str, Any] = {"layer": name, "layer_source": source,
                                "feature_size": choice.grid}
        if choice.last is not None:
            info.update(last_layer=choice.last, last_feature_size=choice.last_grid)
        return info
    layouts = [event["layout"] for event in trace_layers(model) if event["name"] == name]
    grid = layouts[-1].grid if layouts and layouts[-1] is not None else None
    return {"layer": name, "layer_source": source, "feature_size": grid}


def gradcam(model: LoadedModel, image: np.ndarray, target: int | None, reporter: Reporter,
            *, layer: str) -> Attribution:
    """Grad-CAM map; ``extras``: ``layer`` (module name), ``layer_source``
    (option/bundle/auto), ``feature_size`` (h', w') of the feature map (the cell grid: one
    cell covers ``input size / feature_size`` model pixels); when detection walked back from
    a coarser last map also ``last_layer`` and ``last_feature_size``; for a reshaped layer
    also ``reshape`` (``tokens`` or ``channels_last``) and ``prefix_tokens`` (dropped)."""
    name, module, source, choice = resolve_layer(model, layer)
    inputs = prepare_input(model, image)
    reporter.check()
    captured: list[Any] = []
    conv_grids: list[Grid] = []
    convs_before: list[int] = []

    def keep_layer(_module: nn.Module, _inputs: Any, output: Any) -> None:
        captured.append(output)
        convs_before.append(len(conv_grids))

    def keep_conv(_module: nn.Module, _inputs: Any, output: Any) -> None:
        if isinstance(output, torch.Tensor) and output.dim() == 4:
            conv_grids.append((output.shape[2], output.shape[3]))

    handles = [sub.register_forward_hook(keep_conv) for sub in model.module.modules()
               if isinstance(sub, nn.Conv2d)]
    handles.append(module.register_forward_hook(keep_layer))
    try:
        with grad_context():
            leaf = inputs.detach().clone().requires_grad_(True)
            logits = model.module(leaf)
            if not captured:
                raise ValueError(f"layer {name!r} was not called in the forward pass")
            activation = captured[-1]
            shape = tuple(activation.shape) if isinstance(activation, torch.Tensor) else None
            layout = layout_of(module, shape, conv_grids[:convs_before[-1]][::-1],
                               model.input_size)
            if layout is None:
                raise ValueError(f"layer {name!r} outputs "
                                 f"{shape or type(activation).__name__}, not a 4-D feature "
                                 f"map N x C x h x w nor a token grid N x (prefix + h*w) x C; "
                                 f"examples of suitable layers: {_layer_examples(model)}")
            chosen = int(logits.detach()[0].argmax()) if target is None else int(target)
            (gradient,) = torch.autograd.grad(logits[0, chosen], activation,
                                              allow_unused=True)
    finally:
        for handle in handles:
            handle.remove()
    activation = activation.detach()
    if gradient is None:
        gradient = torch.zeros_like(activation)
    feature_map, gradient_map = layout.to_map(activation), layout.to_map(gradient)
    weights = gradient_map.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * feature_map).sum(dim=1, keepdim=True))
    upsampled = F.interpolate(cam.to(torch.float32), size=tuple(model.input_size),
                              mode="bilinear", align_corners=False)[0, 0]
    extras: dict[str, Any] = {"layer": name, "layer_source": source,
                              "feature_size": tuple(layout.grid)}
    if choice is not None and choice.last is not None:
        extras.update(last_layer=choice.last, last_feature_size=choice.last_grid)
    if layout.reshape != "none":
        extras.update(reshape=layout.reshape, prefix_tokens=layout.prefix)
    result = make_attribution(model, (image.shape[0], image.shape[1]), "gradcam", chosen,
                              upsampled, signed=False, options={"layer": layer},
                              extras=extras, probabilities=softmax_numpy(logits)[0])
    reporter.report(1, 1, result)
    return result
