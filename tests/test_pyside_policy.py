"""The PySide6 reference bug handled by policy (leakview.gui.pyside_fixes): the dependency range,
the probe, and the start-up fallback that runs only from make_application()."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from leakview.gui import pyside_fixes

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
PROBES = 64


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)


def _installed_pyside() -> tuple[int, int]:
    from importlib.metadata import version

    major, minor = version("PySide6-Essentials").split(".")[:2]
    return int(major), int(minor)


def test_importing_the_gui_package_imports_no_qt() -> None:
    done = _run("import sys\n"
                "import leakview.gui, leakview.gui.app, leakview.gui.pyside_fixes\n"
                "print(sorted(m for m in sys.modules if m.split('.')[0] in "
                "('PySide6', 'shiboken6', 'pyqtgraph')))\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_pyproject_excludes_the_versions_with_the_bug_below_python_3_12() -> None:
    text = PYPROJECT.read_text(encoding="utf-8")
    assert "\"PySide6-Essentials>=6.6,<6.12; python_version < '3.12'\"" in text
    assert "\"PySide6-Essentials>=6.6; python_version >= '3.12'\"" in text


def test_the_supported_range_keeps_its_references() -> None:
    """The probe on the installed PySide6: inside the declared range it must find no loss."""
    lost = pyside_fixes.lost_references(PROBES)
    assert set(lost) == {"True", "False", "None"}
    if pyside_fixes.singletons_are_mortal() and _installed_pyside() >= (6, 12):
        pytest.skip(f"PySide6 {_installed_pyside()} is outside the supported range on "
                    f"Python {sys.version_info[:2]} (probe: {lost}); the fallback test covers it")
    assert max(lost.values()) < PROBES // 2, lost


def test_make_application_applies_the_fallback_only_after_a_loss() -> None:
    """In a fresh interpreter: importing changes nothing; make_application() runs the check
    once, patches only when the probe found a loss, and says so on the log."""
    done = _run("import sys\n"
                "import leakview.gui.app as app\n"
                "from leakview.gui import pyside_fixes\n"
                "before = sys.getrefcount(True)\n"
                "app.make_application()\n"
                "first = pyside_fixes.guard_references()\n"
                "app.make_application()\n"
                "print(before < 2 ** 39)\n"
                "print(sys.getrefcount(True) > 2 ** 39)\n"
                "print(first == pyside_fixes.guard_references())\n"
                "print(first)\n")
    assert done.returncode == 0, done.stderr
    imported_unpatched, patched, once, note = done.stdout.splitlines()[:4]
    assert imported_unpatched == "True" and once == "True"
    if not pyside_fixes.singletons_are_mortal():
        assert patched == "False" and "not needed" in note
        return
    lost = pyside_fixes.lost_references(PROBES)
    if max(lost.values()) >= PROBES // 2:
        assert patched == "True" and "Raised the reference counts" in note
        assert "loses references" in done.stderr               # the warning on the log
    else:
        assert patched == "False" and "keeps its references" in note


def test_the_fallback_is_refused_on_debug_and_trace_refs_builds(monkeypatch) -> None:
    if not pyside_fixes.singletons_are_mortal():
        assert "not CPython < 3.12" in pyside_fixes.patch_refused()
        return
    if hasattr(sys, "gettotalrefcount") or hasattr(sys, "getobjects"):
        assert "debug" in pyside_fixes.patch_refused()
        return
    assert pyside_fixes.patch_refused() is None                # a release build: allowed
    monkeypatch.setattr(sys, "gettotalrefcount", lambda: 0, raising=False)
    assert "debug" in pyside_fixes.patch_refused()
    monkeypatch.delattr(sys, "gettotalrefcount")
    monkeypatch.setattr(sys, "getobjects", lambda *args: [], raising=False)
    assert "debug" in pyside_fixes.patch_refused()
