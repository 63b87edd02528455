"""The inspector's per-image content: the attribution layers (style, sign, status, the toggle
keys) and how the mask is drawn, LIME, the top-5 prediction and the overlap table of the image
on screen."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from PySide6.QtGui import QAction

from leakview.appstate import AppState
from leakview.attribution import METHODS, Attribution, resolve_options
from leakview.gui.actions import Handlers, layer_action, layer_numbers
from leakview.gui.availability import mark_available, unavailable_methods
from leakview.gui.image_list import ImageList
from leakview.gui.image_view import ImageCanvas
from leakview.gui.layers import LayerPanel
from leakview.gui.results_panel import ResultsPanel
from leakview.gui.session import Session
from leakview.gui.settings import AppSettings
from leakview.gui.status import Notify, StatusPanel
from leakview.masks import SUSPECT
from leakview.models import LoadedModel
from leakview.scan import ScanRow


@dataclass(eq=False, repr=False)
class LayerController:
    """Shows what the session computes for the image on screen; the layer options choose
    which maps it computes (``AppState.layer_methods``) and are saved."""

    state: AppState
    session: Session
    canvas: ImageCanvas
    results: ResultsPanel
    image_list: ImageList
    settings: AppSettings
    status: StatusPanel
    notify: Notify
    actions: Mapping[str, QAction] = field(default_factory=dict)
    """The window's actions (the layer toggles and Run LIME are greyed out with the model)."""

    @property
    def layers(self) -> LayerPanel:
        return self.results.layers

    def __post_init__(self) -> None:
        self.session.imageShown.connect(self._image_shown)
        self.session.predictionReady.connect(self._prediction_ready)
        self.session.layerStarted.connect(self._layer_started)
        self.session.layerReady.connect(self._layer_ready)
        self.session.layerFailed.connect(self._layer_failed)
        self.session.layerCancelled.connect(self._layer_cancelled)
        self.session.overlapReady.connect(self._overlap_ready)
        self.results.limeRequested.connect(self.run_lime)
        self.results.limeCancelled.connect(lambda: self.session.cancel("lime"))
        self.results.methodSelected.connect(self.image_list.show_badge)
        self.layers.changed.connect(self._options_changed)
        for method in METHODS:
            self._style(method)
        for kind, region_row in self.layers.region_rows.items():
            region_row.set_display(self.settings.mask_display(kind))
        self._style_mask()
        self.layers.maskChanged.connect(self._mask_changed)
        self.state.events.model.connect(self._show_available)
        self._show_available(self.state.model)

    def handlers(self) -> Handlers:
        toggles = {layer_action(number): _toggler(self.layers.toggle, number - 1)
                   for number in layer_numbers()}
        return {**toggles, "run_lime": self.run_lime, "toggle_mask": self.layers.toggle_mask,
                "toggle_suspect": lambda: self.layers.toggle_mask(SUSPECT),
                "mask_outline": self.layers.mask_row.outline_only.toggle}

    # -- what can run on the model ------------------------------------------------------------
    def _show_available(self, model: LoadedModel | None) -> None:
        """Grey out the layers (rows, View menu toggles, Run LIME, badges) that cannot run on
        ``model``; the automatic layers are the visible ones that can."""
        reasons = unavailable_methods(model)
        self.layers.set_unavailable(reasons)
        self.image_list.set_unavailable(reasons)
        methods = list(METHODS)
        for number in layer_numbers():
            action, method = self.actions.get(layer_action(number)), methods[number - 1]
            if action is not None:
                mark_available(action, reasons.get(method))
        lime_reason = reasons.get("lime")
        mark_available(self.results.lime_button, lime_reason)
        if "run_lime" in self.actions:
            mark_available(self.actions["run_lime"], lime_reason)
        self.state.layer_methods = self._auto_methods()

    # -- options -------------------------------------------------------------------------
    def _auto_methods(self) -> tuple[str, ...]:
        return tuple(m for m in self.layers.visible_methods() if m != "lime")

    def _style(self, method: str) -> None:
        options = self.layers.options(method)
        self.canvas.style_layer(method, options.visible, options.opacity, options.colormap,
                                self.layers.rows[method].shown_sign())
        self.layers.show_scale(method, self.canvas.layer_display(method))

    def _style_mask(self) -> None:
        """Draw each region as its row says; the View menu's actions follow."""
        for kind in self.layers.region_rows:
            display = self.layers.mask_display(kind)
            self.canvas.style_mask(display.visible, display.opacity, display.outline_only, kind)
        display, suspect = self.layers.mask_display(), self.layers.mask_display(SUSPECT)
        for name, checked in (("toggle_mask", display.visible),
                              ("mask_outline", display.outline_only),
                              ("toggle_suspect", suspect.visible)):
            if name in self.actions:
                self.actions[name].setChecked(checked)

    def _mask_changed(self) -> None:
        self._style_mask()
        for kind in self.layers.region_rows:
            self.settings.set_mask_display(self.layers.mask_display(kind), kind)

    def _options_changed(self, method: str) -> None:
        self._style(method)
        options = self.layers.options(method)
        self.settings.set_layer_options(method, options)
        self.state.layer_methods = self._auto_methods()
        if (options.visible and method != "lime" and not self.layers.unavailable(method)
                and self.session.image is not None):
            self.session.compute(method)

    # -- the image's results ---------------------------------------------------------------
    def _image_shown(self) -> None:
        self.clear()
        for method in METHODS:
            self.layers.set_status(method, "")
            self.layers.show_scale(method, None)
        self.results.set_lime_running(False)

    def clear(self) -> None:
        """No prediction and no overlap rows (a new image, or none)."""
        self.results.set_prediction(None, [])
        self.results.set_overlap([])

    def _prediction_ready(self, key: str, probabilities: np.ndarray) -> None:
        model = self.state.model
        if model is None:
            return
        self.results.set_prediction(probabilities, model.classes)
        best = int(probabilities.argmax())
        self.image_list.model.set_prediction(key, model.classes[best], float(probabilities[best]))

    def _layer_started(self, method: str) -> None:
        self.layers.set_status(method, "running…")
        if method == "lime":
            self.results.set_lime_running(True)

    def _layer_ready(self, method: str, attribution: Attribution, provisional: bool, key: str,
                     generation: int) -> None:
        if key != self.canvas.image_id or not self.session.current(generation):
            return
        self.canvas.set_layer(method, attribution.map, attribution.signed, key, generation,
                              provisional)
        self.layers.show_scale(method, self.canvas.layer_display(method))
        self.canvas.set_layer_grid(method, attribution.extras.get("feature_size"))
        if provisional:
            used = attribution.extras.get("samples_used") or 0
            self.layers.set_status(method, f"{used} samples")
        else:
            self.layers.set_status(method, "✓")
            if method == "lime":
                self.results.set_lime_running(False)

    def _layer_failed(self, method: str, reason: str) -> None:
        self.layers.set_status(method, "failed")
        if method == "lime":
            self.results.set_lime_running(False)
        self.notify(f"{METHODS[method].label} failed: {reason}", "error")

    def _layer_cancelled(self, method: str) -> None:
        self.layers.set_status(method, "cancelled")
        if method == "lime":
            self.results.set_lime_running(False)

    def _overlap_ready(self, key: str, rows: list[ScanRow]) -> None:
        shown = self.session.image
        if shown is not None and key == str(shown.path):
            self.results.set_overlap(rows)
            self.image_list.model.set_results(key, rows)

    # -- LIME ------------------------------------------------------------------------------
    def run_lime(self) -> None:
        """L / Run LIME: LIME on the image on screen with the form's options."""
        if self.state.model is None or self.session.image is None:
            self.notify("Open an image and a model first", "warning")
            return
        reason = self.layers.unavailable("lime")
        if reason:
            self.status.set_extra(reason)
            return
        try:
            options = self.results.lime_form.values()
        except ValueError as error:
            self.notify(f"LIME options: {error}", "error")
            return
        self.layers.set_visible("lime", True)
        done = self.session.attributions.get("lime")
        if done is not None and done.options == resolve_options("lime", options):
            self.status.set_extra("LIME is already computed with these options")
            return
        self.session.compute("lime", options)


def _toggler(toggle: Callable[[int], object], index: int) -> Callable[[], object]:
    return lambda: toggle(index)
