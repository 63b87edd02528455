"""Plain PyTorch weights of a torchvision classifier: a bare ``state_dict``, a training
checkpoint dict, a ``.safetensors`` file.

Such a file holds weights and little else: the architecture comes from the user's
:class:`~leakview.models.spec.ModelSpec` (``--arch``), a checkpoint's ``arch`` entry, or is
guessed from the weights' names and shapes when exactly one torchvision architecture fits;
the class count from the classifier's weights; the class names from the spec (``--classes``,
``--classes-file``), a checkpoint's ``classes`` / ``class_names`` / ``class_to_idx`` entry or
a safetensors file's ``classes`` metadata (a JSON list). Input size and normalisation default
to 224x224 and ImageNet's (its gray equivalent for a 1-channel model); each default is a note.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from leakview.models.build import build_model, channels_refusal
from leakview.models.checkpoint import holds_pickle_data
from leakview.models.checks import (
    ModelLoadError,
    ModelSpecNeeded,
    check_channels,
    check_classes,
    check_input_size,
)
from leakview.models.loaded import IMAGENET_MEAN, IMAGENET_STD, LoadedModel
from leakview.models.spec import ModelSpec
from leakview.models.state_dicts import (
    DESCRIBING_ENTRIES,
    Fit,
    Weights,
    clean_keys,
    find_state_dict,
    fit_architecture,
    fitting_architectures,
    misfit_reason,
    tried_families,
)
from leakview.models.torchvision_models import classification_architectures, load_state_dict_checked

SAFETENSORS_SUFFIX = ".safetensors"
DEFAULT_INPUT_SIZE = (224, 224)
# ImageNet's normalisation for one gray channel: the mean of its three channel means and stds.
GRAY_MEAN = (0.449,)
GRAY_STD = (0.226,)
def refuse_fake_safetensors(path: Path) -> None:
    """A file named ``.safetensors`` whose content is not: refused before anything reads it."""
    if holds_pickle_data(path):
        raise ModelLoadError(path, "refused: named .safetensors but it holds pickle/zip data "
                                   "(a torch.save file or a pickle), not safetensors; "
                                   "leakview reads .safetensors files only as safetensors, "
                                   "so nothing in it was loaded or run")
    raise ModelLoadError(path, "not a safetensors file (no valid safetensors header)")


def load_safetensors(path: Path, device: torch.device, spec: ModelSpec | None
                     ) -> LoadedModel:
    """The model whose weights a safetensors file holds (read with safetensors only)."""
    try:
        from safetensors import SafetensorError, safe_open
        from safetensors.torch import load_file
    except ImportError:
        raise ModelLoadError(path, "reading .safetensors needs the safetensors package: "
                                   "pip install safetensors") from None
    try:
        state_dict = load_file(str(path), device="cpu")
        with safe_open(str(path), framework="pt") as opened:
            metadata = opened.metadata() or {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as error:
        raise ModelLoadError(path, f"unreadable safetensors file "
                                   f"({str(error).splitlines()[0] if str(error) else error})"
                             ) from None
    if not state_dict:
        raise ModelLoadError(path, "the safetensors file holds no tensors")
    cleaned, notes = clean_keys(state_dict)
    weights = Weights(cleaned, "safetensors", tuple(notes), _metadata_entries(metadata),
                      "the safetensors metadata's")
    return model_from_weights(path, weights, device, spec)


def _metadata_entries(metadata: dict[str, str]) -> dict[str, Any]:
    entries: dict[str, Any] = {}
    if isinstance(metadata.get("arch"), str):
        entries["arch"] = metadata["arch"]
    try:
        classes = json.loads(metadata.get("classes", "null"))
    except json.JSONDecodeError:
        classes = None
    if classes is not None:
        entries["classes"] = classes
    return entries


def load_plain(path: Path, content: Any, device: torch.device, spec: ModelSpec | None
               ) -> LoadedModel:
    """The model whose weights ``torch.load`` (``weights_only``) read from ``path``."""
    weights = find_state_dict(content)
    if isinstance(weights, str):
        raise ModelLoadError(path, f"not a leakview model bundle, and it {weights}")
    return model_from_weights(path, weights, device, spec)


def model_from_weights(path: Path, weights: Weights, device: torch.device,
                       spec: ModelSpec | None) -> LoadedModel:
    """Build, check and load the model ``weights`` describe with ``spec``'s help."""
    spec = spec or ModelSpec()
    notes = list(weights.notes)
    arch, fit = _architecture(path, weights, spec, notes)
    channels = fit.channels if fit else 3
    if channels not in (1, 3):  # refused before asking for anything else
        raise ModelLoadError(path, f"the first convolution ({fit.first_conv if fit else '?'}) "
                                   f"{channels_refusal(channels)}")
    classes = _classes(path, weights, spec, fit, arch, notes)
    input_size = _input_size(path, spec, fit, notes)
    mean, std = _normalisation(path, spec, channels, notes)
    try:
        module = build_model(arch, len(classes), input_size, channels)
    except (ValueError, TypeError) as error:
        raise ModelLoadError(path, f"--arch: {error}") from None
    state_dict = dict(weights.state_dict)
    for key, value in module.state_dict().items():
        if key.endswith("num_batches_tracked") and key not in state_dict:
            state_dict[key] = torch.zeros_like(value)  # some exports leave BatchNorm's out
    load_state_dict_checked(path, module, state_dict, arch, "the given classes")
    module.eval().to(device)
    return LoadedModel(module=module, classes=classes, input_size=input_size, mean=mean,
                       std=std, arch=arch, device=device, source=path, kind=weights.kind,
                       channels=channels, notes=notes)


def _architecture(path: Path, weights: Weights, spec: ModelSpec, notes: list[str]
                  ) -> tuple[str, Fit | None]:
    """The architecture and how the weights fit it (None for a non-torchvision name)."""
    state_dict = weights.state_dict
    named = spec.arch
    named_by = "--arch"
    entry = (weights.entries or {}).get("arch")
    if named is None and isinstance(entry, str) and entry in classification_architectures():
        named, named_by = entry, f"{weights.entries_from} 'arch' entry"
        notes.append(f"architecture {entry} named by {named_by}")
    if named is not None:
        if named not in classification_architectures():
            return named, None  # another source's name (timm/...): build_model decides
        fit = fit_architecture(state_dict, named)
        if fit is None:
            raise ModelLoadError(path, f"the weights do not fit architecture {named!r} "
                                       f"(named by {named_by}): "
                                       f"{misfit_reason(state_dict, named)}")
        return named, fit
    fit = choose_fit(path, fitting_architectures(state_dict), tried_families(state_dict),
                     classes_given=spec.classes is not None)
    notes.append(f"architecture {fit.arch} guessed from the weights' keys and shapes")
    return fit.arch, fit


def choose_fit(path: Path, fits: list[Fit], tried: str, classes_given: bool) -> Fit:
    """The one architecture the weights fit, or :class:`ModelSpecNeeded` asking for the
    architecture (and the classes unless ``classes_given``) when they fit none or several.
    Its reason names no flag: the command line adds its flags, the window asks in a dialog."""
    if len(fits) == 1:
        return fits[0]
    missing = ("arch",) if classes_given else ("arch", "classes")
    if fits:
        raise ModelSpecNeeded(path, f"its weights fit several torchvision classification "
                                    f"architectures ({', '.join(fit.arch for fit in fits)}); "
                                    f"name the architecture", missing)
    raise ModelSpecNeeded(path, f"its weights fit no torchvision classification architecture "
                                f"({tried}); name the architecture (a torchvision name or "
                                f"timm/NAME)", missing)


def _classes(path: Path, weights: Weights, spec: ModelSpec, fit: Fit | None, arch: str,
             notes: list[str]) -> list[str]:
    """The class names, checked against the classifier's output count."""
    entries = weights.entries or {}
    given: Any = list(spec.classes) if spec.classes is not None else None
    named_by = "--classes"
    if given is None:
        for key in DESCRIBING_ENTRIES[1:]:
            if key in entries:
                given = _entry_classes(entries[key])
                named_by = f"{weights.entries_from} {key!r} entry"
                notes.append(f"class names from {named_by}")
                break
    if given is None:
        outputs = f" (its classifier has {fit.num_classes} outputs)" if fit else ""
        raise ModelSpecNeeded(path, f"the file names no classes{outputs}", ("classes",),
                              guessed_arch=arch if spec.arch is None else None)
    classes = check_classes(path, given, named_by)
    if fit is not None and len(classes) != fit.num_classes:
        raise ModelLoadError(path, f"{named_by} names {len(classes)} classes but the weights' "
                                   f"classifier ({fit.classifier_key}) has {fit.num_classes} "
                                   f"outputs")
    return classes


def _entry_classes(value: Any) -> Any:
    """A checkpoint's class names: a list, or ImageFolder's ``class_to_idx`` in index order."""
    if isinstance(value, dict) and all(isinstance(index, int) for index in value.values()):
        return [name for name, _ in sorted(value.items(), key=lambda item: item[1])]
    return value


def _input_size(path: Path, spec: ModelSpec, fit: Fit | None, notes: list[str]
                ) -> tuple[int, int]:
    fixed = fit.input_size if fit else None
    if spec.input_size is not None:
        size = check_input_size(path, "--input-size", spec.input_size)
        if fixed is not None and size != fixed:
            raise ModelLoadError(path, f"{fit.arch if fit else ''}'s position embedding fixes "
                                       f"the input size to {fixed[0]}x{fixed[1]}, but "
                                       f"--input-size says {size[0]}x{size[1]}")
        return size
    if fixed is not None:
        notes.append(f"input size {fixed[0]}x{fixed[1]} from the ViT's position embedding")
        return fixed
    notes.append(f"input size {DEFAULT_INPUT_SIZE[0]}x{DEFAULT_INPUT_SIZE[1]} assumed "
                 f"(a default: give the size it was trained at if it differs)")
    return DEFAULT_INPUT_SIZE


def _normalisation(path: Path, spec: ModelSpec, channels: int, notes: list[str]
                   ) -> tuple[tuple[float, ...], tuple[float, ...]]:
    gray = channels == 1
    if gray:
        notes.append("gray input: the first convolution takes 1 channel, so images are "
                     "converted to gray (ITU-R BT.601 luma) before normalising")
    values = []
    for flag, given, default in (("--mean", spec.mean, GRAY_MEAN if gray else IMAGENET_MEAN),
                                 ("--std", spec.std, GRAY_STD if gray else IMAGENET_STD)):
        if given is not None and len(given) != channels:
            raise ModelLoadError(path, f"{flag} has {len(given)} values but the model takes "
                                       f"{channels} input channel(s)")
        values.append(check_channels(path, flag.lstrip("-"),
                                     given if given is not None else default, channels))
    if spec.mean is None or spec.std is None:
        which = " and ".join(flag for flag, given in (("mean", spec.mean), ("std", spec.std))
                             if given is None)
        notes.append(f"normalisation {which} assumed: ImageNet's "
                     + ("gray equivalent, mean 0.449 std 0.226" if gray else
                        "(0.485, 0.456, 0.406) / (0.229, 0.224, 0.225)")
                     + " (a default: give its own if it was trained with others)")
    return values[0], values[1]
