"""Shared test set-up: offscreen Qt, seeded randomness, small helpers."""

from __future__ import annotations

import os
import random
import tempfile

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Nothing a test does may touch the user's own leakview data or settings.
_SCRATCH = tempfile.mkdtemp(prefix="leakview-tests-")
os.environ["LEAKVIEW_DATA"] = os.path.join(_SCRATCH, "data")
os.environ.setdefault("LEAKVIEW_SETTINGS", os.path.join(_SCRATCH, "settings.ini"))

import numpy as np  # noqa: E402 (after the environment it must see)
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _seeded() -> None:
    """Every test starts from the same random state."""
    random.seed(0)
    np.random.seed(0)
    try:
        import torch
    except ImportError:
        return
    torch.manual_seed(0)


@pytest.fixture(scope="session")
def qapp(qapp):
    """pytest-qt's QApplication, after the start-up check that the app's own
    ``make_application()`` runs (the PySide6 reference bug, :mod:`leakview.gui.pyside_fixes`)."""
    from leakview.gui.pyside_fixes import guard_references

    guard_references()
    return qapp
