"""Grad-CAM (Selvaraju et al. 2017) on a convolutional feature map.

``cam = ReLU(sum_k alpha_k A_k)`` with ``alpha_k`` the spatial mean of ``d y_t / d A_k``
(y_t = target logit, A = the layer's output), upsampled bilinearly to the model's input size
and then to the image's size. Unsigned.

Layer choice, in order: the ``layer`` option (a module name from ``named_modules()``), the
bundle's ``gradcam_layer``, else automatic detection (:func:`find_gradcam_layer`):

1. One dummy forward pass (zeros at the model's input size, eval mode, no gradients) with a
   forward hook on every submodule records, in the order their forward calls FINISH, each
   module's output shape and how many times it was called.
2. The last call of an ``nn.Conv2d`` fixes the final feature map size ``S = (h', w')``.
3. Scanning on from there until the first pooling or flatten module call (global pooling
   ends the convolutional part), the chosen layer is the LAST module to finish whose output
   is a 4-D tensor with spatial size ``S`` and that was called exactly once (a shared module,
   such as the ReLU reused in a ResNet block, is ambiguous for a hook).

Because containers finish after their children, this picks the outermost block that still
produces the last feature map: ``layer4`` for ResNets, ``features`` for MobileNet,
EfficientNet, DenseNet and ConvNeXt, ``trunk_output`` for RegNet, ``conv5`` for ShuffleNet,
``inception5b`` for GoogLeNet, and the ReLU after the last convolution for VGG
(``features.19`` in vgg11, since a max-pool closes ``features``). Without any ``Conv2d`` the
last module with a 4-D output is taken. For SqueezeNet, whose last convolution is the
class-score convolution, this is ``classifier.2`` (Grad-CAM there reduces to CAM).

A layer named with ``layer`` that runs several times in one forward pass is hooked at its last
call. The map is not normalised (metrics only use ratios of the positive part).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from leakview.attribution.core import (
    Attribution,
    Reporter,
    make_attribution,
    module_dtype,
    prepare_input,
    softmax_numpy,
)
from leakview.attribution.saliency import grad_context
from leakview.models import GRADIENTS, HOOKS, LoadedModel
from leakview.models.torchscript import NO_HOOKS

_POOLING = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.AvgPool2d, nn.MaxPool2d,
            nn.Flatten, nn.AdaptiveAvgPool1d, nn.AdaptiveMaxPool1d)

# module -> {input size: detected layer name}
_CACHE: weakref.WeakKeyDictionary[nn.Module, dict[tuple[int, ...], str]] = (
    weakref.WeakKeyDictionary())


def _check_hookable(model: LoadedModel) -> None:
    reason = model.unavailable.get(HOOKS) or model.unavailable.get(GRADIENTS)
    if not reason and isinstance(model.module, (torch.jit.ScriptModule,
                                                torch.jit.ScriptFunction)):
        reason = NO_HOOKS
    if reason:
        raise ValueError(f"Grad-CAM is unavailable for this model: {reason}")


def trace_layers(model: LoadedModel) -> list[dict[str, Any]]:
    """The dummy-pass trace used by detection: one dict per forward call, in finishing order,
    with ``name``, ``type`` (the module), ``shape`` (output shape or None) and ``calls``
    (total calls of that module in the pass)."""
    _check_hookable(model)
    module = model.module
    events: list[dict[str, Any]] = []
    counts: dict[str, int] = {}
    handles = []

    def hook_for(name: str, sub: nn.Module) -> Callable[[nn.Module, Any, Any], None]:
        def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
            shape = tuple(output.shape) if isinstance(output, torch.Tensor) else None
            counts[name] = counts.get(name, 0) + 1
            events.append({"name": name, "module": sub, "shape": shape})
        return hook

    for name, sub in module.named_modules():
        if name:
            handles.append(sub.register_forward_hook(hook_for(name, sub)))
    modes = {sub: sub.training for sub in module.modules()}
    try:
        module.eval()
        probe = torch.zeros((1, model.channels, *model.input_size), dtype=module_dtype(model),
                            device=model.device)
        with torch.no_grad():
            module(probe)
    finally:
        for handle in handles:
            handle.remove()
        for sub, training in modes.items():
            sub.training = training
    for event in events:
        event["calls"] = counts[event["name"]]
    return events


def find_gradcam_layer(model: LoadedModel) -> str:
    """The automatically detected Grad-CAM layer name (see the module docstring)."""
    key = tuple(model.input_size)
    cached = _CACHE.get(model.module, {})
    if key in cached:
        return cached[key]
    events = trace_layers(model)
    name = _choose(events)
    if name is None:
        raise ValueError("no layer with a 4-D (N x C x h x w) output found for Grad-CAM; "
                         "name one with the 'layer' option")
    _CACHE.setdefault(model.module, {})[key] = name
    return name


def _is_map(shape: tuple[int, ...] | None) -> bool:
    return shape is not None and len(shape) == 4


def _choose(events: list[dict[str, Any]]) -> str | None:
    last_conv = max((i for i, event in enumerate(events)
                     if isinstance(event["module"], nn.Conv2d) and _is_map(event["shape"])),
                    default=None)
    if last_conv is None:
        maps: list[str] = [event["name"] for event in events if _is_map(event["shape"])]
        return maps[-1] if maps else None
    size = events[last_conv]["shape"][-2:]
    chosen: str = events[last_conv]["name"]
    for event in events[last_conv + 1:]:
        if isinstance(event["module"], _POOLING):
            break
        if (_is_map(event["shape"]) and event["shape"][-2:] == size
                and event["calls"] == 1):
            chosen = event["name"]
    return chosen


def _layer_examples(model: LoadedModel) -> str:
    try:
        events = trace_layers(model)
    except Exception:  # the examples are a courtesy; never hide the real error
        return ", ".join([name for name, _ in model.module.named_modules() if name][-6:])
    names: list[str] = []
    for event in events:
        if _is_map(event["shape"]) and event["name"] not in names:
            names.append(event["name"])
    return ", ".join(names[-6:])


def resolve_layer(model: LoadedModel, layer: str) -> tuple[str, nn.Module, str]:
    """``(name, module, source)`` where source is ``option``, ``bundle`` or ``auto``."""
    _check_hookable(model)
    modules = dict(model.module.named_modules())
    if layer:
        name, source = layer, "option"
    elif model.gradcam_layer:
        name, source = model.gradcam_layer, "bundle"
    else:
        name, source = find_gradcam_layer(model), "auto"
    if not name or name not in modules:
        where = "the bundle's gradcam_layer" if source == "bundle" else "option 'layer'"
        raise ValueError(f"{where}: no module named {name!r} in this model; layers with a "
                         f"feature-map output include: {_layer_examples(model)}")
    return name, modules[name], source


def gradcam(model: LoadedModel, image: np.ndarray, target: int | None, reporter: Reporter,
            *, layer: str) -> Attribution:
    """Grad-CAM map; ``extras``: ``layer`` (module name), ``layer_source``
    (option/bundle/auto), ``feature_size`` (h', w') of the layer's output."""
    name, module, source = resolve_layer(model, layer)
    inputs = prepare_input(model, image)
    reporter.check()
    captured: list[Any] = []
    handle = module.register_forward_hook(lambda _m, _i, output: captured.append(output))
    try:
        with grad_context():
            leaf = inputs.detach().clone().requires_grad_(True)
            logits = model.module(leaf)
            if not captured:
                raise ValueError(f"layer {name!r} was not called in the forward pass")
            activation = captured[-1]
            if not isinstance(activation, torch.Tensor) or activation.dim() != 4:
                shape = tuple(activation.shape) if isinstance(activation, torch.Tensor) \
                    else type(activation).__name__
                raise ValueError(f"layer {name!r} outputs {shape}, not a 4-D feature map "
                                 f"N x C x h x w; examples of suitable layers: "
                                 f"{_layer_examples(model)}")
            chosen = int(logits.detach()[0].argmax()) if target is None else int(target)
            (gradient,) = torch.autograd.grad(logits[0, chosen], activation,
                                              allow_unused=True)
    finally:
        handle.remove()
    activation = activation.detach()
    if gradient is None:
        gradient = torch.zeros_like(activation)
    weights = gradient.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * activation).sum(dim=1, keepdim=True))
    upsampled = F.interpolate(cam.to(torch.float32), size=tuple(model.input_size),
                              mode="bilinear", align_corners=False)[0, 0]
    result = make_attribution(model, (image.shape[0], image.shape[1]), "gradcam", chosen,
                              upsampled, signed=False, options={"layer": layer},
                              extras={"layer": name, "layer_source": source,
                                      "feature_size": tuple(activation.shape[-2:])},
                              probabilities=softmax_numpy(logits)[0])
    reporter.report(1, 1, result)
    return result
