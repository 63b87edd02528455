"""Which layer Grad-CAM hooks, and how that layer's output is read as a feature map.

**Feature maps** (:class:`FeatureLayout`). A layer output is a Grad-CAM feature map when it is

- ``N x C x h x w`` (a convolutional map; ``reshape = "none"``);
- ``N x h x w x C`` produced by a LayerNorm over its last dimension (timm Swin, the
  channels-last blocks of ConvNeXt; ``reshape = "channels_last"``);
- ``N x T x C`` with ``T = prefix + h * w`` (a transformer's token sequence;
  ``reshape = "tokens"``): ``h x w`` is the patch grid, the output size of the last
  ``Conv2d`` that finished before the layer (the patch embedding), else ``H/s x W/s`` for the
  input size ``H x W`` and the patch size ``s`` that leaves the fewest prefix tokens. The
  ``prefix`` (0..8: class token, distillation token, register tokens) are dropped and the
  rest reshaped row-major to ``N x C x h x w``, as pytorch-grad-cam's ViT
  ``reshape_transform`` does.

**Automatic detection** (:func:`find_gradcam_layer`), from one dummy forward pass
(:func:`trace_layers`: zeros at the model's input size, eval mode, no gradients, a forward
hook on every submodule recording, in the order their forward calls FINISH, each output shape
and how many times each module was called):

1. Convolutional rule. The last call of an ``nn.Conv2d`` fixes the final feature map size
   ``S = (h', w')``. Scanning on from there until the first pooling or flatten module call,
   the chosen layer is the LAST module to finish whose output is a 4-D tensor with spatial size
   ``S`` and that was called exactly once (a shared module, such as the ReLU reused in a ResNet
   block, is ambiguous for a hook). Because containers finish after their children, this picks
   the outermost block that still produces the last feature map: ``layer4`` for ResNets,
   ``features`` for MobileNet, EfficientNet, DenseNet and ConvNeXt, ``trunk_output`` for
   RegNet, ``conv5`` for ShuffleNet, ``inception5b`` for GoogLeNet, the ReLU after the last
   convolution for VGG (``features.19`` in vgg11, since a max-pool closes ``features``),
   ``classifier.2`` for SqueezeNet (whose last convolution is the class-score convolution:
   Grad-CAM there reduces to CAM).
2. Transformer rule, used when rule 1 ends on the last convolution itself (its map is reshaped
   into tokens at once: a patch embedding) or there is no convolution, and some normalisation
   layer after it (``nn.LayerNorm`` or a class named ``...Norm``) called once outputs a token
   grid or a channels-last map. A seeded random probe input (eval mode) is run with gradients;
   of those norms, take the LAST whose patch-token outputs receive a non-zero gradient from the
   predicted logit, then the first such norm among its siblings (same parent module). With a
   class-token head the last block's second norm and the final norm get exactly zero
   patch-token gradient (only the class token reaches the head), so this is the last block's
   first norm, the norm before attention, the layer pytorch-grad-cam recommends
   (``encoder.layers.encoder_layer_N.ln_1`` in torchvision, ``blocks.N.norm1`` in timm,
   ``vit.encoder.layer.N.layernorm_before`` in Hugging Face transformers 4,
   ``vit.layers.N.layernorm_before`` in 5). With a global-average-pool head the
   final norm, when it keeps the tokens (timm ``fc_norm=False``, Swin's ``norm``), is itself
   the last such norm and is chosen: also a valid Grad-CAM layer (the pooled features).
   When the pooled vector is normalised instead (timm ``fc_norm``), the last block's second
   norm is the last, and the sibling step gives its first norm again. When no norm gets a
   gradient (logits that do not depend on the input, e.g. an untrained torchvision ViT, whose
   head starts at zero) rule 1's choice stays; every Grad-CAM map of such a model is zero.
3. With no convolution and no token norm, the last module with a 4-D output is taken.
4. Resolution rule (:func:`choose_gradcam_layer`; convolutional choices only, token grids
   stay what they are). When the map chosen by rule 1 is coarser than ``MIN_GRID x MIN_GRID``
   (7 x 7) at the model's input size -- shufflenet_v2 at 96 x 128 ends on a 3 x 4 map, so
   each cell covers a third of the image height -- walk back, in reverse finishing order,
   from the last convolution to the first, to the deepest module that outputs an NCHW map of
   at least 7 x 7 (a size some convolution outputs, so no channels-last tensor inside a
   block qualifies), is called once, and carries everything the prediction depends on: with
   its output detached (a seeded random probe, eval mode), the predicted logit has no
   gradient with respect to the input. That test rejects the inside of a block (one branch
   of a ShuffleNet unit, a convolution before a residual addition), so the choice is a block
   output such as ``stage2`` (12 x 16) for shufflenet_v2 or ``layer2`` for a ResNet at
   96 x 128. When no such module exists the last map stays. The choice records the layer
   it walked back from (``last``, ``last_grid``).

Results are cached per module and input size.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from leakview.attribution.core import module_dtype
from leakview.attribution.saliency import grad_context
from leakview.models import GRADIENTS, HOOKS, LoadedModel
from leakview.models.torchscript import NO_HOOKS

MAX_PREFIX_TOKENS = 8
MIN_GRID = 7
"""The coarsest feature map (cells per side) Grad-CAM uses before walking back (rule 4)."""

_POOLING = (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d, nn.AvgPool2d, nn.MaxPool2d,
            nn.Flatten, nn.AdaptiveAvgPool1d, nn.AdaptiveMaxPool1d)

Grid = tuple[int, int]


@dataclass(frozen=True)
class LayerChoice:
    """The automatic Grad-CAM layer ``name`` and its feature-map ``grid`` (h, w) at the model's
    input size; ``last`` and ``last_grid`` name the coarser last map it walked back from
    (rule 4), None when it did not."""

    name: str
    grid: Grid
    last: str | None = None
    last_grid: Grid | None = None

    def describe(self) -> str:
        """One line for people: the layer, its grid and why it was chosen."""
        text = f"{self.name} ({self.grid[0]} x {self.grid[1]} cells)"
        if self.last is not None and self.last_grid is not None:
            text += (f"; the last feature map, {self.last}, is {self.last_grid[0]} x "
                     f"{self.last_grid[1]}, coarser than {MIN_GRID} x {MIN_GRID}")
        return text


# module -> {input size: detected layer}
_CACHE: weakref.WeakKeyDictionary[nn.Module, dict[tuple[int, ...], LayerChoice]] = (
    weakref.WeakKeyDictionary())


@dataclass(frozen=True)
class FeatureLayout:
    """How a layer's output becomes ``N x C x h x w``: ``reshape`` is ``none``, ``tokens`` or
    ``channels_last``; ``grid`` is ``(h, w)``; ``prefix`` the tokens dropped first."""

    reshape: str
    grid: Grid
    prefix: int = 0

    def to_map(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` (the layer's output or its gradient) as ``N x C x h x w``."""
        if self.reshape == "tokens":
            height, width = self.grid
            patches = tensor[:, self.prefix:, :]
            return patches.reshape(tensor.shape[0], height, width,
                                   tensor.shape[2]).permute(0, 3, 1, 2)
        if self.reshape == "channels_last":
            return tensor.permute(0, 3, 1, 2)
        return tensor


def check_hookable(model: LoadedModel) -> None:
    """ValueError with the reason when the module cannot take hooks or gradients."""
    reason = model.unavailable.get(HOOKS) or model.unavailable.get(GRADIENTS)
    if not reason and isinstance(model.module, (torch.jit.ScriptModule,
                                                torch.jit.ScriptFunction)):
        reason = NO_HOOKS
    if reason:
        raise ValueError(f"Grad-CAM is unavailable for this model: {reason}")


def is_norm(module: nn.Module) -> bool:
    """A normalisation layer by type or class name (``nn.LayerNorm``, ``...LayerNorm``,
    ``...RMSNorm`` and other ``...Norm`` classes)."""
    return isinstance(module, nn.LayerNorm) or type(module).__name__.endswith("Norm")


def _normalises_last_dim(module: nn.Module, shape: tuple[int, ...]) -> bool:
    normalized = getattr(module, "normalized_shape", None)
    if type(module).__name__.lower().endswith("2d") or normalized is None:
        return False  # LayerNorm2d (timm, torchvision) permutes inside: its output is NCHW
    return tuple(normalized) == (shape[-1],)


def input_grids(input_size: Sequence[int]) -> list[Grid]:
    """``(H/s, W/s)`` for every patch size ``s`` dividing both input sides, finest first."""
    height, width = int(input_size[0]), int(input_size[1])
    return [(height // size, width // size) for size in range(1, min(height, width) + 1)
            if height % size == 0 and width % size == 0]


def layout_of(module: nn.Module, shape: tuple[int, ...] | None, conv_grids: Sequence[Grid],
              input_size: Sequence[int]) -> FeatureLayout | None:
    """The :class:`FeatureLayout` of an output of ``shape`` (None: not a feature map).
    ``conv_grids``: spatial sizes of the convolutions finished before, latest first."""
    if shape is None:
        return None
    if len(shape) == 4:
        if _normalises_last_dim(module, shape):
            return FeatureLayout("channels_last", (shape[1], shape[2]))
        return FeatureLayout("none", (shape[2], shape[3]))
    if len(shape) != 3:
        return None
    tokens = shape[1]
    for grid in conv_grids:
        prefix = tokens - grid[0] * grid[1]
        if 0 <= prefix <= MAX_PREFIX_TOKENS and grid[0] * grid[1] > 1:
            return FeatureLayout("tokens", grid, prefix)
    fits = [(tokens - h * w, (h, w)) for h, w in input_grids(input_size)
            if h * w > 1 and 0 <= tokens - h * w <= MAX_PREFIX_TOKENS]
    if fits:
        prefix, grid = min(fits)
        return FeatureLayout("tokens", grid, prefix)
    return None


def trace_layers(model: LoadedModel) -> list[dict[str, Any]]:
    """The dummy-pass trace used by detection: one dict per forward call, in finishing order,
    with ``name``, ``module``, ``shape`` (output shape or None), ``calls`` (total calls of that
    module in the pass) and ``layout`` (its :class:`FeatureLayout` or None)."""
    check_hookable(model)
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
    conv_grids: list[Grid] = []
    for event in events:
        event["calls"] = counts[event["name"]]
        event["layout"] = layout_of(event["module"], event["shape"], conv_grids[::-1],
                                    model.input_size)
        if isinstance(event["module"], nn.Conv2d) and _is_map(event["shape"]):
            conv_grids.append((event["shape"][2], event["shape"][3]))
    return events


def find_gradcam_layer(model: LoadedModel) -> str:
    """The automatically detected Grad-CAM layer name (see the module docstring)."""
    return choose_gradcam_layer(model).name


def choose_gradcam_layer(model: LoadedModel) -> LayerChoice:
    """The automatic Grad-CAM layer with its grid, after rules 1-4 (module docstring)."""
    key = tuple(model.input_size)
    cached = _CACHE.get(model.module, {})
    if key in cached:
        return cached[key]
    events = trace_layers(model)
    last_conv = _last_conv(events)
    name = _choose_conv_layer(events, last_conv)
    token = None
    if last_conv is None or name == events[last_conv]["name"]:
        token = _choose_token_layer(model, events, last_conv)
    if token is not None:
        choice = LayerChoice(token, _grid_of(events, token))
    elif name is None:
        raise ValueError(no_layer_reason(events))
    else:
        choice = _finer_choice(model, events, last_conv, name)
    _CACHE.setdefault(model.module, {})[key] = choice
    return choice


def _grid_of(events: list[dict[str, Any]], name: str) -> Grid:
    layout = next(event["layout"] for event in reversed(events) if event["name"] == name)
    return layout.grid if layout is not None else (0, 0)


def _finer_choice(model: LoadedModel, events: list[dict[str, Any]], last_conv: int | None,
                  name: str) -> LayerChoice:
    """Rule 4: ``name`` when its map is at least MIN_GRID a side, else the deepest earlier
    block output that is (or ``name`` again when there is none)."""
    grid = _grid_of(events, name)
    if last_conv is None or min(grid) >= MIN_GRID:
        return LayerChoice(name, grid)
    convs = [i for i, event in enumerate(events)
             if isinstance(event["module"], nn.Conv2d) and _is_map(event["shape"])]
    conv_grids = {tuple(events[i]["shape"][2:]) for i in convs}
    for event in reversed(events[convs[0]:last_conv]):
        if (_is_fine_map(event, conv_grids)
                and _carries_everything(model, event["module"])):
            return LayerChoice(event["name"], event["layout"].grid, last=name, last_grid=grid)
    return LayerChoice(name, grid)


def _is_fine_map(event: dict[str, Any], conv_grids: set[tuple[int, ...]]) -> bool:
    """A once-called NCHW output of at least MIN_GRID a side whose size some convolution
    produces (which rules out channels-last ``N x h x w x C`` tensors inside blocks)."""
    layout = event["layout"]
    return (_is_map(event["shape"]) and event["calls"] == 1 and layout is not None
            and layout.reshape == "none" and min(layout.grid) >= MIN_GRID
            and tuple(layout.grid) in conv_grids)


def _carries_everything(model: LoadedModel, layer: nn.Module) -> bool:
    """Whether the predicted logit depends on the input only through ``layer``'s output: with
    that output detached, no gradient reaches the input (seeded random probe, eval mode,
    parameters' ``.grad`` untouched)."""
    module = model.module

    def cut(_module: nn.Module, _inputs: Any, output: Any) -> Any:
        return output.detach().clone() if isinstance(output, torch.Tensor) else output

    with _probe_in_eval(model, [layer.register_forward_hook(cut)]) as probe:
        leaf = probe.requires_grad_(True)
        logits = module(leaf)
        if not isinstance(logits, torch.Tensor):
            return False
        logit = logits.reshape(logits.shape[0], -1)[0]
        best = logit[int(logit.detach().argmax())]
        if not best.requires_grad:
            return True
        (gradient,) = torch.autograd.grad(best, leaf, allow_unused=True)
    return gradient is None or not bool(gradient.any())


@contextmanager
def _probe_in_eval(model: LoadedModel, handles: Sequence[Any]) -> Iterator[torch.Tensor]:
    """A seeded random input for ``model`` (its dtype and device), with the module in eval
    mode and gradients on; afterwards the hooks ``handles`` are removed and every submodule's
    training flag is restored."""
    module = model.module
    modes = {sub: sub.training for sub in module.modules()}
    generator = torch.Generator().manual_seed(0)
    probe = torch.randn((1, model.channels, *model.input_size), generator=generator)
    try:
        module.eval()
        with grad_context():
            yield probe.to(dtype=module_dtype(model), device=model.device)
    finally:
        for handle in handles:
            handle.remove()
        for sub, training in modes.items():
            sub.training = training


def _is_map(shape: tuple[int, ...] | None) -> bool:
    return shape is not None and len(shape) == 4


def _last_conv(events: list[dict[str, Any]]) -> int | None:
    return max((i for i, event in enumerate(events)
                if isinstance(event["module"], nn.Conv2d) and _is_map(event["shape"])),
               default=None)


def _choose_conv_layer(events: list[dict[str, Any]], last_conv: int | None) -> str | None:
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


def _is_token_norm(event: dict[str, Any]) -> bool:
    layout = event["layout"]
    return (layout is not None and layout.reshape != "none" and event["calls"] == 1
            and is_norm(event["module"]))


def _choose_token_layer(model: LoadedModel, events: list[dict[str, Any]],
                        last_conv: int | None) -> str | None:
    start = 0 if last_conv is None else last_conv + 1
    candidates = [event for event in events[start:] if _is_token_norm(event)]
    if not candidates:
        return None
    reached = [event for event, flag in zip(candidates, _reaches_target(model, candidates),
                                            strict=True) if flag]
    if not reached:
        return None
    parent = _parent(reached[-1]["name"])
    name: str = next(event["name"] for event in reached if _parent(event["name"]) == parent)
    return name


def _parent(name: str) -> str:
    return name.rpartition(".")[0]


def _reaches_target(model: LoadedModel, candidates: list[dict[str, Any]]) -> list[bool]:
    """Whether each candidate's patch-token (feature) outputs get a non-zero gradient from the
    predicted logit on a seeded random probe (eval mode, parameters' ``.grad`` untouched)."""
    module = model.module
    outputs: dict[str, torch.Tensor] = {}

    def keep(name: str) -> Callable[[nn.Module, Any, Any], None]:
        def hook(_module: nn.Module, _inputs: Any, output: Any) -> None:
            if isinstance(output, torch.Tensor) and output.requires_grad:
                outputs[name] = output
        return hook

    handles = [event["module"].register_forward_hook(keep(event["name"]))
               for event in candidates]
    with _probe_in_eval(model, handles) as probe:
        logits = module(probe)
        names = [event["name"] for event in candidates if event["name"] in outputs]
        if not isinstance(logits, torch.Tensor) or not names:
            return [False] * len(candidates)
        logit = logits.reshape(logits.shape[0], -1)[0]
        gradients = torch.autograd.grad(logit[int(logit.detach().argmax())],
                                        [outputs[name] for name in names],
                                        allow_unused=True)
    by_name = dict(zip(names, gradients, strict=True))
    flags = []
    for event in candidates:
        gradient = by_name.get(event["name"])
        flags.append(gradient is not None
                     and bool(event["layout"].to_map(gradient).abs().max() > 0))
    return flags


def layer_examples(events: list[dict[str, Any]]) -> str:
    """Up to six names of layers whose output is a feature map or a token grid."""
    names: list[str] = []
    for event in events:
        if event["layout"] is not None and event["name"] not in names:
            names.append(event["name"])
    return ", ".join(names[-6:])


def no_layer_reason(events: list[dict[str, Any]]) -> str:
    """Why automatic detection found nothing, with example layers."""
    examples = layer_examples(events)
    norms = [event["name"] for event in events if _is_token_norm(event)]
    why = ("its token norms' patch outputs get no gradient from the logits"
           if norms else "no layer outputs a feature map N x C x h x w or a token grid "
           f"N x (prefix + h*w) x C (prefix <= {MAX_PREFIX_TOKENS})")
    hint = f"; layers that could be named with the 'layer' option: {examples}" if examples \
        else "; name one with the 'layer' option"
    return f"Grad-CAM found no layer to use: {why}{hint}"
