"""timm models (optional extra ``leakview[timm]``): ``--arch timm/NAME`` for any
``timm.list_models()`` name, over a state_dict (``torch.save``), a ``.safetensors`` file or a
timm training checkpoint (``{"state_dict", "arch", "epoch", "args", ...}``, whose ``arch`` is
read so no ``--arch`` is needed).

Preprocessing the user does not give comes from the checkpoint (its ``pretrained_cfg``, or
the ``args`` of timm's train.py), else from timm's pretrained config for the architecture.
The input channels (1 = gray, 3 = RGB) are read from the weights of the first convolution.
timm is imported only here, and only when a timm model is asked for.
"""

from __future__ import annotations

import types
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from leakview.errors import exception_reason
from leakview.models.checkpoint import is_safetensors, read_checkpoint
from leakview.models.checks import (
    ModelLoadError,
    ModelSpecNeeded,
    check_channels,
    check_classes,
    check_input_size,
    is_plain_data,
)
from leakview.models.loaded import LoadedModel
from leakview.models.spec import ModelSpec, settle
from leakview.models.torchvision_models import classification_architectures, load_state_dict_checked

TIMM_PREFIX = "timm/"
NEEDS_TIMM = "needs the timm package: pip install 'leakview[timm]'"
# Bundle key (and LoadedModel.extra key) of the create_model keyword arguments a model was
# built with beyond its name (timm train.py's --model-kwargs, e.g. {"depth": 2}).
KWARGS_KEY = "timm_kwargs"
# create_model arguments that load files, download, or change what the model returns: never
# taken from a file. leakview sets the last four itself.
_FORBIDDEN_KWARGS = frozenset({
    "pretrained", "pretrained_cfg", "pretrained_cfg_overlay", "checkpoint_path", "cache_dir",
    "scriptable", "exportable", "no_jit", "features_only", "feature_cfg", "feature_cls",
    "out_indices", "kwargs_filter", "num_classes", "in_chans", "img_size", "input_size",
})
# Keys of a timm training checkpoint that show it was written by timm's CheckpointSaver.
_TIMM_MARKS = ("pretrained_cfg", "state_dict_ema", "saver", "version")


def import_timm(what: str) -> types.ModuleType:
    """The timm package, or ValueError "WHAT needs the timm package: pip install ..."."""
    try:
        import timm
    except ImportError:
        raise ValueError(f"{what} {NEEDS_TIMM}") from None
    return timm


def is_timm_arch(arch: str | None) -> bool:
    return bool(arch) and str(arch).startswith(TIMM_PREFIX)


def _timm_name(arch: str) -> str:
    """``timm/NAME`` -> ``NAME``, checked against timm's registry (a tag such as
    ``.augreg_in21k`` is allowed; hub and file sources are not)."""
    name = arch[len(TIMM_PREFIX):] if is_timm_arch(arch) else arch
    timm = import_timm(f"architecture {arch!r}")
    if ":" in name or not timm.is_model(name):
        raise ValueError(f"unknown timm architecture {name!r}: expected a name from "
                         f"timm.list_models() such as resnet18 or vit_tiny_patch16_224")
    return name


def model_kwargs(value: Any) -> dict[str, Any]:
    """The architecture keyword arguments a file names (plain data; loader, download and
    output options dropped)."""
    if not isinstance(value, Mapping):
        return {}
    return {str(key): item for key, item in value.items()
            if str(key) not in _FORBIDDEN_KWARGS and is_plain_data(item)}


def build_timm(arch: str, num_classes: int, input_size: Sequence[int] = (224, 224),
               channels: int = 3, kwargs: Mapping[str, Any] | None = None) -> torch.nn.Module:
    """An untrained ``timm.create_model(NAME, pretrained=False, ...)`` with ``num_classes``
    outputs and ``channels`` input channels, built for ``input_size`` where the model takes
    an ``img_size``. Raises ValueError naming the problem."""
    name = _timm_name(arch)
    import timm

    options: dict[str, Any] = {**model_kwargs(kwargs), "pretrained": False,
                               "num_classes": int(num_classes), "in_chans": int(channels)}
    size = tuple(int(value) for value in input_size)
    try:
        try:
            module: torch.nn.Module = timm.create_model(name, img_size=size, **options)
        except TypeError as error:
            if "img_size" not in str(error):
                raise
            module = timm.create_model(name, **options)
    except Exception as error:  # timm raises many types on a bad combination
        raise ValueError(f"timm cannot build {name} for {num_classes} classes, {channels} "
                         f"channel(s), input {list(size)} "
                         f"({exception_reason(error)})") from None
    return module


def read_weights(path: Path) -> Any:
    """A ``.safetensors`` file's tensors, or the object in a ``torch.save`` file (read with
    ``weights_only=True``)."""
    if not is_safetensors(path):
        return read_checkpoint(path)
    try:
        import safetensors.torch
    except ImportError:
        raise ModelLoadError(path, f"a .safetensors file {NEEDS_TIMM}") from None
    try:
        return safetensors.torch.load_file(str(path), device="cpu")
    except Exception as error:  # SafetensorError, OSError, ... on a file that is not one
        detail = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ModelLoadError(path, f"not a safetensors file ({detail})") from None


def _is_tensor_dict(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(
        isinstance(item, torch.Tensor) for item in value.values())


def names_timm_arch(path: Path, content: Any) -> bool:
    """Whether a checkpoint dict names a timm architecture: ``{"state_dict": ..., "arch":
    NAME}`` with NAME ``timm/...``, or a name timm knows and torchvision does not, or a
    torchvision name with timm's checkpoint keys (``version``, ``state_dict_ema``, ...).
    A name torchvision does not know while timm is missing is a ModelLoadError naming the
    extra."""
    if not isinstance(content, dict) or not _is_tensor_dict(content.get("state_dict")) \
            or "format" in content:  # a leakview bundle
        return False
    arch = content.get("arch")
    if not isinstance(arch, str) or not arch:
        return False
    if is_timm_arch(arch):
        return True
    if arch in classification_architectures():
        return any(key in content for key in _TIMM_MARKS)
    try:
        timm = import_timm(f"the checkpoint's architecture {arch!r} is not a torchvision "
                           f"model; a timm model")
    except ValueError as error:
        raise ModelLoadError(path, str(error)) from None
    return bool(timm.is_model(arch))


def _checkpoint_parts(path: Path, content: Any) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """``(state_dict, the checkpoint's other entries)`` of a state_dict or a timm checkpoint."""
    if _is_tensor_dict(content):
        return content, {}
    if isinstance(content, dict) and "format" in content and "state_dict" in content:
        raise ModelLoadError(path, "a leakview bundle names its own architecture and classes: "
                                   "open it without --arch")
    if isinstance(content, dict) and _is_tensor_dict(content.get("state_dict")):
        return content["state_dict"], {key: value for key, value in content.items()
                                       if key != "state_dict"}
    what = (f"a dict with keys {', '.join(map(str, list(content)[:6]))}"
            if isinstance(content, dict) else f"a {type(content).__name__}")
    raise ModelLoadError(path, f"not a timm state_dict or training checkpoint: it holds {what}")


def _strip_wrappers(state_dict: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], str]:
    """Keys without DataParallel's ``module.`` / torch.compile's ``_orig_mod.`` prefixes."""
    for prefix in ("module.", "_orig_mod."):
        if all(key.startswith(prefix) for key in state_dict):
            stripped, _ = _strip_wrappers({key[len(prefix):]: value
                                           for key, value in state_dict.items()})
            return stripped, prefix
    return state_dict, ""


def _sequence(cfg: Mapping[str, Any], key: str) -> tuple[Any, ...] | None:
    value = cfg.get(key)
    return tuple(value) if isinstance(value, (list, tuple)) and value else None


def _file_preprocessing(meta: Mapping[str, Any]) -> dict[str, Any]:
    """input_size / mean / std the checkpoint states (its ``pretrained_cfg``, else train.py's
    ``args``: ``input_size`` C,H,W or ``img_size``)."""
    found: dict[str, Any] = {}
    cfg = meta.get("pretrained_cfg")
    args = meta.get("args")
    for source in (cfg, args):
        if not isinstance(source, Mapping):
            continue
        size = _sequence(source, "input_size")
        if size is None and isinstance(source.get("img_size"), int):
            size = (source["img_size"], source["img_size"])
        if size is not None and "input_size" not in found:
            found["input_size"] = size[-2:]
        for key in ("mean", "std"):
            value = _sequence(source, key)
            if value is not None and key not in found:
                found[key] = value
    return found


def _weights_facts(path: Path, state_dict: Mapping[str, torch.Tensor], cfg: Mapping[str, Any]
                   ) -> tuple[int, int | None]:
    """``(input channels, classifier outputs or None)`` read from the weights of the first
    convolution and the classifier that timm's pretrained config names."""
    channels = 3
    first = cfg.get("first_conv")
    for name in ([first] if isinstance(first, str) else list(first or ())):
        weight = state_dict.get(f"{name}.weight")
        if weight is not None and weight.dim() == 4:
            channels = int(weight.shape[1])
            break
    if channels not in (1, 3):
        raise ModelLoadError(path, f"the first convolution ({first}) takes {channels} input "
                                   f"channels; leakview feeds RGB (3) or gray (1) images")
    outputs = None
    classifier = cfg.get("classifier")
    for name in ([classifier] if isinstance(classifier, str) else list(classifier or ())):
        weight = state_dict.get(f"{name}.weight")
        if weight is not None and weight.dim() >= 1:
            outputs = int(weight.shape[0])
            break
    return channels, outputs


def _fit_weights(path: Path, module: torch.nn.Module, state_dict: dict[str, torch.Tensor],
                 arch: str, input_size: tuple[int, int]) -> None:
    """Load the weights; a positional embedding of another size names the input-size flag."""
    expected = module.state_dict()
    for key, value in state_dict.items():
        if "pos_embed" in key and key in expected and value.shape != expected[key].shape:
            raise ModelLoadError(path, f"the weights' {key} {tuple(value.shape)} is for another "
                                       f"input size than {input_size[0]}x{input_size[1]} "
                                       f"({tuple(expected[key].shape)}): give the size it was "
                                       f"trained at (--input-size H W)")
    load_state_dict_checked(path, module, state_dict, arch)


def _preprocessing(path: Path, spec: ModelSpec, meta: Mapping[str, Any],
                   cfg: Mapping[str, Any], channels: int, notes: list[str]
                   ) -> tuple[tuple[int, int], tuple[float, ...], tuple[float, ...]]:
    """``(input size, mean, std)``: the user's, the checkpoint's (never contradicted), else
    timm's pretrained config for the architecture (noted)."""
    stated = _file_preprocessing(meta)
    from_registry = []
    values: dict[str, Any] = {}
    for key in ("input_size", "mean", "std"):
        value = settle(path, key, getattr(spec, key), stated.get(key))
        if value is None:
            from_registry.append(key.replace("_", " "))
            value = tuple(cfg.get(key) or (3, 224, 224))[-2:] if key == "input_size" \
                else tuple(cfg.get(key) or ())
            if key != "input_size" and channels == 1 and len(value) == 3:
                value = (sum(value) / 3,)  # one gray channel: the mean of the RGB values
        values[key] = value
    if from_registry:
        notes.append(f"{'/'.join(from_registry)} from timm's pretrained config for "
                     f"{cfg.get('architecture')}")
    return (check_input_size(path, "input size", values["input_size"]),
            check_channels(path, "mean", values["mean"], channels),
            check_channels(path, "std", values["std"], channels))


def load_timm(path: Path, device: torch.device, spec: ModelSpec | None = None,
              content: Any = None) -> LoadedModel:
    """The timm model in ``path`` (``content`` = the file's object when already read)."""
    spec = spec or ModelSpec()
    if content is None:
        content = read_weights(path)
    state_dict, meta = _checkpoint_parts(path, content)
    notes: list[str] = []
    state_dict, prefix = _strip_wrappers(state_dict)
    if prefix:
        notes.append(f"key prefix {prefix!r} stripped (a wrapped model's state_dict)")
    if "state_dict_ema" in meta:
        notes.append("the checkpoint's state_dict used (it also holds EMA weights)")
    args: Mapping[str, Any] = meta["args"] if isinstance(meta.get("args"), Mapping) else {}
    file_arch = meta.get("arch") if isinstance(meta.get("arch"), str) else None
    if file_arch is not None and not is_timm_arch(file_arch):
        file_arch = TIMM_PREFIX + file_arch
    arch = settle(path, "arch", spec.arch, file_arch)
    if arch is None:
        raise ModelSpecNeeded(path, "timm weights without an architecture: name it "
                                    "(--arch timm/NAME)", ("arch",))
    try:
        name = _timm_name(arch)
    except ValueError as error:
        raise ModelLoadError(path, str(error)) from None
    import timm

    registry_cfg = timm.models.get_pretrained_cfg(name)
    cfg = {"architecture": name,
           **(registry_cfg.to_dict() if registry_cfg is not None else {})}  # type: ignore[no-untyped-call]
    channels, outputs = _weights_facts(path, state_dict, cfg)
    if spec.classes is None:
        count = f"the weights have {outputs} outputs; " if outputs else ""
        raise ModelSpecNeeded(path, f"timm weights hold no class names: {count}name the "
                                    f"classes (--classes a,b,c or --classes-file)",
                              ("classes",), guessed_arch=arch)
    classes = check_classes(path, list(spec.classes), "--classes")
    if outputs is not None and outputs != len(classes):
        raise ModelLoadError(path, f"the weights' classifier ({cfg.get('classifier')}) has "
                                   f"{outputs} outputs but {len(classes)} classes were given")
    input_size, mean, std = _preprocessing(path, spec, meta, cfg, channels, notes)
    kwargs = model_kwargs(args.get("model_kwargs"))
    try:
        module = build_timm(arch, len(classes), input_size, channels, kwargs)
    except ValueError as error:
        raise ModelLoadError(path, str(error)) from None
    _fit_weights(path, module, state_dict, arch, input_size)
    module.eval().to(device)
    return LoadedModel(module=module, classes=classes, input_size=input_size, mean=mean,
                       std=std, arch=arch, device=device,
                       extra={KWARGS_KEY: kwargs} if kwargs else {}, source=path, kind="timm",
                       channels=channels, notes=notes)
