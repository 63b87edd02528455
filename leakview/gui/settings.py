"""Persistent preferences (QSettings): last folder and model, recent lists, layer options
(and how the mask is drawn), the verdict rule, the methods of "Analyze folder", window geometry.

:func:`bind_settings` loads the saved rule and methods into the window's
:class:`leakview.appstate.AppState` and saves the folder, the model (once it loaded), rule
and methods whenever they change there.

The organisation/application names are ``leakview``/``leakview``. Tests and scripts point the
store to a private INI file with ``$LEAKVIEW_SETTINGS`` or by passing ``path`` to
:func:`open_settings`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from leakview.appstate import DEFAULT_LAYERS, DEFAULT_METHODS, AppState
from leakview.attribution import METHODS
from leakview.layout import EXPECTED
from leakview.report import SIGN_MODES
from leakview.verdict import VerdictRule

ORGANISATION = "leakview"
APPLICATION = "leakview"
SETTINGS_ENV = "LEAKVIEW_SETTINGS"
MAX_RECENT = 8

DEFAULT_COLORMAPS = {"saliency": "inferno", "smoothgrad": "magma",
                     "integrated_gradients": "viridis", "gradcam": "turbo", "lime": "plasma"}
AUTO_LAYERS = DEFAULT_LAYERS
"""Layers visible (and so computed automatically) until the user decides otherwise."""


def open_settings(path: str | os.PathLike[str] | None = None) -> QSettings:
    """The settings store: an INI file at ``path`` or ``$LEAKVIEW_SETTINGS``, else the
    platform's native store for leakview/leakview."""
    path = path or os.environ.get(SETTINGS_ENV)
    if path:
        return QSettings(os.fspath(path), QSettings.Format.IniFormat)
    return QSettings(ORGANISATION, APPLICATION)


@dataclass
class LayerOptions:
    """How one attribution layer is drawn."""

    visible: bool
    opacity: float
    colormap: str
    sign: str = "positive"
    """Which sign of a signed map is shown (``report.SIGN_MODES``); unsigned maps ignore it."""


@dataclass
class MaskDisplay:
    """How the expected region is drawn on the image (display only: the mask and the metrics
    do not depend on it)."""

    visible: bool = True
    opacity: float = 1.0
    outline_only: bool = False


def _as_bool(value: Any, default: bool) -> bool:
    if value is None:
        return default
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _as_choice(value: Any, choices: tuple[str, ...], default: str) -> str:
    return str(value) if value is not None and str(value) in choices else default


def _as_float(value: Any, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _display_prefix(kind: str) -> str:
    """The settings group of how a region kind is drawn (the expected region's is ``mask/``)."""
    return "mask/" if kind == EXPECTED else f"{kind}/"


class AppSettings:
    """Typed access to the keys leakview stores."""

    def __init__(self, store: QSettings | None = None) -> None:
        self.store = store if store is not None else open_settings()

    # -- plain values --------------------------------------------------------------------
    def get_str(self, key: str, default: str = "") -> str:
        value = self.store.value(key)
        return default if value is None else str(value)

    def set_value(self, key: str, value: Any) -> None:
        self.store.setValue(key, value)

    @property
    def last_folder(self) -> str:
        return self.get_str("last_folder")

    @last_folder.setter
    def last_folder(self, value: str) -> None:
        self.set_value("last_folder", value)
        self.push_recent("recent_folders", value)

    @property
    def last_model(self) -> str:
        return self.get_str("last_model")

    @last_model.setter
    def last_model(self, value: str) -> None:
        self.set_value("last_model", value)

    # -- recent lists --------------------------------------------------------------------
    def recent(self, key: str) -> list[str]:
        value = self.store.value(key)
        if value is None:
            return []
        if isinstance(value, str):
            value = [value]
        return [str(item) for item in value if str(item)][:MAX_RECENT]

    def forget_model(self, path: str) -> None:
        """``path`` failed to load: no longer the last model nor a recent one."""
        if self.last_model == path:
            self.set_value("last_model", "")
        recent = self.recent("recent_models")
        if path in recent:
            self.store.setValue("recent_models", [item for item in recent if item != path])

    def push_recent(self, key: str, item: str) -> None:
        if not item:
            return
        items = [item] + [other for other in self.recent(key) if other != item]
        self.store.setValue(key, items[:MAX_RECENT])

    # -- layers ----------------------------------------------------------------------------
    def layer_options(self, method: str) -> LayerOptions:
        prefix = f"layers/{method}/"
        return LayerOptions(
            visible=_as_bool(self.store.value(prefix + "visible"), method in AUTO_LAYERS),
            opacity=min(1.0, max(0.0, _as_float(self.store.value(prefix + "opacity"), 0.75))),
            colormap=self.get_str(prefix + "colormap", DEFAULT_COLORMAPS.get(method, "inferno")),
            sign=_as_choice(self.store.value(prefix + "sign"), SIGN_MODES, "positive"),
        )

    def set_layer_options(self, method: str, options: LayerOptions) -> None:
        prefix = f"layers/{method}/"
        self.store.setValue(prefix + "visible", bool(options.visible))
        self.store.setValue(prefix + "opacity", float(options.opacity))
        self.store.setValue(prefix + "colormap", options.colormap)
        self.store.setValue(prefix + "sign", options.sign)

    def mask_display(self, kind: str = EXPECTED) -> MaskDisplay:
        """How the ``kind`` region was last drawn (shown, opacity, outline only: ``mask/...``
        for the expected region, ``suspect/...``); defaults if unset."""
        defaults, prefix = MaskDisplay(), _display_prefix(kind)
        return MaskDisplay(
            visible=_as_bool(self.store.value(prefix + "visible"), defaults.visible),
            opacity=min(1.0, max(0.0, _as_float(self.store.value(prefix + "opacity"),
                                                defaults.opacity))),
            outline_only=_as_bool(self.store.value(prefix + "outline_only"),
                                  defaults.outline_only))

    def set_mask_display(self, display: MaskDisplay, kind: str = EXPECTED) -> None:
        prefix = _display_prefix(kind)
        self.store.setValue(prefix + "visible", bool(display.visible))
        self.store.setValue(prefix + "opacity", float(display.opacity))
        self.store.setValue(prefix + "outline_only", bool(display.outline_only))

    # -- verdict rule ----------------------------------------------------------------------
    def rule(self) -> VerdictRule:
        """The saved thresholds; the defaults for missing or invalid values."""
        defaults = VerdictRule()
        try:
            return VerdictRule(
                min_topk_share=_as_float(self.store.value("verdict/min_topk_share"),
                                         defaults.min_topk_share),
                max_flag_rate=_as_float(self.store.value("verdict/max_flag_rate"),
                                        defaults.max_flag_rate),
                min_judged=int(_as_float(self.store.value("verdict/min_judged"),
                                         defaults.min_judged)),
                min_judged_share=_as_float(self.store.value("verdict/min_judged_share"),
                                           defaults.min_judged_share),
                max_suspect_share=_as_float(self.store.value("verdict/max_suspect_share"),
                                            defaults.max_suspect_share))
        except (ValueError, OverflowError):
            return defaults

    def set_rule(self, rule: VerdictRule) -> None:
        self.store.setValue("verdict/min_topk_share", float(rule.min_topk_share))
        self.store.setValue("verdict/max_flag_rate", float(rule.max_flag_rate))
        self.store.setValue("verdict/min_judged", int(rule.min_judged))
        self.store.setValue("verdict/min_judged_share", float(rule.min_judged_share))
        self.store.setValue("verdict/max_suspect_share", float(rule.max_suspect_share))

    # -- analysis methods ------------------------------------------------------------------
    def analysis_methods(self) -> tuple[str, ...]:
        """The methods last ticked for "Analyze folder" (known ones only), else the default."""
        value = self.store.value("analysis/methods")
        if value is None:
            return DEFAULT_METHODS
        if isinstance(value, str):
            value = [value]
        return tuple(str(item) for item in value if str(item) in METHODS)

    def set_analysis_methods(self, methods: tuple[str, ...]) -> None:
        self.store.setValue("analysis/methods", list(methods))

    # -- window ----------------------------------------------------------------------------
    def geometry(self, key: str) -> QByteArray | None:
        value = self.store.value(f"window/{key}")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_geometry(self, key: str, value: QByteArray) -> None:
        self.store.setValue(f"window/{key}", value)

    def sync(self) -> None:
        self.store.sync()


def bind_settings(state: AppState, settings: AppSettings) -> None:
    """Load the saved rule and analysis methods into ``state``; then save the folder, the
    model (its path, and the recent lists), the rule and the methods each time they change.
    A model is remembered once it loaded (``state.model`` set), never when only asked for:
    a file that fails to load must not become the model the next launch opens."""
    state.rule = settings.rule()
    state.methods = settings.analysis_methods()

    def folder_opened(root: object) -> None:
        if root is not None:
            settings.last_folder = str(root)

    def model_loaded(model: object) -> None:
        if model is not None and state.model_path:
            settings.last_model = state.model_path
            settings.push_recent("recent_models", state.model_path)

    state.events.root.connect(folder_opened)
    state.events.model.connect(model_loaded)
    state.events.rule.connect(settings.set_rule)
    state.events.methods.connect(settings.set_analysis_methods)
