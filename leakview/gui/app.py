"""The QApplication and :func:`run_app`, the entry point of ``leakview gui``."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from leakview.gui import platform_check, pyside_fixes

ORGANISATION = "leakview"
APPLICATION = "leakview"


def make_application(argv: list[str] | None = None):
    """The QApplication (created once), with leakview's organisation/application names and its
    input guards (:mod:`leakview.gui.input_guards`); the first call runs the PySide6 reference
    check (:func:`pyside_fixes.guard_references`). Before the first QApplication (before Qt
    is loaded at all), where Qt would start on X11 and its xcb plugin cannot load, it prints a
    one-line hint naming the apt packages and exits with status 1
    (:func:`platform_check.exit_if_xcb_cannot_load`) instead of Qt's abort."""
    widgets = sys.modules.get("PySide6.QtWidgets")
    if widgets is None or widgets.QApplication.instance() is None:
        platform_check.exit_if_xcb_cannot_load()
    from PySide6.QtWidgets import QApplication

    from leakview.gui.input_guards import install_input_guards

    app = QApplication.instance()
    if app is None:
        app = QApplication(argv if argv is not None else [sys.argv[0]])
    pyside_fixes.guard_references()
    install_input_guards()
    app.setOrganizationName(ORGANISATION)
    app.setApplicationName(APPLICATION)
    app.setApplicationDisplayName("leakview")
    import pyqtgraph as pg

    pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)
    return app


def startup_choice(settings, folder: str | os.PathLike[str] | None = None,
                   model: str | os.PathLike[str] | None = None, demo: bool = False
                   ) -> tuple[Path, str, list[str]]:
    """The folder and model the window opens on, and notes for the user.

    Given paths win; ``demo`` asks for the bundled demo (writable copy of its images,
    demo-clean); otherwise the last session's folder and model when they still exist, else the
    demo (so the very first launch shows the demo).
    """
    from leakview.resources import demo_model_path, demo_workspace

    notes: list[str] = []
    if folder:
        chosen_folder = Path(folder)
    elif not demo and settings.last_folder and Path(settings.last_folder).is_dir():
        chosen_folder = Path(settings.last_folder)
    else:
        if not demo and settings.last_folder:
            notes.append(f"The last folder {settings.last_folder} is gone; opened the demo.")
        chosen_folder = demo_workspace()
    if model:
        chosen_model = str(model)
    elif not demo and settings.last_model and Path(settings.last_model).exists():
        chosen_model = settings.last_model
    else:
        if not demo and settings.last_model:
            notes.append(f"The last model {settings.last_model} is gone; opened demo-clean.")
        chosen_model = str(demo_model_path("clean"))
    return chosen_folder, chosen_model, notes


def open_main_window(folder: str | os.PathLike[str] | None = None,
                     model: str | os.PathLike[str] | None = None, demo: bool = False,
                     settings=None, spec=None):
    """The main window on what :func:`startup_choice` picks, shown; ``spec`` (a
    :class:`leakview.models.ModelSpec`) describes a model file that does not itself."""
    make_application()
    from leakview.gui.main_window import MainWindow
    from leakview.gui.settings import AppSettings

    settings = settings or AppSettings()
    folder, model, notes = startup_choice(settings, folder, model, demo)
    window = MainWindow(folder=folder if folder.is_dir() else None, model=model,
                        settings=settings, spec=spec)
    if not folder.is_dir():
        notes.append(f"Image folder not found: {folder}. Use File > Open folder (Ctrl+O).")
    if notes:
        window.show_message(" ".join(notes), "warning")
    window.show()
    return window


def run_app(folder: str | os.PathLike[str] | None = None,
            model: str | os.PathLike[str] | None = None, demo: bool = False,
            spec=None) -> int:
    """Open the main window (see :func:`startup_choice`; ``spec``: ``leakview gui --arch
    ...``, a :class:`leakview.models.ModelSpec`) and run the event loop; returns the exit
    status."""
    app = make_application()
    window = open_main_window(folder, model, demo, spec=spec)
    status = app.exec()
    del window
    return int(status or 0)
