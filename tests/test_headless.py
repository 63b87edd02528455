"""The headless core never imports Qt (napari's rule): checked in a fresh interpreter."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import leakview

QT_MODULES = ("PySide6", "pyqtgraph", "PyQt5", "PyQt6", "qtpy", "shiboken6")


def headless_modules() -> list[str]:
    """Every module of the package outside ``leakview.gui``."""
    names = []
    for info in pkgutil.walk_packages([str(Path(leakview.__file__).parent)], prefix="leakview."):
        if info.name == "leakview.gui" or info.name.startswith("leakview.gui."):
            continue
        names.append(info.name)
    return sorted(names)


def test_headless_modules_do_not_import_qt() -> None:
    modules = headless_modules()
    assert "leakview.models" in modules and "leakview.cli" in modules
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    if name != 'leakview.__main__':\n"
        "        importlib.import_module(name)\n"
        "import leakview.cli\n"
        "leakview.cli.build_parser()\n"
        f"loaded = sorted(m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r})\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"Qt modules imported by the core: {result.stdout}"
