"""Menus, actions and keyboard shortcuts, declared once in :data:`ACTIONS`; Help > Shortcuts is
generated from the same table. The drawing tools' actions (``tool_<tool>``) come from the tool
list (:mod:`leakview.gui.drawing`), the layer toggles (``layer_<n>``) from the attribution
registry (``attribution.METHODS``)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDockWidget,
    QHeaderView,
    QMainWindow,
    QMenu,
    QTableWidget,
    QTableWidgetItem,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from leakview.attribution import METHODS
from leakview.gui.drawing import TOOL_KEYS, TOOL_LABELS, Tool, tool_text
from leakview.gui.layers import LAYER_KEYS, MASK_KEY, SUSPECT_KEY


@dataclass(frozen=True)
class ActionSpec:
    name: str        # the key of its handler (see :func:`build_actions`)
    text: str
    shortcuts: tuple[str, ...] = ()
    menu: str = ""   # "" = shortcut only (still listed in Help > Shortcuts)
    checkable: bool = False
    tip: str = ""
    icon_text: str = ""  # the tool bar's shorter text, when it has one


def tool_action(tool: Tool) -> str:
    """The name of the action that picks ``tool``."""
    return f"tool_{tool.value}"


def layer_action(number: int) -> str:
    """The name of the action that toggles layer ``number`` (1-based)."""
    return f"layer_{number}"


def tool_specs() -> tuple[ActionSpec, ...]:
    """One checkable action per drawing tool, with its key."""
    return tuple(ActionSpec(tool_action(tool), tool_text(tool), (TOOL_KEYS[tool],), "&Draw",
                            True, icon_text=TOOL_LABELS[tool]) for tool in Tool)


def layer_numbers() -> range:
    """1, 2, ...: the layers (registered methods, in order) that have a toggle key."""
    return range(1, min(len(METHODS), LAYER_KEYS) + 1)


def layer_specs() -> tuple[ActionSpec, ...]:
    """"Toggle layer N (its method)" with the key N, for each of :func:`layer_numbers`."""
    labels = [info.label for info in METHODS.values()]
    return tuple(ActionSpec(layer_action(number), f"Toggle layer {number} "
                            f"({labels[number - 1]})", (str(number),), "&View")
                 for number in layer_numbers())


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("open_folder", "&Open folder…", ("Ctrl+O",), "&File"),
    ActionSpec("open_demo", "Open the &demo images", (), "&File"),
    ActionSpec("import_masks", "&Import masks (LabelMe / COCO)…", (), "&File"),
    ActionSpec("export_csv", "Export &CSV…", ("Ctrl+S",), "&File",
               tip="The folder analysis rows, as `leakview scan` writes them"),
    ActionSpec("export_figure", "Export current &figure (PNG)…", ("Ctrl+E",), "&File"),
    ActionSpec("export_summary", "Export summary &JSON…", (), "&File"),
    ActionSpec("quit", "&Quit", ("Ctrl+Q",), "&File"),
    *tool_specs(),
    ActionSpec("brush_smaller", "Smaller brush", ("[",), "&Draw"),
    ActionSpec("brush_bigger", "Bigger brush", ("]",), "&Draw"),
    ActionSpec("clear_mask", "&Clear mask", ("Del",), "&Draw",
               tip="Clear the region being drawn (expected or suspect)"),
    ActionSpec("region_expected", "Draw the e&xpected region", (), "&Draw", True,
               tip="The drawing tools edit the expected region (where the evidence should be)",
               icon_text="Expected"),
    ActionSpec("region_suspect", "Draw a &suspect region", (), "&Draw", True,
               tip="The drawing tools edit the suspect region (where a shortcut may hide: a "
                   "corner tag, a timestamp, a watermark)", icon_text="Suspect"),
    ActionSpec("region_kind_next", "Switch region kind (expected / suspect)", ("K",), "&Draw"),
    ActionSpec("copy_previous_region", "Copy the region of the &previous image",
               ("Ctrl+Shift+V",), "&Draw",
               tip="Replace this image's region (of the kind being drawn) with the previous "
                   "image's in the list; one undo step"),
    ActionSpec("next_image", "&Next image", ("D", "PgDown"), "&View"),
    ActionSpec("previous_image", "&Previous image", ("A", "PgUp"), "&View"),
    ActionSpec("fit", "&Fit image", ("F",), "&View"),
    ActionSpec("one_to_one", "&1:1 (one image pixel per screen pixel)", ("Ctrl+0",), "&View",
               icon_text="1:1"),
    ActionSpec("zoom_in", "Zoom in", ("+", "="), "&View"),
    ActionSpec("zoom_out", "Zoom out", ("-",), "&View"),
    ActionSpec("side_by_side", "&Side by side (original | saliency | LIME)", ("T",), "&View",
               True, icon_text="Side by side"),
    *layer_specs(),
    ActionSpec("toggle_mask", "Show the &mask (expected region)", (MASK_KEY,), "&View", True,
               tip="Display only: hiding the mask changes neither the mask nor a metric"),
    ActionSpec("mask_outline", "Mask &outline only", (), "&View", True),
    ActionSpec("toggle_suspect", "Show the s&uspect region", (SUSPECT_KEY,), "&View", True,
               tip="Display only: hiding the suspect region changes neither it nor a metric"),
    ActionSpec("filter_unannotated", "Only images &without a mask", (), "&View", True,
               tip="The image list shows only the images that have no expected-region mask "
                   "(the image on screen stays until you move on)"),
    ActionSpec("reset_layout", "&Reset layout", (), "&View",
               tip="Show every panel, docked where it starts, at its usual size for the window"),
    ActionSpec("open_model", "&Open model…", ("Ctrl+M",), "&Model",
               tip="A model file: leakview bundle, state_dict or checkpoint (.pt .pth .ckpt "
                   ".bin), .safetensors, TorchScript, ONNX, torch.export (.pt2)"),
    ActionSpec("open_model_folder", "Open model &folder…", ("Ctrl+Shift+M",), "&Model",
               tip="A model saved as a folder: Hugging Face save_pretrained (config.json + "
                   "model.safetensors)"),
    ActionSpec("run_lime", "Run &LIME on this image", ("L",), "&Analysis", icon_text="LIME"),
    ActionSpec("analyze_folder", "&Analyze folder", ("Ctrl+R",), "&Analysis",
               icon_text="Analyze folder"),
    ActionSpec("cancel_jobs", "&Cancel running jobs", ("Ctrl+.",), "&Analysis"),
    ActionSpec("run_canary", "Run &canary…", (), "&Tools",
               tip="Plant a leak in a copy of the data, train a clean and a leaky model, and "
                   "check that the attribution methods find it (leakview canary)"),
    ActionSpec("shortcuts", "Keyboard &shortcuts", ("F1",), "&Help"),
    ActionSpec("about", "&About leakview", (), "&Help"),
)

Handlers = Mapping[str, Callable[[], object]]
"""What each action calls, by action name (a controller's ``handlers()``)."""

MENU_ORDER = ("&File", "&Edit", "&Draw", "&View", "&Model", "&Analysis", "&Tools", "&Help")
UNDO_KEYS = ("Ctrl+Z",)
REDO_KEYS = ("Ctrl+Shift+Z", "Ctrl+Y")
TOOLBAR: tuple[str | None, ...] = (
    *(tool_action(tool) for tool in Tool), None,
    "region_expected", "region_suspect", None,
    "clear_mask", "fit", "one_to_one", "side_by_side", "run_lime", "analyze_folder")
"""The tool bar's actions in order (None: a separator)."""


def build_actions(window: QMainWindow) -> tuple[dict[str, QAction], dict[str, QMenu]]:
    """Create every action (added to the window so shortcuts work everywhere in it) and the
    menus; :func:`connect_actions` gives them their handlers."""
    menus = {title: window.menuBar().addMenu(title) for title in MENU_ORDER}
    actions: dict[str, QAction] = {}
    for spec in ACTIONS:
        action = QAction(spec.text, window)
        action.setObjectName(f"action_{spec.name}")
        if spec.shortcuts:
            action.setShortcuts([QKeySequence(key) for key in spec.shortcuts])
        action.setCheckable(spec.checkable)
        if spec.tip:
            action.setStatusTip(spec.tip)
        if spec.icon_text:
            action.setIconText(spec.icon_text)
        window.addAction(action)
        if spec.menu:
            menus[spec.menu].addAction(action)
        actions[spec.name] = action
    for name in ("brush_smaller", "clear_mask", "region_expected", "next_image", "fit",
                 "side_by_side", "layer_1", "toggle_mask", "reset_layout", "analyze_folder",
                 "shortcuts"):
        menu = menus[next(spec.menu for spec in ACTIONS if spec.name == name)]
        menu.insertSeparator(actions[name])
    return actions, menus


def connect_actions(actions: Mapping[str, QAction], handlers: Handlers) -> None:
    """Each action of :data:`ACTIONS` calls ``handlers[its name]``; a table action without a
    handler, or a handler without its action, is a ValueError."""
    names = {spec.name for spec in ACTIONS}
    missing, unknown = names - set(handlers), set(handlers) - names
    if missing or unknown:
        raise ValueError(f"actions without a handler: {sorted(missing)}; handlers without an "
                         f"action: {sorted(unknown)}")
    for name in names:
        handler = handlers[name]
        actions[name].triggered.connect(lambda _checked=False, call=handler: call())


def add_panel_toggles(menus: Mapping[str, QMenu], actions: Mapping[str, QAction],
                      docks: Iterable[QDockWidget]) -> None:
    """View > "<panel> panel": each dock's own show/hide action (``toggleViewAction``, named
    ``action_show_<dock name>``), above View > Reset layout."""
    for dock in docks:
        toggle = dock.toggleViewAction()
        toggle.setText(f"{dock.windowTitle()} panel")
        toggle.setObjectName(f"action_show_{dock.objectName().removeprefix('dock_')}")
        menus["&View"].insertAction(actions["reset_layout"], toggle)


def fill_toolbar(bar: QToolBar, actions: Mapping[str, QAction]) -> None:
    """Put the :data:`TOOLBAR` actions on ``bar``."""
    for name in TOOLBAR:
        if name is None:
            bar.addSeparator()
        else:
            bar.addAction(actions[name])


def shortcut_rows() -> list[tuple[str, str]]:
    """``(keys, what)`` for every shortcut, in menu order (Help > Shortcuts)."""
    rows = [(" / ".join(UNDO_KEYS), "Undo the last mask edit"),
            (" / ".join(REDO_KEYS), "Redo")]
    for spec in ACTIONS:
        if spec.shortcuts:
            rows.append((" / ".join(spec.shortcuts), spec.text.replace("&", "").rstrip("…")))
    rows += [("Space + drag", "Pan while a drawing tool is active"),
             ("Wheel", "Zoom"),
             ("Enter / double-click", "Close the polygon"),
             ("Backspace", "Remove the polygon's last vertex"),
             ("Esc", "Cancel the shape being drawn (or the drag of a shape)"),
             ("Alt + drag / Alt + click", "Subtractive rectangle, ellipse / polygon (removes "
                                          "its pixels)"),
             ("Drag a handle / the shape", "Reshape / move the shape being edited (a drawn "
                                           "shape stays editable until committed)"),
             ("Ctrl+click / double-click a side", "Insert a polygon vertex there"),
             ("Shift+click a vertex", "Remove a polygon vertex"),
             ("Del (a shape being edited)", "Delete the shape"),
             ("Enter (a shape being edited)", "Commit the shape (so do another tool, image or "
                                              "shape)"),
             ("Esc (in a text field, box or list)", "Give the keys back to the image"),
             ("Enter (in the filter box)", "Go to the image list"),
             ("Wheel over a box or slider", "Scroll the panel (click the box first to "
                                            "change its value with the wheel)")]
    return rows


class ShortcutsDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = shortcut_rows()
        table = QTableWidget(len(rows), 2)
        table.setObjectName("shortcuts")
        table.setHorizontalHeaderLabels(["Keys", "Action"])
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, (keys, text) in enumerate(rows):
            table.setItem(row, 0, QTableWidgetItem(keys))
            table.setItem(row, 1, QTableWidgetItem(text))
        table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        layout = QVBoxLayout(self)
        layout.addWidget(table)
        self.table = table
        self.resize(520, 640)
