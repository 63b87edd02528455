"""The PyInstaller build (build.spec): it starts, scans the bundled demo like the installed CLI,
and opens its window.

Marked ``packaging`` and left out of the default run (pyproject's addopts): a build takes
minutes and gigabytes. Run it with ``python -m pytest -m packaging``. It reuses an existing
``dist/leakview`` (build it first with ``pyinstaller build.spec --noconfirm``, or set
``LEAKVIEW_REBUILD=1`` to have the test build it); ``LEAKVIEW_DIST=path/to/leakview`` tests
another one-folder build.
"""

from __future__ import annotations

import csv
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from leakview import __version__

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(3600)]

ROOT = Path(__file__).resolve().parent.parent
EXE_NAME = "leakview.exe" if sys.platform == "win32" else "leakview"


def _frozen_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["LEAKVIEW_DATA"] = str(tmp_path / "data")
    env["LEAKVIEW_SETTINGS"] = str(tmp_path / "settings.ini")
    env.pop("LEAKVIEW_RESOURCES", None)  # the app must find its own bundled resources
    return env


@pytest.fixture(scope="module")
def app_dir() -> Path:
    """The one-folder build: LEAKVIEW_DIST, else dist/leakview (built when missing or when
    LEAKVIEW_REBUILD=1)."""
    if os.environ.get("LEAKVIEW_DIST"):
        folder = Path(os.environ["LEAKVIEW_DIST"])
    else:
        folder = ROOT / "dist" / "leakview"
        if os.environ.get("LEAKVIEW_REBUILD") == "1" or not (folder / EXE_NAME).is_file():
            pytest.importorskip("PyInstaller", reason="pip install -e '.[build]'")
            subprocess.run([sys.executable, "-m", "PyInstaller", "build.spec", "--noconfirm"],
                           cwd=ROOT, check=True, timeout=3000)
    assert (folder / EXE_NAME).is_file(), f"no build at {folder}"
    return folder


def _resources(app: Path) -> Path:
    return app / "_internal" / "resources"


def test_version(app_dir: Path, tmp_path: Path) -> None:
    started = time.perf_counter()
    result = subprocess.run([str(app_dir / EXE_NAME), "--version"], capture_output=True,
                            text=True, timeout=120, env=_frozen_env(tmp_path))
    elapsed = time.perf_counter() - started
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"leakview {__version__}"
    print(f"--version took {elapsed:.2f} s")


def test_resources_are_bundled(app_dir: Path) -> None:
    resources = _resources(app_dir)
    assert (resources / "demo-clean.pt").is_file() and (resources / "demo-leaky.pt").is_file()
    assert len(list((resources / "demo").rglob("*.png"))) >= 80  # 40 images + 40 masks


def _read(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _same_cell(a: str, b: str) -> bool:
    try:
        x, y = float(a), float(b)
    except ValueError:
        return a == b
    return (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-4, abs_tol=1e-5)


def test_scan_of_the_bundled_demo_matches_the_installed_cli(app_dir: Path,
                                                            tmp_path: Path) -> None:
    """The frozen app scans its bundled demo with its bundled model (saliency and a short LIME,
    which needs lime, scikit-learn and scikit-image inside the bundle) and writes the CSV the
    installed CLI writes for the same images and model."""
    resources = _resources(app_dir)
    options = ["--methods", "saliency,lime", "--lime-samples", "100", "--seed", "0",
               "--device", "cpu"]
    frozen_csv, installed_csv = tmp_path / "frozen.csv", tmp_path / "installed.csv"
    frozen = subprocess.run(
        [str(app_dir / EXE_NAME), "scan", str(resources / "demo"), "--model",
         str(resources / "demo-clean.pt"), "--csv", str(frozen_csv), *options],
        capture_output=True, text=True, timeout=1200, env=_frozen_env(tmp_path))
    assert frozen.returncode == 0, frozen.stderr
    installed = subprocess.run(
        [sys.executable, "-m", "leakview", "scan", str(ROOT / "resources" / "demo"), "--model",
         str(ROOT / "resources" / "demo-clean.pt"), "--csv", str(installed_csv), *options],
        capture_output=True, text=True, timeout=1200)
    assert installed.returncode == 0, installed.stderr
    ours, theirs = _read(frozen_csv), _read(installed_csv)
    assert len(ours) == len(theirs) == 80
    assert list(ours[0]) == list(theirs[0])
    for mine, reference in zip(ours, theirs):
        for column in reference:
            assert _same_cell(mine[column], reference[column]), (column, mine, reference)


def test_window_starts_offscreen(app_dir: Path, tmp_path: Path) -> None:
    """``leakview`` with no arguments opens the app on (a writable copy of) the bundled demo
    and keeps running; on the offscreen platform nothing can be seen, so it is judged by the
    demo copy being made, the process staying up and nothing on stderr but Qt's notes."""
    env = _frozen_env(tmp_path)
    process = subprocess.Popen([str(app_dir / EXE_NAME)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    try:
        marker = tmp_path / "data" / "demo" / ".leakview" / "dataset.json"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None and not marker.is_file():
            time.sleep(0.2)
        assert marker.is_file(), "the app did not copy the bundled demo"
        time.sleep(15)  # long enough to build the window, load the model and compute a map
        assert process.poll() is None, process.communicate()[1]
    finally:
        process.terminate()
        try:
            _, stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
    assert "Traceback" not in stderr, stderr
