"""The main window: builds the widgets, the application state, the core objects and the
controllers, and wires them (nothing else).

Left: the image list. Centre: the image canvas (or the side-by-side figure) with the drawing
tools. Right: the inspector (model, prediction, layers, LIME, overlap). Bottom: the folder
analysis panel and the status bar. What the actions do lives in the controllers
(:mod:`leakview.gui.controllers`); the values they share live in one
:class:`leakview.appstate.AppState` (``window.state``), loaded from and saved to the settings.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence, QUndoGroup
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollArea,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from leakview.appstate import AppState
from leakview.attribution import METHODS
from leakview.gui.actions import (
    REDO_KEYS,
    UNDO_KEYS,
    ShortcutsDialog,
    add_panel_toggles,
    build_actions,
    connect_actions,
    fill_toolbar,
    tool_action,
)
from leakview.gui.analysis import FolderAnalysis
from leakview.gui.canary_dialog import CanaryDialog
from leakview.gui.canary_run import CanaryRun
from leakview.gui.controllers import (
    AnalysisController,
    CanaryController,
    ExportController,
    FolderController,
    HelpController,
    ImageController,
    LayerController,
    MaskController,
    ModelController,
    RegionController,
)
from leakview.gui.drawing import DrawingController, Tool
from leakview.gui.folder_view import FolderPanel
from leakview.gui.image_list import ImageList
from leakview.gui.image_view import FigureCanvas, ImageCanvas
from leakview.gui.input_guards import install_input_guards, set_focus_home
from leakview.gui.mask_doc import MaskStore
from leakview.gui.results_panel import ResultsPanel
from leakview.gui.screen_fit import folder_dock_height, side_dock_widths, window_geometry
from leakview.gui.session import Session
from leakview.gui.settings import AppSettings, bind_settings
from leakview.gui.status import MessageBar, StatusPanel
from leakview.gui.workers import Job, JobRunner
from leakview.models import ModelSpec


def scrolled(widget: QWidget) -> QScrollArea:
    """``widget`` in a scroll area (vertical and, below its minimum width, horizontal), so
    that its dock can be narrowed or lowered instead of forcing the window's size."""
    scroll = QScrollArea()
    scroll.setWidget(widget)
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QScrollArea.Shape.NoFrame)
    return scroll


class MainWindow(QMainWindow):
    def __init__(self, folder: str | Path | None = None, model: str | None = None,
                 settings: AppSettings | None = None, spec: ModelSpec | None = None) -> None:
        super().__init__()
        install_input_guards()
        self.setWindowTitle("leakview")
        self.settings = settings or AppSettings()
        self.state = AppState()
        bind_settings(self.state, self.settings)
        self.runner = JobRunner(self)
        self.store = MaskStore(self.runner, self)
        self.session = Session(self.state, self.runner, self.store, self)
        self.analysis = FolderAnalysis(self.state, self.runner, self)
        self.canary = CanaryRun(self.runner, self)
        self.undo_group = QUndoGroup(self)
        self._closing = False
        self.ask_before_quit = True
        """Closing with work that would be lost asks first (:meth:`unfinished_work`)."""
        self.quit_box: QMessageBox | None = None
        self._quit_confirmed = False
        self._build_widgets()
        self._build_controllers(self._build_actions())
        self._connect()
        self._restore()
        if folder:
            self.open_folder(folder)
        if model:
            self.open_model(model, spec)

    # -- construction ------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        self.canvas = ImageCanvas()
        self.figure_canvas = FigureCanvas()
        self.stack = QStackedWidget()
        self.stack.addWidget(self.canvas)
        self.stack.addWidget(self.figure_canvas)
        set_focus_home(self.canvas)             # Esc in a text field gives the keys back
        set_focus_home(self.figure_canvas)
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

        self.image_list = ImageList(self.state)
        self.results = ResultsPanel(self.state,
                                    {m: self.settings.layer_options(m) for m in METHODS})
        self.folder_panel = FolderPanel(self.state)
        self.dock_areas: dict[QDockWidget, Qt.DockWidgetArea] = {}
        self.images_dock = self._dock("images", "Images", self.image_list,
                                      Qt.DockWidgetArea.LeftDockWidgetArea)
        self.inspector_dock = self._dock("inspector", "Inspector", scrolled(self.results),
                                         Qt.DockWidgetArea.RightDockWidgetArea)
        self.folder_dock = self._dock("folder", "Folder analysis", scrolled(self.folder_panel),
                                      Qt.DockWidgetArea.BottomDockWidgetArea)
        self.status = StatusPanel(self.runner, self.statusBar())
        self.hover_label = QLabel("")
        self.statusBar().addPermanentWidget(self.hover_label)

    def _dock(self, name: str, title: str, widget: QWidget, area: Qt.DockWidgetArea
              ) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{name}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, dock)
        self.dock_areas[dock] = area
        return dock

    def reset_layout(self) -> None:
        """View > Reset layout: every panel shown, docked where it starts, at its usual size
        for the window's size."""
        for dock, area in self.dock_areas.items():
            dock.setFloating(False)
            self.addDockWidget(area, dock)
            dock.show()
        QTimer.singleShot(0, self._size_docks)   # once the docks are back in the layout

    def _size_docks(self, vertical: bool = True) -> None:
        images, inspector = side_dock_widths(self.width())
        self.resizeDocks([self.images_dock, self.inspector_dock], [images, inspector],
                         Qt.Orientation.Horizontal)
        if vertical:
            self.resizeDocks([self.folder_dock], [folder_dock_height(self.height())],
                             Qt.Orientation.Vertical)

    def _keep_image_area(self) -> None:
        """Restored side docks that leave the image less than half the width (saved in a
        wider window, whose geometry was shrunk to fit this screen) get their usual widths."""
        if self.centralWidget().width() < self.width() / 2:
            self._size_docks(vertical=False)

    def _build_actions(self) -> dict[str, QAction]:
        actions, self.menus = build_actions(self)
        # ``window.actions``: the actions by name (it hides QWidget.actions(); scripts use it)
        self.actions = actions  # type: ignore[assignment]
        undo = self.undo_group.createUndoAction(self, "&Undo")
        redo = self.undo_group.createRedoAction(self, "&Redo")
        undo.setShortcuts([QKeySequence(key) for key in UNDO_KEYS])
        redo.setShortcuts([QKeySequence(key) for key in REDO_KEYS])
        self.menus["&Edit"].addActions([undo, redo])
        self.addActions([undo, redo])
        actions["undo"], actions["redo"] = undo, redo
        fill_toolbar(self.tools_bar, actions)
        add_panel_toggles(self.menus, actions, self.dock_areas)
        self.menus["&View"].setToolTipsVisible(True)   # a greyed-out layer says why
        self.recent_folders_menu = self.menus["&File"].addMenu("Recent folders")
        self.menus["&File"].insertMenu(actions["import_masks"], self.recent_folders_menu)
        return actions

    def _build_controllers(self, actions: dict[str, QAction]) -> None:
        state, session, notify = self.state, self.session, self.show_message
        self.masks = MaskController(
            state, session, self.store, self.runner, self.drawing, self.canvas,
            self.undo_group, self.image_list, self.results, self.status, self.hover_label,
            {tool: actions[tool_action(tool)] for tool in Tool}, notify, self)
        self.regions = RegionController(state, session, self.runner, self.image_list,
                                        self.status, actions, notify, self)
        self.layers = LayerController(state, session, self.canvas, self.results,
                                      self.image_list, self.settings, self.status, notify,
                                      actions)
        self.images = ImageController(
            state, session, self.runner, self.canvas, self.figure_canvas, self.stack,
            self.image_list, self.masks, self.layers, self.messages, notify,
            self.setWindowTitle, self)
        self.folders = FolderController(
            state, session, self.store, self.image_list, self.settings,
            self.recent_folders_menu, notify, self)
        self.models = ModelController(
            state, session, self.analysis, self.results, self.image_list, self.canvas,
            self.settings, self.menus["&Model"], actions["open_model"], self.messages,
            notify, self, actions["open_model_folder"])
        self.analyze = AnalysisController(state, self.analysis, self.store, self.image_list,
                                          self.folder_panel, self.results.lime_form,
                                          self.canary, self.folder_dock, notify)
        self.exports = ExportController(state, self.analysis, session, self.runner,
                                        self.status, notify, self)
        self.canary_control = CanaryController(state, self.canary, self.status, notify, self)
        self.help = HelpController(self)
        connect_actions(actions, {
            **self.masks.handlers(), **self.regions.handlers(), **self.layers.handlers(),
            **self.images.handlers(),
            **self.folders.handlers(), **self.models.handlers(), **self.analyze.handlers(),
            **self.exports.handlers(), **self.canary_control.handlers(),
            **self.help.handlers(),
            "cancel_jobs": self.runner.cancel_user_jobs, "quit": self.close,
            "reset_layout": self.reset_layout})

    def _connect(self) -> None:
        self.session.message.connect(lambda text: self.show_message(text, "warning"))
        self.store.failed.connect(
            lambda path, reason: self.show_message(f"Cannot save mask {path}: {reason}"))
        self.runner.jobFailed.connect(lambda job: self.show_message(f"{job.label}: {job.error}"))
        self.status.cancelRequested.connect(self.runner.cancel_user_jobs)
        self.folder_panel.exportCsvRequested.connect(self.exports.choose_csv)
        self.folder_panel.exportSummaryRequested.connect(self.exports.choose_summary)
        self.folder_panel.tabs.currentChanged.connect(self._folder_tab_changed)

    def _restore(self) -> None:
        """The saved geometry and dock layout, fitted to the screen the window opens on (a
        geometry saved on a bigger monitor is shrunk and moved in)."""
        geometry = self.settings.geometry("geometry")
        restored = geometry is not None and self.restoreGeometry(geometry)
        if not (self.isMaximized() or self.isFullScreen()):
            screen = QGuiApplication.screenAt(self.geometry().center()) or self.screen()
            self.setGeometry(window_geometry(screen.availableGeometry(),
                                             self.geometry() if restored else None))
        self._size_docks()
        state = self.settings.geometry("state")
        if state is not None and self.restoreState(state):
            QTimer.singleShot(0, self._keep_image_area)   # once the restored docks are laid out

    def _folder_tab_changed(self, index: int) -> None:
        """The class atlas needs more height than the per-class table: grow the dock."""
        if (self.folder_panel.tabs.widget(index) is self.folder_panel.atlas
                and not self.folder_dock.isFloating() and self.folder_dock.height() < 330):
            self.resizeDocks([self.folder_dock], [330], Qt.Orientation.Vertical)

    # -- the controllers' entry points that tests and scripts call ----------------------------
    @property
    def root(self) -> Path | None:
        """The open folder (``state.root``)."""
        return self.state.root

    def open_folder(self, folder: str | Path) -> bool:
        return self.folders.open_folder(folder)

    def open_model(self, path: str | Path, spec: ModelSpec | None = None) -> None:
        """Load ``path`` (``spec``: what the user says about a file that does not describe
        itself; without it such a file opens the Model spec dialog)."""
        self.models.open_model(path, spec)

    def export_csv_to(self, path: str | Path) -> Path | None:
        return self.exports.export_csv_to(path)

    def export_summary_to(self, path: str | Path) -> Path | None:
        return self.exports.export_summary_to(path)

    def export_figure_to(self, path: str | Path) -> Job | None:
        return self.exports.export_figure_to(path)

    def import_masks_from(self, source: str | Path, fmt: str) -> Job | None:
        return self.masks.import_masks_from(source, fmt)

    @property
    def canary_dialog(self) -> CanaryDialog | None:
        return self.canary_control.dialog

    @property
    def shortcuts_dialog(self) -> ShortcutsDialog | None:
        return self.help.shortcuts_dialog

    # -- messages and closing -------------------------------------------------------------------
    def show_message(self, text: str, level: str = "error") -> None:
        if not self._closing:
            self.messages.show_message(text, level)

    def unfinished_work(self) -> list[str]:
        """What quitting now would lose: a polygon being drawn, the folder analysis, LIME
        runs, the canary."""
        work = []
        if self.drawing.tool == Tool.POLYGON and self.drawing.points:
            work.append(f"the polygon being drawn ({len(self.drawing.points)} points)")
        if self.analysis.running():
            work.append(f"the folder analysis ({self.analysis.done}/{self.analysis.total} "
                        f"images)")
        work += [f"LIME for {name}" for name in self.session.lime_runs()]
        if self.canary.running():
            work.append("the canary run")
        return work

    def _ask_to_quit(self, work: list[str]) -> None:
        """Quit anyway / Cancel, without blocking (the answer closes the window or not)."""
        if self.quit_box is not None and self.quit_box.isVisible():
            self.quit_box.raise_()
            return
        box = QMessageBox(QMessageBox.Icon.Warning, "Quit leakview?",
                          "Quitting now loses " + "; ".join(work) + ".",
                          QMessageBox.StandardButton.NoButton, self)
        box.setObjectName("quit_box")
        quit_button = box.addButton("Quit anyway", QMessageBox.ButtonRole.DestructiveRole)
        box.setDefaultButton(box.addButton(QMessageBox.StandardButton.Cancel))

        def answered() -> None:
            self.quit_box = None
            if box.clickedButton() is quit_button:
                self._quit_confirmed = True
                self.close()
        box.finished.connect(answered)
        self.quit_box = box
        box.open()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if self.ask_before_quit and not self._quit_confirmed:
            work = self.unfinished_work()
            if work:
                event.ignore()
                self._ask_to_quit(work)
                return
        self._closing = True
        self.store.flush()
        self.settings.set_geometry("geometry", self.saveGeometry())
        self.settings.set_geometry("state", self.saveState())
        self.settings.sync()
        self.hide()     # gone at once; a LIME batch may take a moment to notice the cancel
        self.runner.shutdown()
        super().closeEvent(event)
