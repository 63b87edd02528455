"""Help > Keyboard shortcuts (generated from the action table) and Help > About."""

from __future__ import annotations

from dataclasses import dataclass, field

from PySide6.QtWidgets import QMessageBox, QWidget

from leakview import __version__
from leakview.attribution import METHODS
from leakview.gui.actions import Handlers, ShortcutsDialog


@dataclass(eq=False, repr=False)
class HelpController:
    parent: QWidget
    shortcuts_dialog: ShortcutsDialog | None = field(default=None, init=False)

    def handlers(self) -> Handlers:
        return {"shortcuts": self.show_shortcuts, "about": self.show_about}

    def show_shortcuts(self) -> None:
        self.shortcuts_dialog = ShortcutsDialog(self.parent)
        self.shortcuts_dialog.show()

    def show_about(self) -> None:
        QMessageBox.about(self.parent, "About leakview",
                          f"leakview {__version__}\nFind data leakage (Clever Hans shortcuts) "
                          "in image classifiers.\nMethods: "
                          + ", ".join(info.label for info in METHODS.values()))
