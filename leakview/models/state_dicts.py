"""Plain PyTorch weights: the state_dict inside a training checkpoint, the key prefixes that
wrappers add, and which torchvision classification architecture a state_dict fits.

The recogniser compares a state_dict with each candidate architecture's *signature* (its
parameter names and shapes, from a module built on the ``meta`` device: no memory, no
initialisation cost), first by names, then by shapes. Only the families whose marker key the
state_dict holds are built (see :data:`FAMILY_MARKERS`); signatures are cached per process.
Three shapes may differ from the signature: the classifier's output count (the class count),
the first convolution's input channels (gray models) and a ViT's position embedding (its
input size).
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import torch
from torch.nn.modules.module import (
    register_module_buffer_registration_hook,
    register_module_parameter_registration_hook,
)

from leakview.models.checks import is_plain_data
from leakview.models.torchvision_models import build_architecture, classification_architectures

# Where training scripts keep the weights in a checkpoint dict, most common first; the EMA
# copies come last (used only when the checkpoint has no plain weights).
CHECKPOINT_KEYS = ("model_state_dict", "state_dict", "model", "net", "network", "module",
                   "weights", "params", "model_ema", "state_dict_ema", "ema_state_dict", "ema")
# A checkpoint's entries that describe the model (read by leakview.models.plain).
DESCRIBING_ENTRIES = ("arch", "classes", "class_names", "class_to_idx")
# Key prefixes a wrapper adds, and what adds them.
WRAPPER_PREFIXES = {"module.": "DataParallel/DistributedDataParallel",
                    "_orig_mod.": "torch.compile"}
# Training-only auxiliary classifiers leakview never runs (it uses the main output).
AUXILIARY_PREFIXES = ("AuxLogits.", "aux1.", "aux2.")
# A key only the architectures of one family hold -> the name prefixes of that family.
FAMILY_MARKERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("layer4.0.conv1.weight", ("resnet", "resnext", "wide_resnet")),
    ("classifier.6.weight", ("alexnet", "vgg")),
    ("features.1.0.layer_scale", ("convnext",)),
    ("features.denseblock1.denselayer1.conv1.weight", ("densenet",)),
    ("features.1.0.block.0.0.weight", ("efficientnet",)),
    ("inception3a.branch1.conv.weight", ("googlenet",)),
    ("Mixed_5b.branch1x1.conv.weight", ("inception_v3",)),
    ("stem.0.0.weight", ("maxvit",)),
    ("layers.0.weight", ("mnasnet",)),
    ("features.1.conv.0.0.weight", ("mobilenet_v2",)),
    ("features.1.block.0.0.weight", ("mobilenet_v3",)),
    ("trunk_output.block1.block1-0.f.a.0.weight", ("regnet",)),
    ("stage2.0.branch1.0.weight", ("shufflenet",)),
    ("features.3.squeeze.weight", ("squeezenet",)),
    ("features.1.0.attn.qkv.weight", ("swin",)),
    ("encoder.pos_embedding", ("vit",)),
)
_SENTINEL_CLASSES = 1009  # a class count no layer width equals: marks the classifier's shapes
_VIT_POSITIONS = "encoder.pos_embedding"


def is_state_dict(value: Any) -> bool:
    """A non-empty dict mapping str names to tensors."""
    return (isinstance(value, dict) and bool(value)
            and all(isinstance(key, str) and isinstance(item, torch.Tensor)
                    for key, item in value.items()))


@dataclass(frozen=True)
class Weights:
    """A state_dict found in a file: ``kind`` is ``state_dict``, ``checkpoint`` or
    ``safetensors``; ``entries`` are the file's other plain entries (a checkpoint's ``arch``,
    ``classes``, ``epoch``, ...), ``entries_from`` says where they are, for messages."""

    state_dict: dict[str, torch.Tensor]
    kind: str
    notes: tuple[str, ...] = ()
    entries: dict[str, Any] | None = None
    entries_from: str = "the checkpoint's"


def find_state_dict(content: Any) -> Weights | str:
    """The weights in ``torch.load``'s result, unwrapped and with the wrappers' prefixes
    stripped; or the one-line reason there are none."""
    if is_state_dict(content):
        state_dict, notes = clean_keys(content)
        return Weights(state_dict, "state_dict", tuple(notes))
    if not isinstance(content, dict) or not content:
        return (f"holds a {type(content).__name__}, not a state_dict (a dict of tensors) or "
                f"a checkpoint dict")
    found = [key for key in CHECKPOINT_KEYS if is_state_dict(content.get(key))]
    if not found:
        shown = ", ".join(repr(key) for key in list(content)[:8])
        return (f"holds no state_dict: a checkpoint keeps its weights (a dict of tensors) "
                f"under one of {', '.join(CHECKPOINT_KEYS[:5])}, ...; this one has {shown}")
    key = found[0]
    state_dict, notes = clean_keys(content[key])
    others = [other for other in content if other != key and other not in DESCRIBING_ENTRIES]
    note = f"weights read from the checkpoint's {key!r} entry"
    if others:
        note += f" (ignored: {', '.join(repr(other) for other in others[:6])}"
        note += ", ...)" if len(others) > 6 else ")"
    entries = {name: value for name, value in content.items() if is_plain_data(value)}
    return Weights(state_dict, "checkpoint", (note, *notes), entries)


def clean_keys(state_dict: dict[str, torch.Tensor]
               ) -> tuple[dict[str, torch.Tensor], list[str]]:
    """Strip the prefixes all keys share (``module.`` of DataParallel, ``_orig_mod.`` of
    torch.compile, a wrapper's attribute name such as ``model.``) and drop the training-only
    auxiliary classifiers; returns the new dict and one note per change."""
    notes: list[str] = []
    while True:
        first = {key.split(".", 1)[0] for key in state_dict}
        if len(first) != 1 or not all("." in key for key in state_dict):
            break
        prefix = f"{first.pop()}."
        state_dict = {key[len(prefix):]: value for key, value in state_dict.items()}
        source = WRAPPER_PREFIXES.get(prefix)
        notes.append(f"key prefix {prefix!r} stripped ("
                     + (f"a {source} state_dict)" if source else "every key had it)"))
    auxiliary = [key for key in state_dict if key.startswith(AUXILIARY_PREFIXES)]
    if auxiliary:
        state_dict = {key: value for key, value in state_dict.items() if key not in auxiliary}
        heads = sorted({key.split(".", 1)[0] for key in auxiliary})
        notes.append(f"auxiliary classifier weights ({', '.join(heads)}) ignored: leakview "
                     f"uses the main output")
    return state_dict, notes


@dataclass(frozen=True)
class Signature:
    """An architecture's state_dict shapes, built with a sentinel class count."""

    arch: str
    shapes: dict[str, tuple[int, ...]]
    class_keys: frozenset[str]
    first_conv: str | None


@dataclass(frozen=True)
class Fit:
    """How a state_dict fits an architecture: its class count, its first convolution's input
    channels, and the input size its weights fix (a ViT's; ``None`` when any size works)."""

    arch: str
    num_classes: int
    channels: int
    input_size: tuple[int, int] | None
    classifier_key: str
    first_conv: str | None


# torch.nn.init's in-place initialisers: on a meta tensor they do nothing but cost most of a
# build (their meta kernels run in Python), so they are skipped there, as transformers'
# ``no_init_weights`` does.
_INITIALISERS = ("uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_",
                 "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
                 "kaiming_normal_", "orthogonal_", "sparse_")
_META_BUILD = threading.Lock()


def _skipping_on_meta(initialiser: Any) -> Any:
    def initialise(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
        if isinstance(tensor, torch.Tensor) and tensor.is_meta:
            return tensor
        return initialiser(tensor, *args, **kwargs)
    return initialise


@contextmanager
def _parameters_on_meta() -> Iterator[None]:
    """Modules built in this thread inside the block get ``meta`` parameters and buffers (no
    memory) and skip their initialisation. Registration hooks, not ``torch.device("meta")``:
    some builders (regnet) compute their widths with real tensors. Other threads are
    unaffected: the hooks check the thread, the initialisers still run on real tensors."""
    thread = threading.get_ident()

    def parameter(_module: torch.nn.Module, _name: str, value: Any) -> Any:
        if value is not None and threading.get_ident() == thread and not value.is_meta:
            return torch.nn.Parameter(value.to("meta"), requires_grad=value.requires_grad)
        return None

    def buffer(_module: torch.nn.Module, _name: str, value: Any) -> Any:
        if value is not None and threading.get_ident() == thread and not value.is_meta:
            return value.to("meta")
        return None

    with _META_BUILD:
        saved = {name: getattr(torch.nn.init, name) for name in _INITIALISERS
                 if hasattr(torch.nn.init, name)}
        handles = [register_module_parameter_registration_hook(parameter),
                   register_module_buffer_registration_hook(buffer)]
        try:
            for name, initialiser in saved.items():
                setattr(torch.nn.init, name, _skipping_on_meta(initialiser))
            yield
        finally:
            for name, initialiser in saved.items():
                setattr(torch.nn.init, name, initialiser)
            for handle in handles:
                handle.remove()


@functools.cache
def signature(arch: str) -> Signature:
    """The parameter names and shapes of torchvision ``arch`` (cached)."""
    with _parameters_on_meta():
        module = build_architecture(arch, _SENTINEL_CLASSES)
    shapes = {key: tuple(value.shape) for key, value in module.state_dict().items()}
    class_keys = frozenset(key for key, shape in shapes.items()
                           if shape and shape[0] == _SENTINEL_CLASSES)
    first_conv = next((key for key, shape in shapes.items()
                       if len(shape) == 4 and shape[1] == 3), None)
    return Signature(arch, shapes, class_keys, first_conv)


def candidate_architectures(keys: Iterable[str]) -> list[str]:
    """The torchvision architectures of the families whose marker key is among ``keys``."""
    present = set(keys)
    prefixes = tuple(prefix for marker, family in FAMILY_MARKERS if marker in present
                     for prefix in family)
    if not prefixes:
        return []
    return [arch for arch in classification_architectures() if arch.startswith(prefixes)]


def _without_counters(keys: Iterable[str]) -> set[str]:
    # BatchNorm's num_batches_tracked is absent from some exports (safetensors from timm).
    return {key for key in keys if not key.endswith("num_batches_tracked")}


def fit_architecture(state_dict: dict[str, torch.Tensor], arch: str) -> Fit | None:
    """How ``state_dict`` fits torchvision ``arch``, or None when a name or shape differs."""
    match = _match(state_dict, arch)
    return match if isinstance(match, Fit) else None


def misfit_reason(state_dict: dict[str, torch.Tensor], arch: str) -> str:
    """Why ``state_dict`` does not fit ``arch`` (missing, unexpected, wrongly shaped keys)."""
    match = _match(state_dict, arch)
    return "it fits" if isinstance(match, Fit) else match


def _match(state_dict: dict[str, torch.Tensor], arch: str) -> Fit | str:
    sig = signature(arch)
    given, expected = _without_counters(state_dict), _without_counters(sig.shapes)
    problems = []
    for count, keys, what in ((len(expected - given), sorted(expected - given), "missing"),
                              (len(given - expected), sorted(given - expected), "unexpected")):
        if count:
            problems.append(f"{count} {what} (e.g. {', '.join(keys[:3])})")
    if problems:
        return f"{'; '.join(problems)} parameters"
    num_classes: set[int] = set()
    channels = 3
    input_size: tuple[int, int] | None = None
    wrong = []
    for key in sorted(expected):
        actual, reference = tuple(state_dict[key].shape), sig.shapes[key]
        compared = _comparable(key, sig, actual, reference)
        if compared is None or compared[0] != compared[1]:
            wrong.append(f"{key} (file {actual}, {arch} {reference})")
        elif key in sig.class_keys:
            num_classes.add(actual[0])
        elif key == sig.first_conv:
            channels = actual[1]
        elif key == _VIT_POSITIONS and arch.startswith("vit_"):
            input_size = _vit_input_size(actual, state_dict)
            if input_size is None:
                wrong.append(f"{key} (file {actual}: not a square grid of patches)")
    if wrong:
        return f"{len(wrong)} parameters of the wrong shape (e.g. {'; '.join(wrong[:2])})"
    if len(num_classes) != 1 or min(num_classes) < 1:
        return f"its classifier layers disagree on the class count ({sorted(num_classes)})"
    classifier = sorted(key for key in sig.class_keys if key.endswith("weight"))
    return Fit(arch, num_classes.pop(), channels, input_size,
               (classifier or sorted(sig.class_keys))[0], sig.first_conv)


def _comparable(key: str, sig: Signature, actual: tuple[int, ...], reference: tuple[int, ...]
                ) -> tuple[tuple[int, ...], tuple[int, ...]] | None:
    """The parts of two shapes that must be equal: all but the class count of the
    classifier, the input channels of the first convolution, the token count of a ViT's
    position embedding. None when the ranks differ."""
    if len(actual) != len(reference):
        return None
    if key in sig.class_keys:
        return actual[1:], reference[1:]
    if key == sig.first_conv:
        return actual[:1] + actual[2:], reference[:1] + reference[2:]
    if key == _VIT_POSITIONS and sig.arch.startswith("vit_"):
        return (actual[0],) + actual[2:], (reference[0],) + reference[2:]
    return actual, reference


def _vit_input_size(positions: tuple[int, ...], state_dict: dict[str, torch.Tensor]
                    ) -> tuple[int, int] | None:
    """A torchvision ViT's square input size from its position embedding ``1 x (g*g+1) x D``
    and its patch size (``conv_proj``'s kernel)."""
    projection = state_dict.get("conv_proj.weight")
    if len(positions) != 3 or projection is None or projection.dim() != 4:
        return None
    grid = math.isqrt(max(positions[1] - 1, 0))
    if grid < 1 or grid * grid != positions[1] - 1:
        return None
    side = grid * int(projection.shape[-1])
    return side, side


def fitting_architectures(state_dict: dict[str, torch.Tensor],
                          architectures: Sequence[str] | None = None) -> list[Fit]:
    """Every torchvision classification architecture ``state_dict`` fits (names, then shapes),
    among ``architectures`` (default: the families its marker keys point to)."""
    names = candidate_architectures(state_dict) if architectures is None else architectures
    fits = (fit_architecture(state_dict, arch) for arch in names)
    return [fit for fit in fits if fit is not None]


def recognise_torchvision(state_dict: dict[str, torch.Tensor],
                          num_classes: int | None = None) -> str | None:
    """The one torchvision classification architecture ``state_dict`` fits (with
    ``num_classes`` outputs when given), or None when it fits none or several."""
    fits = [fit for fit in fitting_architectures(state_dict)
            if num_classes is None or fit.num_classes == num_classes]
    return fits[0].arch if len(fits) == 1 else None


def tried_families(state_dict: dict[str, torch.Tensor]) -> str:
    """Which architectures a failed guess compared, for the message."""
    names = candidate_architectures(state_dict)
    if names:
        return f"compared with {', '.join(names)}"
    families = sorted({prefix for _, family in FAMILY_MARKERS for prefix in family})
    return f"its keys match none of the families {', '.join(families)}"
