"""What a canary run is asked to do (:class:`CanaryConfig`), when its leak counts as found
(:class:`CanaryRule`), and the checks of a config, shared by ``leakview canary``, the canary
dialog and :func:`leakview.canary.run_canary` (:func:`check_config`, :func:`resolve_config`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from leakview.markers import DEFAULT_MARKER, MARKERS, build_marker, get_marker

if TYPE_CHECKING:
    from leakview.models import ModelSpec

#: The two models of a run, in training and evaluation order.
MODELS: tuple[str, ...] = ("clean", "leaky")


class CanaryConfigError(ValueError):
    """Bad settings, found before anything is written."""


@dataclass(frozen=True)
class CanaryRule:
    """When the planted leak counts as taken, and a method as having found it.

    * The leak **took** when the leaky model's ``prediction_change_rate`` is at least
      ``leak_took_min_change`` (it changes its mind on that share of held-out images when
      nothing but the marker is removed) OR its ``swap_follow_rate`` is at least
      ``leak_took_min_follow`` (it predicts the class of ANOTHER class's marker painted in the
      same place). Both are reported; the swap test is needed because the change rate has a
      ceiling: a model that reads only the marker falls back on one class when the marker is
      gone, and the images of that class do not change (with C balanced classes the change
      rate of a perfect shortcut model is about 1 - 1/C: 75% for the four demo classes). If
      the leak did not take, no method can be blamed for not finding it: the outcome is
      ``leak did not take``.
    * The clean model **ignores the marker** when its change rate is at most
      ``clean_max_change`` and its swap-follow rate at most ``clean_max_follow``.
    * A method **found** the leak when, on the held-out images with the marker,
      ``mass_ratio`` = leaky ``marker_mass`` / clean ``marker_mass`` >= ``found_min_ratio`` AND
      ``leaky_concentration`` = leaky ``marker_mass`` / ``marker_area_frac`` >=
      ``found_min_concentration`` (the leaky model's map is denser on the marker than a
      uniform map would be, and denser than the clean model's). It found it **clearly** when
      additionally ``mass_ratio >= clear_min_ratio`` and the leaky model's
      ``marker_pointing_rate >= clear_min_pointing`` (the single hottest pixel is on the
      marker for most images). A clean ``marker_mass`` of 0 counts as an infinite ratio.
    """

    leak_took_min_change: float = 0.8
    leak_took_min_follow: float = 0.8
    clean_max_change: float = 0.1
    clean_max_follow: float = 0.1
    found_min_ratio: float = 2.0
    found_min_concentration: float = 3.0
    clear_min_ratio: float = 4.0
    clear_min_pointing: float = 0.5

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass
class CanaryConfig:
    """Everything a canary run needs. ``arch`` may be None with ``init`` (its arch is used);
    ``input_size`` None means ``init``'s input size or 128 x 128. ``marker_params`` go to
    :func:`leakview.markers.get_marker` (``corner``, ``edge``, ``size``, ``class_colors``,
    ``aspect``, ``margin``, ``jitter``, ``texts``); without ``class_colors`` the default
    colours are used (a generated palette beyond six classes), without ``texts`` a watermark
    writes the class name's initial and position (``C1``, ``E2``, ...). ``method_options``
    maps a method to its options (e.g. ``{"lime": {"samples": 500}}``). ``init_spec`` describes
    an ``init`` file that does not describe itself (a bare state_dict: its architecture,
    classes, ...; see :func:`leakview.models.load_model`)."""

    data: Path
    out: Path
    arch: str | None = None
    init: Path | None = None
    marker: str = DEFAULT_MARKER
    marker_params: dict[str, Any] = field(default_factory=dict)
    methods: tuple[str, ...] = ("saliency", "lime")
    method_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    epochs: int = 10
    input_size: tuple[int, int] | None = None
    seed: int = 0
    device: str | None = None
    holdout: float = 0.2
    select_fraction: float = 0.0
    batch_size: int = 16
    learning_rate: float = 5e-3
    flip: bool = False
    figures_per_class: int = 2
    eval_batch_size: int = 16
    force: bool = False
    rule: CanaryRule = field(default_factory=CanaryRule)
    init_spec: ModelSpec | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain data (for canary.json)."""
        return {
            "data": str(self.data), "out": str(self.out), "arch": self.arch,
            "init": str(self.init) if self.init else None, "marker": self.marker,
            "marker_params": to_plain(self.marker_params), "methods": list(self.methods),
            "method_options": to_plain(self.method_options), "epochs": self.epochs,
            "input_size": list(self.input_size) if self.input_size else None,
            "seed": self.seed, "device": self.device, "holdout": self.holdout,
            "select_fraction": self.select_fraction, "batch_size": self.batch_size,
            "learning_rate": self.learning_rate, "flip": self.flip,
            "figures_per_class": self.figures_per_class,
            "eval_batch_size": self.eval_batch_size, "rule": self.rule.as_dict(),
        }


def to_plain(value: Any) -> Any:
    """JSON-able copy (tuples -> lists, numpy scalars -> Python, paths -> str, inf/nan -> None)."""
    if isinstance(value, Mapping):
        return plain_dict(value)
    if isinstance(value, (list, tuple)):
        return [to_plain(item) for item in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, np.generic):
        return to_plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def plain_dict(mapping: Mapping[Any, Any]) -> dict[str, Any]:
    """:func:`to_plain` of a mapping: a dict with str keys and JSON-able values."""
    return {str(key): to_plain(item) for key, item in mapping.items()}


# ------------------------------------------------------------------------------------ checks

def check_config(config: CanaryConfig, *, data_ready: bool = True) -> None:
    """Every check of ``config`` that loads no model and reads no image; raises
    :class:`CanaryConfigError` with the reason (or :class:`leakview.models.ModelLoadError`
    when ``init`` does not exist). ``data_ready=False`` skips the checks of the data folder,
    for data that is generated when the run starts."""
    from leakview.models import ModelLoadError

    try:
        _check(config, data_ready)
    except (CanaryConfigError, ModelLoadError):
        raise
    except ValueError as error:
        raise CanaryConfigError(str(error)) from None


def resolve_config(config: CanaryConfig) -> tuple[str, tuple[int, int]]:
    """:func:`check_config`, then the architecture and input size the run uses (from
    ``init`` where they are not given: loading it raises ModelLoadError for a bad file, and
    CanaryConfigError when a requested method cannot run on it)."""
    from leakview.attribution import unavailable_reason
    from leakview.models import load_model

    check_config(config)
    arch, input_size = config.arch, config.input_size
    if config.init is not None:
        start = load_model(config.init, device="cpu", spec=config.init_spec)
        for method in config.methods:
            reason = unavailable_reason(start, method)
            if reason:
                raise CanaryConfigError(f"method {method}: {reason}")
        arch = start.arch
        if input_size is None:
            input_size = (int(start.input_size[0]), int(start.input_size[1]))
    try:
        size = _input_size(input_size or (128, 128))
    except ValueError as error:
        raise CanaryConfigError(str(error)) from None
    return arch or "", size


def _input_size(size: Any) -> tuple[int, int]:
    values = tuple(int(v) for v in size)
    if len(values) != 2 or min(values) < 8:
        raise ValueError("input size must be two numbers >= 8 (H W)")
    return values[0], values[1]


def _check(config: CanaryConfig, data_ready: bool) -> None:
    from leakview.attribution import method_names, resolve_options
    from leakview.models import ModelLoadError, choose_device, classification_architectures
    from leakview.train import find_classes

    data = Path(config.data)
    if data_ready and not data.is_dir():
        raise ValueError(f"{data}: no such folder")
    if config.arch is None and config.init is None:
        raise ValueError("give an architecture (arch) or a model to fine-tune (init)")
    if config.epochs < 1:
        raise ValueError("epochs must be at least 1")
    if not 0 < config.holdout < 1:
        raise ValueError("holdout must be a fraction in (0, 1)")
    if not 0 <= config.select_fraction < 1:
        raise ValueError("select_fraction must be in [0, 1)")
    if config.batch_size < 2 or config.eval_batch_size < 1:
        raise ValueError("batch size must be at least 2 (evaluation batch size 1)")
    if config.figures_per_class < 0:
        raise ValueError("figures_per_class must be 0 or more")
    methods = list(config.methods)
    if not methods:
        raise ValueError("give at least one attribution method")
    unknown = [m for m in methods if m not in method_names()]
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)}; choose from "
                         f"{', '.join(method_names())}")
    for method, options in config.method_options.items():
        if method not in methods:
            raise ValueError(f"options given for method {method!r}, which is not run")
        resolve_options(method, options)
    if config.marker not in MARKERS:
        raise ValueError(f"unknown marker {config.marker!r}; available: "
                         f"{', '.join(sorted(MARKERS))}")
    choose_device(config.device)  # ValueError for an unknown or missing device
    if data_ready:
        build_marker(config.marker, config.marker_params, find_classes(data))
    else:
        get_marker(config.marker, **config.marker_params)
    out = Path(config.out)
    root = data.resolve()
    if out.resolve() == root or root in out.resolve().parents:
        raise ValueError(f"the output folder {config.out} must not be inside the data "
                         f"folder {config.data} (it would become a class folder)")
    if out.exists() and not out.is_dir():
        raise ValueError(f"{out} exists and is not a folder")
    if out.is_dir() and any(out.iterdir()):
        if not (out / "canary.json").is_file():
            raise ValueError(f"{out} is not empty and holds no earlier canary run; "
                             f"choose a new folder")
        if not config.force:
            raise ValueError(f"{out} holds an earlier canary run; pass force "
                             f"(--force) to replace it")
    if config.init is not None and not Path(config.init).exists():
        raise ModelLoadError(config.init, "no such file")
    if config.input_size is not None:
        _input_size(config.input_size)
    if config.init is None and config.arch not in classification_architectures():
        raise ValueError(f"unknown architecture {config.arch!r}: expected a torchvision "
                         f"classification model such as resnet18 or shufflenet_v2_x1_0")
