"""Locate the bundled resources (demo images, demo models, icons)."""

from __future__ import annotations

import os
import sys
from pathlib import Path


def resources_dir() -> Path:
    """The folder holding leakview's bundled resources.

    Looked up, in order: ``$LEAKVIEW_RESOURCES``; a PyInstaller bundle; the ``resources/``
    folder beside the package (source checkout or editable install); the data files of a
    wheel install (``<prefix>/share/leakview/resources``).
    """
    override = os.environ.get("LEAKVIEW_RESOURCES")
    if override:
        return Path(override)
    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root:
        return Path(frozen_root) / "resources"
    beside_package = Path(__file__).resolve().parent.parent / "resources"
    installed = Path(sys.prefix) / "share" / "leakview" / "resources"
    if not beside_package.is_dir() and installed.is_dir():
        return installed
    return beside_package


def demo_images_dir() -> Path:
    """The bundled demo image folder (an ImageFolder tree with cargo masks)."""
    return resources_dir() / "demo"


def demo_model_path(kind: str = "clean") -> Path:
    """Path of a bundled demo model bundle: ``kind`` is ``"clean"`` or ``"leaky"``."""
    if kind not in ("clean", "leaky"):
        raise ValueError(f"unknown demo model {kind!r}: expected 'clean' or 'leaky'")
    return resources_dir() / f"demo-{kind}.pt"
