"""Menus, actions and keyboard shortcuts, declared once in :data:`ACTIONS`; Help > Shortcuts is
generated from the same table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QDialog, QHeaderView, QMainWindow, QMenu, QTableWidget, \
    QTableWidgetItem, QVBoxLayout, QWidget


@dataclass(frozen=True)
class ActionSpec:
    name: str        # also the window method called (``on_<name>``) unless ``slot`` is given
    text: str
    shortcuts: tuple[str, ...] = ()
    menu: str = ""   # "" = shortcut only (still listed in Help > Shortcuts)
    checkable: bool = False
    tip: str = ""


ACTIONS: tuple[ActionSpec, ...] = (
    ActionSpec("open_folder", "&Open folder…", ("Ctrl+O",), "&File"),
    ActionSpec("open_demo", "Open the &demo images", (), "&File"),
    ActionSpec("import_masks", "&Import masks (LabelMe / COCO)…", (), "&File"),
    ActionSpec("export_csv", "Export &CSV…", ("Ctrl+S",), "&File",
               tip="The folder analysis rows, as `leakview scan` writes them"),
    ActionSpec("export_figure", "Export current &figure (PNG)…", ("Ctrl+E",), "&File"),
    ActionSpec("export_summary", "Export summary &JSON…", (), "&File"),
    ActionSpec("quit", "&Quit", ("Ctrl+Q",), "&File"),
    ActionSpec("tool_pan", "&Pan / select", ("V",), "&Draw", True),
    ActionSpec("tool_polygon", "P&olygon (Enter or double-click closes, Esc cancels)", ("P",),
               "&Draw", True),
    ActionSpec("tool_rectangle", "&Rectangle", ("R",), "&Draw", True),
    ActionSpec("tool_ellipse", "&Ellipse", ("E",), "&Draw", True),
    ActionSpec("tool_brush", "&Brush", ("B",), "&Draw", True),
    ActionSpec("tool_eraser", "Era&ser", ("X",), "&Draw", True),
    ActionSpec("brush_smaller", "Smaller brush", ("[",), "&Draw"),
    ActionSpec("brush_bigger", "Bigger brush", ("]",), "&Draw"),
    ActionSpec("clear_mask", "&Clear mask", ("Del",), "&Draw"),
    ActionSpec("next_image", "&Next image", ("D", "PgDown"), "&View"),
    ActionSpec("previous_image", "&Previous image", ("A", "PgUp"), "&View"),
    ActionSpec("fit", "&Fit image", ("F",), "&View"),
    ActionSpec("one_to_one", "&1:1 (one image pixel per screen pixel)", ("Ctrl+0",), "&View"),
    ActionSpec("zoom_in", "Zoom in", ("+", "="), "&View"),
    ActionSpec("zoom_out", "Zoom out", ("-",), "&View"),
    ActionSpec("side_by_side", "&Side by side (original | saliency | LIME)", ("T",), "&View",
               True),
    ActionSpec("layer_1", "Toggle layer 1 (Saliency)", ("1",), "&View"),
    ActionSpec("layer_2", "Toggle layer 2 (SmoothGrad)", ("2",), "&View"),
    ActionSpec("layer_3", "Toggle layer 3 (Integrated gradients)", ("3",), "&View"),
    ActionSpec("layer_4", "Toggle layer 4 (Grad-CAM)", ("4",), "&View"),
    ActionSpec("layer_5", "Toggle layer 5 (LIME)", ("5",), "&View"),
    ActionSpec("open_model", "&Open model…", ("Ctrl+M",), "&Model"),
    ActionSpec("run_lime", "Run &LIME on this image", ("L",), "&Analysis"),
    ActionSpec("analyze_folder", "&Analyze folder", ("Ctrl+R",), "&Analysis"),
    ActionSpec("cancel_jobs", "&Cancel running jobs", ("Ctrl+.",), "&Analysis"),
    ActionSpec("run_canary", "Run &canary…", (), "&Tools",
               tip="Plant a leak in a copy of the data, train a clean and a leaky model, and "
                   "check that the attribution methods find it (leakview canary)"),
    ActionSpec("shortcuts", "Keyboard &shortcuts", ("F1",), "&Help"),
    ActionSpec("about", "&About leakview", (), "&Help"),
)

MENU_ORDER = ("&File", "&Edit", "&Draw", "&View", "&Model", "&Analysis", "&Tools", "&Help")
UNDO_KEYS = ("Ctrl+Z",)
REDO_KEYS = ("Ctrl+Shift+Z", "Ctrl+Y")


def build_actions(window: QMainWindow, handler: Callable[[str], Callable]
                  ) -> tuple[dict[str, QAction], dict[str, QMenu]]:
    """Create every action (added to the window so shortcuts work everywhere in it) and the
    menus; ``handler(name)`` returns the callable an action triggers."""
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
        action.triggered.connect(handler(spec.name))
        window.addAction(action)
        if spec.menu:
            menus[spec.menu].addAction(action)
        actions[spec.name] = action
    for name in ("brush_smaller", "clear_mask", "next_image", "fit", "side_by_side",
                 "layer_1", "analyze_folder", "shortcuts"):
        menu = menus[next(spec.menu for spec in ACTIONS if spec.name == name)]
        menu.insertSeparator(actions[name])
    return actions, menus


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
             ("Esc", "Cancel the shape being drawn")]
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
