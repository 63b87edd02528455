"""The main window: builds the widgets and wires them to the session (wiring only).

Left: the image list. Centre: the image canvas (or the side-by-side figure) with the drawing
tools. Right: the inspector (model, prediction, layers, LIME, overlap). Bottom: the folder
analysis panel and the status bar. Action handlers live in :mod:`leakview.gui.commands`.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QActionGroup, QKeySequence, QUndoGroup
from PySide6.QtWidgets import (QDockWidget, QLabel, QMainWindow, QScrollArea, QStackedWidget,
                               QToolBar, QVBoxLayout, QWidget)

from leakview.attribution import METHODS
from leakview.gui.actions import REDO_KEYS, UNDO_KEYS, build_actions
from leakview.gui.analysis import FolderAnalysis
from leakview.gui.canary_dialog import CanaryDialog, CanaryRun, default_data_folder, verdict_text
from leakview.gui.commands import CommandsMixin
from leakview.gui.drawing import TOOL_LABELS, DrawingController, Tool
from leakview.gui.folder_view import FolderPanel
from leakview.gui.image_list import ImageList
from leakview.gui.image_view import FigureCanvas, ImageCanvas
from leakview.gui.mask_doc import MaskDocument, MaskStore
from leakview.gui.results_panel import ResultsPanel
from leakview.gui.session import Session, ShownImage
from leakview.gui.settings import AppSettings
from leakview.gui.status import MessageBar, StatusPanel
from leakview.gui.workers import JobRunner


class MainWindow(CommandsMixin, QMainWindow):
    def __init__(self, folder: str | Path | None = None, model: str | None = None,
                 settings: AppSettings | None = None) -> None:
        super().__init__()
        self.setWindowTitle("leakview")
        self.settings = settings or AppSettings()
        self.runner = JobRunner(self)
        self.store = MaskStore(self.runner, self)
        self.session = Session(self.runner, self.store, self)
        self.analysis = FolderAnalysis(self.runner, self)
        self.canary = CanaryRun(self.runner, self)
        self.canary_dialog: CanaryDialog | None = None
        self.undo_group = QUndoGroup(self)
        self.root: Path | None = None
        self._closing = False
        self._build_widgets()
        self._build_actions()
        self._connect()
        self._restore()
        if folder:
            self.open_folder(folder)
        if model:
            self.open_model(model)

    # -- construction ------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.canvas = ImageCanvas()
        self.figure_canvas = FigureCanvas()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.canvas)
        self.stack.addWidget(self.figure_canvas)
        self.messages = MessageBar()
        self.drawing = DrawingController(self.canvas, self)
        centre = QWidget()
        layout = QVBoxLayout(centre)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.tools_bar = QToolBar("Tools")
        self.tools_bar.setObjectName("toolbar_tools")
        self.tools_bar.setMovable(False)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.tools_bar)
        layout.addWidget(self.messages)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(centre)

        self.image_list = ImageList()
        self.results = ResultsPanel({m: self.settings.layer_options(m) for m in METHODS})
        self.folder_panel = FolderPanel()
        scroll = QScrollArea()
        scroll.setWidget(self.results)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(self.results.sizeHint().width() + 24)
        for name, title, widget, area in (
                ("images", "Images", self.image_list, Qt.DockWidgetArea.LeftDockWidgetArea),
                ("inspector", "Inspector", scroll, Qt.DockWidgetArea.RightDockWidgetArea),
                ("folder", "Folder analysis", self.folder_panel,
                 Qt.DockWidgetArea.BottomDockWidgetArea)):
            dock = QDockWidget(title, self)
            dock.setObjectName(f"dock_{name}")
            dock.setWidget(widget)
            dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                             | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
            self.addDockWidget(area, dock)
            setattr(self, f"{name}_dock", dock)
        self.resizeDocks([self.images_dock, self.inspector_dock], [440, 450],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([self.folder_dock], [190], Qt.Orientation.Vertical)
        self.status = StatusPanel(self.runner, self.statusBar())
        self.hover_label = QLabel("")
        self.statusBar().addPermanentWidget(self.hover_label)

    def _build_actions(self) -> None:
        self.actions, self.menus = build_actions(self, lambda name: getattr(self, f"on_{name}"))
        undo = self.undo_group.createUndoAction(self, "&Undo")
        redo = self.undo_group.createRedoAction(self, "&Redo")
        undo.setShortcuts([QKeySequence(key) for key in UNDO_KEYS])
        redo.setShortcuts([QKeySequence(key) for key in REDO_KEYS])
        self.menus["&Edit"].addActions([undo, redo])
        self.addActions([undo, redo])
        self.actions["undo"], self.actions["redo"] = undo, redo
        self.tool_group = QActionGroup(self)
        for tool in Tool:
            action = self.actions[f"tool_{tool.value}"]
            self.tool_group.addAction(action)
            action.setText(TOOL_LABELS[tool] if tool != Tool.POLYGON else "Polygon")
            self.tools_bar.addAction(action)
        self.actions["tool_pan"].setChecked(True)
        self.tools_bar.addSeparator()
        for name in ("clear_mask", "fit", "one_to_one", "side_by_side", "run_lime",
                     "analyze_folder"):
            self.tools_bar.addAction(self.actions[name])
        self.actions["run_lime"].setIconText("LIME")
        self.actions["analyze_folder"].setIconText("Analyze folder")
        self.actions["one_to_one"].setIconText("1:1")
        self.actions["side_by_side"].setIconText("Side by side")
        self.actions["tool_polygon"].setText(
            "Polygon (Enter or double-click closes, Esc cancels)")
        self.actions["tool_polygon"].setIconText("Polygon")
        self.recent_folders_menu = self.menus["&File"].addMenu("Recent folders")
        self.menus["&File"].insertMenu(self.actions["import_masks"],
                                       self.recent_folders_menu)
        self.menus["&Model"].aboutToShow.connect(self._fill_model_menu)
        self.recent_folders_menu.aboutToShow.connect(self._fill_recent_folders)

    def _connect(self) -> None:
        session, results = self.session, self.results
        self.image_list.current.connect(self.show_image)
        session.imageShown.connect(self._image_shown)
        session.imageFailed.connect(self._image_failed)
        session.maskChanged.connect(self._mask_changed)
        session.modelChanged.connect(self._model_changed)
        session.modelFailed.connect(
            lambda path, reason: self.show_message(f"Cannot load model {path}: {reason}"))
        session.predictionReady.connect(self._prediction_ready)
        session.layerStarted.connect(self._layer_started)
        session.layerReady.connect(self._layer_ready)
        session.layerFailed.connect(self._layer_failed)
        session.layerCancelled.connect(self._layer_cancelled)
        session.overlapReady.connect(self._overlap_ready)
        session.message.connect(lambda text: self.show_message(text, "warning"))
        self.store.failed.connect(
            lambda path, reason: self.show_message(f"Cannot save mask {path}: {reason}"))
        self.runner.jobFailed.connect(lambda job: self.show_message(f"{job.label}: {job.error}"))
        self.status.cancelRequested.connect(self.on_cancel_jobs)
        results.model_picker.chosen.connect(self.open_model)
        results.model_picker.openRequested.connect(self.on_open_model)
        results.targetChanged.connect(session.set_target)
        results.limeRequested.connect(self.on_run_lime)
        results.limeCancelled.connect(lambda: session.cancel("lime"))
        results.ruleChanged.connect(self._rule_changed)
        results.methodSelected.connect(self._badge_method)
        results.layers.changed.connect(self._layer_options_changed)
        self.drawing.toolChanged.connect(self._tool_changed)
        self.canvas.hovered.connect(self._hovered)
        self.drawing.radiusChanged.connect(
            lambda radius: self.status.set_extra(f"Brush radius {radius:.0f} px"))
        self.folder_panel.analyzeRequested.connect(self.on_analyze_folder)
        self.folder_panel.cancelRequested.connect(self.analysis.cancel)
        self.folder_panel.exportCsvRequested.connect(self.on_export_csv)
        self.folder_panel.exportSummaryRequested.connect(self.on_export_summary)
        self.analysis.started.connect(lambda total: self.folder_panel.set_running(True, 0, total))
        self.analysis.resultReady.connect(self._analysis_result)
        self.analysis.resultJudged.connect(self.image_list.model.set_results)
        self.analysis.finished.connect(self._analysis_finished)
        self.analysis.failed.connect(self._analysis_failed)
        self.analysis.started.connect(self._analysis_started)
        self.analysis.atlasReady.connect(
            lambda atlases: self.folder_panel.atlas.set_atlases(atlases, self.analysis.complete))
        self.folder_panel.tabs.currentChanged.connect(self._folder_tab_changed)
        self.canary.finished.connect(self._canary_finished)
        self.canary.stopped.connect(self.show_message)
        self.figure_timer = QTimer(self)
        self.figure_timer.setSingleShot(True)
        self.figure_timer.setInterval(150)
        self.figure_timer.timeout.connect(self.refresh_figure)
        for method in METHODS:
            self._style_layer(method)

    def _restore(self) -> None:
        rule = self.settings.rule()
        self.results.set_rule(rule)
        self.session.rule = self.analysis.rule = rule
        geometry = self.settings.geometry("geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1500, 920)
        state = self.settings.geometry("state")
        if state is not None:
            self.restoreState(state)
        self.results.model_picker.set_recent(self.settings.recent("recent_models"))
        self.session.auto_methods = self._auto_methods()

    def open_folder(self, folder: str | Path) -> bool:
        opened = super().open_folder(folder)
        if opened:
            self.folder_panel.atlas.clear()
        return opened

    def _analysis_started(self, total: int) -> None:
        self.folder_panel.atlas.clear()
        if self.canary.running():  # both use the batch lane, one job at a time
            self.show_message("Analyze folder starts when the running canary ends (or cancel "
                              "it in the status bar)", "info")

    def _folder_tab_changed(self, index: int) -> None:
        """The class atlas needs more height than the per-class table: grow the dock."""
        if (self.folder_panel.tabs.widget(index) is self.folder_panel.atlas
                and not self.folder_dock.isFloating() and self.folder_dock.height() < 330):
            self.resizeDocks([self.folder_dock], [330], Qt.Orientation.Vertical)

    # -- canary -------------------------------------------------------------------------------
    def on_run_canary(self) -> None:
        """Tools > Run canary…: the options dialog, then the run in the background."""
        if self.canary.running():
            self.show_message("A canary is already running: cancel it (status bar) first",
                              "warning")
            return
        dialog = CanaryDialog(default_data_folder(self.root), self)
        dialog.accepted.connect(lambda: self.start_canary(dialog.result_config))
        self.canary_dialog = dialog
        dialog.open()

    def start_canary(self, config) -> None:
        self.status.set_extra("")
        self.show_message(f"Canary started: writing to {config.out} (progress and Cancel in "
                          f"the status bar)", "info")
        self.canary.start(config)

    def _canary_finished(self, result) -> None:
        text, level = verdict_text(result)
        self.show_message(text, level)
        outcome = (result.verdict or {}).get("outcome", "")
        self.status.set_extra(f"Canary: {outcome} - {result.html_path}")

    # -- images ---------------------------------------------------------------------------
    def show_image(self, path: str) -> None:
        self.session.open_image(Path(path))

    def _image_shown(self, shown: ShownImage) -> None:
        self.canvas.set_image(shown.pixels, str(shown.path), shown.generation)
        self.setWindowTitle(f"{shown.name} — leakview")
        self.results.set_prediction(None, [])
        self.results.set_overlap([])
        for method in METHODS:
            self.results.layers.set_status(method, "")
        self.results.set_lime_running(False)
        if self.messages.level == "error" and "Cannot open" in self.messages.text():
            self.messages.hide()
        self.schedule_figure()

    def _image_failed(self, path: str, reason: str) -> None:
        if self.image_list.current_path() != path:
            return
        self.canvas.clear()
        self.drawing.set_document(None)
        self.undo_group.setActiveStack(None)
        self.results.set_prediction(None, [])
        self.results.set_overlap([])
        self.image_list.model.set_results(path, [{"method": "", "error": reason}])
        self.show_message(f"Cannot open {Path(path).name}: {reason}")

    def _mask_changed(self, document: MaskDocument) -> None:
        if self.drawing.document is not document:
            self.drawing.set_document(document)
            if document.stack not in self.undo_group.stacks():
                self.undo_group.addStack(document.stack)
            self.undo_group.setActiveStack(document.stack)
        self.canvas.set_mask(document.mask)
        self.image_list.model.mark_mask(document.image_path, document.mask is not None)
        self.results.mask_note.setText(
            "" if document.mask is not None and document.mask.any() else
            "No expected region yet: draw one (P, R, E, B) or import masks; the metrics "
            "need it.")
        self.schedule_figure()

    # -- model ------------------------------------------------------------------------------
    def open_model(self, path: str) -> None:
        path = str(path)
        self.settings.last_model = path
        self.settings.push_recent("recent_models", path)
        self.results.model_picker.set_recent(self.settings.recent("recent_models"))
        self.results.model_picker.set_current(path)
        self.results.model_info.setText(f"Loading {Path(path).name}…")
        self.analysis.cancel()
        self.session.open_model(path)

    def _model_changed(self, model) -> None:
        self.results.set_model(model, self.session.model_path)
        self.canvas.clear_layers()
        self.image_list.model.set_classes(model.classes if model is not None else ())
        self.folder_panel.verdict.setText("Not analysed yet")
        self.folder_panel.verdict.setStyleSheet("font-size: 15px; font-weight: bold;")
        self.folder_panel.table.setRowCount(0)
        self.folder_panel.details.setText("")
        self.folder_panel.set_exportable(False)
        self.folder_panel.atlas.clear()
        self.analysis.rows, self.analysis.summary = [], None
        if model is not None and self.messages.level == "error" \
                and "model" in self.messages.text():
            self.messages.hide()

    def _prediction_ready(self, key: str, probabilities) -> None:
        model = self.session.model
        if model is None:
            return
        self.results.set_prediction(probabilities, model.classes)
        best = int(probabilities.argmax())
        self.image_list.model.set_prediction(key, model.classes[best], float(probabilities[best]))

    # -- layers ------------------------------------------------------------------------------
    def _auto_methods(self) -> tuple[str, ...]:
        return tuple(m for m in self.results.layers.visible_methods() if m != "lime")

    def _style_layer(self, method: str) -> None:
        options = self.results.layers.options(method)
        self.canvas.style_layer(method, options.visible, options.opacity, options.colormap)

    def _layer_options_changed(self, method: str) -> None:
        self._style_layer(method)
        options = self.results.layers.options(method)
        self.settings.set_layer_options(method, options)
        self.session.auto_methods = self._auto_methods()
        if options.visible and method != "lime" and self.session.image is not None:
            self.session.compute(method)

    def _layer_started(self, method: str) -> None:
        self.results.layers.set_status(method, "running…")
        if method == "lime":
            self.results.set_lime_running(True)

    def _layer_ready(self, method: str, attribution, provisional: bool, key: str,
                     generation: int) -> None:
        if key != self.canvas.image_id or not self.session.current(generation):
            return
        self.canvas.set_layer(method, attribution.map, attribution.signed, key, generation,
                              provisional)
        if provisional:
            used = attribution.extras.get("samples_used") or 0
            self.results.layers.set_status(method, f"{used} samples")
        else:
            self.results.layers.set_status(method, "✓")
            if method == "lime":
                self.results.set_lime_running(False)
        self.schedule_figure()

    def _layer_failed(self, method: str, reason: str) -> None:
        self.results.layers.set_status(method, "failed")
        if method == "lime":
            self.results.set_lime_running(False)
        self.show_message(f"{METHODS[method].label} failed: {reason}")

    def _layer_cancelled(self, method: str) -> None:
        self.results.layers.set_status(method, "cancelled")
        if method == "lime":
            self.results.set_lime_running(False)

    def _overlap_ready(self, key: str, rows: list) -> None:
        if self.session.image is not None and key == str(self.session.image.path):
            self.results.set_overlap(rows)
            self.image_list.model.set_results(key, rows)

    def _rule_changed(self, rule) -> None:
        """A threshold changed: judge the image and the analysed folder again (no model run)."""
        self.session.rule = rule
        self.settings.set_rule(rule)
        self.session.schedule_overlap()
        self.analysis.set_rule(rule)

    def _badge_method(self, method: str) -> None:
        index = self.image_list.badge.findData(method)
        if index >= 0:
            self.image_list.badge.setCurrentIndex(index)

    # -- tools ---------------------------------------------------------------------------------
    def _tool_changed(self, tool: str) -> None:
        self.actions[f"tool_{tool}"].setChecked(True)
        hint = {"polygon": "click vertices; Enter or double-click closes; Esc cancels",
                "brush": "drag to paint; [ and ] change the size",
                "eraser": "drag to erase; [ and ] change the size",
                "rectangle": "drag a box", "ellipse": "drag a box",
                "pan": "drag to pan, wheel to zoom"}[tool]
        self.status.set_extra(f"{TOOL_LABELS[Tool(tool)]}: {hint}; Space + drag pans")

    def _hovered(self, x: float, y: float) -> None:
        shape = self.canvas.shape
        column, row = int(round(x)), int(round(y))
        if shape is None or not (0 <= row < shape[0] and 0 <= column < shape[1]):
            self.hover_label.setText("")
            return
        document = self.session.document
        inside = document is not None and document.mask is not None \
            and bool(document.mask[row, column])
        self.hover_label.setText(f"x {column}  y {row}" + ("  · in region" if inside else ""))

    # -- messages ------------------------------------------------------------------------------
    def show_message(self, text: str, level: str = "error") -> None:
        if not self._closing:
            self.messages.show_message(text, level)
