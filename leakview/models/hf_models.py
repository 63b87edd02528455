"""Hugging Face transformers image classifiers (optional extra ``leakview[hf]``): a local
``save_pretrained`` folder (``config.json`` + ``model.safetensors``) given as the model path.

Read with safetensors only, offline, never with remote code: a folder whose config has an
``auto_map`` or that holds only pickled weights (``pytorch_model.bin``) is refused before
transformers is even imported. Classes come from ``id2label``; input size and normalisation
from ``preprocessor_config.json`` (else ``config.image_size`` and ImageNet's mean/std). The HF
model is wrapped in :class:`HFLogits` (a batch -> the logits tensor), its layers reachable
under ``hf.`` for Grad-CAM. A bundle stores the config as plain data (``hf_config``), and
:func:`build_hf` rebuilds the model from it.
"""

from __future__ import annotations

import json
import os
import re
import types
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from leakview.models.checks import (
    ModelLoadError,
    check_channels,
    check_classes,
    check_input_size,
    read_json_object,
)
from leakview.models.loaded import IMAGENET_MEAN, IMAGENET_STD, LoadedModel
from leakview.models.spec import ModelSpec, settle

HF_PREFIX = "hf/"
NEEDS_HF = "needs the transformers package: pip install 'leakview[hf]'"
CONFIG_KEY = "hf_config"  # bundle (and LoadedModel.extra) key of the model's config.json data
SAFE_WEIGHTS = ("model.safetensors", "model.safetensors.index.json")
PICKLED_WEIGHTS = ("pytorch_model.bin", "pytorch_model.bin.index.json")
_DEFAULT_LABEL = re.compile(r"LABEL_\d+")


class HFLogits(torch.nn.Module):
    """A transformers image classifier as leakview calls it: ``forward(batch)`` returns the
    logits tensor (transformers returns an output object). The HF model is the submodule
    ``hf`` (so its layers are named ``hf.vit.encoder...``)."""

    def __init__(self, hf_model: torch.nn.Module) -> None:
        super().__init__()
        self.hf = hf_model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.hf(pixel_values=pixel_values, return_dict=True).logits
        return logits


def import_transformers(what: str) -> types.ModuleType:
    """The transformers package, or ValueError "WHAT needs the transformers package: ..."."""
    try:
        with offline():
            import transformers
    except ImportError:
        raise ValueError(f"{what} {NEEDS_HF}") from None
    return transformers


@contextmanager
def offline() -> Iterator[None]:
    """HF_HUB_OFFLINE=1 (and TRANSFORMERS_OFFLINE=1) while inside: nothing is downloaded."""
    saved = {key: os.environ.get(key) for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ.update({key: "1" for key in saved})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def is_hf_arch(arch: str | None) -> bool:
    return bool(arch) and str(arch).startswith(HF_PREFIX)


def _refuse_remote_code(path: Path, config: Mapping[str, Any]) -> None:
    if config.get("auto_map"):
        raise ModelLoadError(path, "refused: the config has an 'auto_map' (the model's code "
                                   "ships with the folder and would have to run: remote "
                                   "code); leakview never runs a model folder's own code")


def _classifier_name(path: Path, config: Mapping[str, Any]) -> str:
    """The image-classification class the config names, or a ModelLoadError."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_IMAGE_CLASSIFICATION_MAPPING_NAMES as CLASSIFIERS,
    )

    def names(value: Any) -> list[str]:  # one class name, or a tuple of them
        return [value] if isinstance(value, str) else list(value)

    known = {name for value in CLASSIFIERS.values() for name in names(value)}
    architectures = config.get("architectures") or names(
        CLASSIFIERS.get(str(config.get("model_type")), ()))
    if not isinstance(architectures, list) or not all(isinstance(a, str) for a in architectures):
        raise ModelLoadError(path, "config key 'architectures' must be a list of class names")
    chosen = next((name for name in architectures if name in known), None)
    if chosen is None:
        named = ", ".join(architectures) or f"model_type {config.get('model_type')!r}"
        raise ModelLoadError(path, f"{named} is not an image-classification model (leakview "
                                   f"reads AutoModelForImageClassification models such as "
                                   f"ViTForImageClassification or ResNetForImageClassification)")
    return chosen


def _check_folder(path: Path) -> dict[str, Any]:
    """config.json's data, once the folder is known to hold a safe classifier's files."""
    config_path = path / "config.json"
    if not config_path.is_file():
        raise ModelLoadError(path, "is a folder, not a model file (a Hugging Face model "
                                   "folder holds config.json and model.safetensors)")
    config = read_json_object(config_path)
    if not isinstance(config.get("model_type"), str):
        raise ModelLoadError(config_path, "no 'model_type': not a Hugging Face model config")
    _refuse_remote_code(config_path, config)
    if not any((path / name).is_file() for name in SAFE_WEIGHTS):
        if any((path / name).is_file() for name in PICKLED_WEIGHTS):
            raise ModelLoadError(path, "refused: the weights are pickled (pytorch_model.bin), "
                                       "and leakview never unpickles; re-save the model with "
                                       "save_pretrained(folder, safe_serialization=True) to "
                                       "write model.safetensors")
        raise ModelLoadError(path, "a Hugging Face folder without model.safetensors")
    return config


def _classes(path: Path, id2label: Mapping[Any, Any], spec: ModelSpec,
             notes: list[str]) -> list[str]:
    """Class names ordered by id; the user's names replace HF's default LABEL_i ones."""
    try:
        ordered = sorted((int(key), str(name)) for key, name in id2label.items())
    except (TypeError, ValueError):
        raise ModelLoadError(path, "config key 'id2label' must map class ids to names") from None
    if [index for index, _ in ordered] != list(range(len(ordered))):
        raise ModelLoadError(path, "config key 'id2label' must number the classes 0..N-1")
    names = [name for _, name in ordered]
    if all(_DEFAULT_LABEL.fullmatch(name) for name in names):
        if spec.classes is None:
            notes.append("class names are Hugging Face's defaults (LABEL_0, ...): the config "
                         "names none; give --classes to name them")
            return check_classes(path, names, "id2label")
        given = check_classes(path, list(spec.classes), "--classes")
        if len(given) != len(names):
            raise ModelLoadError(path, f"the model has {len(names)} outputs but "
                                       f"{len(given)} classes were given")
        return given
    return check_classes(path, settle(path, "classes", spec.classes and list(spec.classes),
                                      names), "id2label")


def _size(value: Any) -> tuple[int, int] | None:
    """An image processor's ``size`` / ``crop_size``: {height, width}, {shortest_edge} or N."""
    if isinstance(value, int):
        return value, value
    if isinstance(value, Mapping):
        if "height" in value and "width" in value:
            return int(value["height"]), int(value["width"])
        for key in ("shortest_edge", "longest_edge"):
            if isinstance(value.get(key), int):
                return value[key], value[key]
    return None


def _preprocessing(path: Path, config: Any, notes: list[str]
                   ) -> tuple[Any, Sequence[float] | None, Sequence[float] | None]:
    """``(input size, mean, std)`` the folder states (None where it states nothing)."""
    image_size = getattr(config, "image_size", None)
    config_size = tuple(image_size)[-2:] if isinstance(image_size, (list, tuple)) \
        else _size(image_size)
    processor_path = path / "preprocessor_config.json"
    if not processor_path.is_file():
        notes.append("no preprocessor_config.json: "
                     + ("input size from config.image_size, " if config_size
                        else "input size 224x224, ") + "mean/std ImageNet's")
        return config_size, None, None
    processor = read_json_object(processor_path)
    crop = _size(processor.get("crop_size")) if processor.get("do_center_crop", True) else None
    size = crop or _size(processor.get("size"))
    if size is not None and crop is None and isinstance(processor.get("size"), Mapping) \
            and "height" not in processor["size"]:
        notes.append(f"input size {size[0]}x{size[1]} from the processor's edge size (leakview "
                     f"resizes to a fixed size, it does not crop)")
    mean, std = processor.get("image_mean"), processor.get("image_std")
    if not processor.get("do_normalize", True):
        mean, std = [0.0] * config.num_channels, [1.0] * config.num_channels
    # HF scales pixels 0..255 by rescale_factor (1/255) then normalises; leakview's pixels are
    # 0..1, so the same input needs mean and std divided by 255 * rescale_factor.
    scale = 255.0 * float(processor.get("rescale_factor", 1 / 255)) \
        if processor.get("do_rescale", True) else 255.0
    if isinstance(mean, list) and isinstance(std, list) and abs(scale - 1.0) > 1e-6:
        mean, std = [m / scale for m in mean], [s / scale for s in std]
        notes.append("mean/std scaled to 0..1 pixels (the processor's rescale_factor)")
    return size or config_size, mean, std


def _from_pretrained(path: Path, transformers: types.ModuleType) -> Any:
    """``AutoModelForImageClassification.from_pretrained`` offline, safetensors only, no
    remote code, quiet; weights that do not fit the config are a ModelLoadError (transformers
    would initialise them randomly)."""
    hf_logging = transformers.utils.logging
    bars = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        with offline():
            hf_model, info = transformers.AutoModelForImageClassification.from_pretrained(
                str(path), local_files_only=True, use_safetensors=True,
                trust_remote_code=False, output_loading_info=True)
    except Exception as error:  # transformers raises many types on a bad folder
        detail = str(error).splitlines()[0] if str(error) else ""
        raise ModelLoadError(path, f"transformers cannot read this folder "
                                   f"({type(error).__name__}: {detail})") from None
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    problems = [f"{len(info[key])} {key.replace('_keys', '')} (e.g. "
                f"{', '.join(map(str, list(info[key])[:2]))})"
                for key in ("missing_keys", "mismatched_keys") if info.get(key)]
    if problems:
        raise ModelLoadError(path, f"model.safetensors does not fit config.json: "
                                   f"{'; '.join(problems)} weights")
    return hf_model.float()


def load_hf_folder(path: Path, device: torch.device, spec: ModelSpec | None = None
                   ) -> LoadedModel:
    """The image classifier in a ``save_pretrained`` folder (see the module docstring)."""
    spec = spec or ModelSpec()
    config_data = _check_folder(path)
    try:
        transformers = import_transformers("a Hugging Face model folder")
    except ValueError as error:
        raise ModelLoadError(path, str(error)) from None
    class_name = _classifier_name(path / "config.json", config_data)
    settle(path, "arch", spec.arch, HF_PREFIX + class_name)
    hf_model = _from_pretrained(path, transformers)
    config = hf_model.config
    notes: list[str] = []
    if type(hf_model).__name__ != class_name:
        notes.append(f"config.json names {class_name}; transformers built "
                     f"{type(hf_model).__name__}")
    classes = _classes(path, config.id2label, spec, notes)
    size, mean, std = _preprocessing(path, config, notes)
    channels = int(getattr(config, "num_channels", 3))
    default_mean: tuple[float, ...] = IMAGENET_MEAN
    default_std: tuple[float, ...] = IMAGENET_STD
    if channels == 1:  # one gray channel: the mean of the RGB values
        default_mean, default_std = (sum(IMAGENET_MEAN) / 3,), (sum(IMAGENET_STD) / 3,)
    input_size = check_input_size(path, "input size",
                                  settle(path, "input_size", spec.input_size, size) or (224, 224))
    mean = check_channels(path, "mean", settle(path, "mean", spec.mean, mean) or default_mean,
                          channels)
    std = check_channels(path, "std", settle(path, "std", spec.std, std) or default_std,
                         channels)
    module = HFLogits(hf_model)
    module.eval().to(device)
    return LoadedModel(module=module, classes=classes, input_size=input_size, mean=mean,
                       std=std, arch=HF_PREFIX + type(hf_model).__name__, device=device,
                       extra={CONFIG_KEY: plain_config(config)}, source=path,
                       kind="huggingface", channels=channels, notes=notes)


def plain_config(config: Any) -> dict[str, Any]:
    """A transformers config as plain JSON data (what ``config.json`` would hold, in full)."""
    data: dict[str, Any] = json.loads(config.to_json_string(use_diff=False))
    data.pop("_name_or_path", None)
    return data


def build_hf(arch: str, num_classes: int, channels: int = 3,
             config: Mapping[str, Any] | None = None) -> torch.nn.Module:
    """An untrained :class:`HFLogits` for ``arch`` (``hf/ClassName``) rebuilt from the plain
    ``config`` data a bundle stores. Raises ValueError naming the problem."""
    if not isinstance(config, Mapping) or not isinstance(config.get("model_type"), str):
        raise ValueError(f"{arch}: a Hugging Face model needs its config (the bundle key "
                         f"{CONFIG_KEY!r} with a model_type)")
    if config.get("auto_map"):
        raise ValueError(f"{arch}: refused: the config has an 'auto_map' (remote code)")
    transformers = import_transformers(f"architecture {arch!r}")
    try:
        config_class = transformers.CONFIG_MAPPING[config["model_type"]]
    except KeyError:
        raise ValueError(f"{arch}: unknown Hugging Face model_type "
                         f"{config['model_type']!r}") from None
    hf_config = config_class.from_dict(dict(config))
    if hf_config.num_labels != num_classes:
        raise ValueError(f"{arch}: the config has {hf_config.num_labels} labels, not "
                         f"{num_classes}")
    if int(getattr(hf_config, "num_channels", 3)) != channels:
        raise ValueError(f"{arch}: the config takes {hf_config.num_channels} channel(s), "
                         f"not {channels}")
    with offline():
        hf_model = transformers.AutoModelForImageClassification.from_config(hf_config)
    if HF_PREFIX + type(hf_model).__name__ != arch:
        raise ValueError(f"{arch}: the config builds {type(hf_model).__name__}")
    return HFLogits(hf_model.float())
