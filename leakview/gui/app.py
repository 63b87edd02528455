"""The QApplication and :func:`run_app`, the entry point of ``leakview gui``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

ORGANISATION = "leakview"
APPLICATION = "leakview"


def make_application(argv: list[str] | None = None):
    """The QApplication (created once), with leakview's organisation/application names."""
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else [sys.argv[0]])
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("leakview")
    import pyqtgraph as pg

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
    return app


def run_app(folder: str | os.PathLike[str] | None = None,
            model: str | os.PathLike[str] | None = None) -> int:
    """Open the main window on ``folder`` with ``model`` (defaults: a user-writable copy of
    the bundled demo images, and demo-clean) and run the event loop; returns the exit status."""
    from leakview.resources import demo_model_path, demo_workspace

    app = make_application()
    from leakview.gui.main_window import MainWindow

    folder = Path(folder) if folder else demo_workspace()
    model = str(model) if model else str(demo_model_path("clean"))
    window = MainWindow(folder=folder if folder.is_dir() else None, model=model)
    if not folder.is_dir():
        window.show_message(f"Image folder not found: {folder}. Use File > Open folder "
                            "(Ctrl+O).")
    window.show()
    status = app.exec()
    return int(status or 0)
