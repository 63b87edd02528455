"""Locate the bundled resources (demo images, demo models, icons)."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from leakview.layout import dataset_description, normalise_root


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


#: The bundled demo models, by the name ``--model`` accepts for them.
DEMO_MODELS: dict[str, str] = {"demo-clean": "clean", "demo-leaky": "leaky"}


def demo_model_named(name: str | os.PathLike[str]) -> Path | None:
    """The bundled model ``name`` calls for (``demo-clean`` or ``demo-leaky``), else None."""
    kind = DEMO_MODELS.get(os.fspath(name))
    return demo_model_path(kind) if kind else None


def model_name(source: str | os.PathLike[str] | None) -> str:
    """A model's short name for the outputs that present results: ``demo-clean`` /
    ``demo-leaky`` for a bundled demo model, else the file's (or Hugging Face folder's) name;
    ``(in memory)`` for a model that came from no file."""
    if source is None or os.fspath(source) == "":
        return "(in memory)"
    path = Path(source)
    for name, kind in DEMO_MODELS.items():
        if _same_path(path, demo_model_path(kind)):
            return name
    return path.name or os.fspath(source)


def model_identity(source: str | os.PathLike[str] | None) -> dict[str, str | None]:
    """``{"name": model_name(source), "source": the path}``: how a summary names its model."""
    return {"name": model_name(source),
            "source": os.fspath(source) if source is not None else None}


def is_demo_images(folder: str | os.PathLike[str]) -> bool:
    """Whether ``folder`` is the bundled demo image folder or the user's copy of it
    (:func:`demo_workspace`): the folders a model-less scan may run demo-clean on."""
    return any(_same_path(Path(folder), candidate)
               for candidate in (demo_images_dir(), user_data_dir() / "demo"))


def _same_path(first: Path, second: Path) -> bool:
    try:
        return first.resolve() == second.resolve()
    except OSError:
        return first.absolute() == second.absolute()


def user_data_dir() -> Path:
    """Where leakview keeps per-user files: ``$XDG_DATA_HOME/leakview`` (default
    ``~/.local/share/leakview``); ``$LEAKVIEW_DATA`` overrides it."""
    override = os.environ.get("LEAKVIEW_DATA")
    if override:
        return Path(override)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "leakview"


def demo_workspace() -> Path:
    """A user-writable copy of the demo images, made on first use, so drawing masks on the
    demo never edits the installed resources (which may be read-only, or a git checkout).
    Falls back to the bundled folder when no copy can be made."""
    source = demo_images_dir()
    target = user_data_dir() / "demo"
    marker = dataset_description(target)
    if marker.is_file():
        return target
    try:
        shutil.copytree(source, target, dirs_exist_ok=True)
    except OSError:
        return source
    return target


HONEST_DEMO_PER_CLASS = 20


def honest_demo_dir() -> Path:
    """Where :func:`ensure_honest_demo` keeps its marker-free demo images (may not exist yet)."""
    return user_data_dir() / "demo-honest"


def is_honest_demo(folder: Path) -> bool:
    """Whether ``folder`` is :func:`honest_demo_dir` (generated when a canary starts on it)."""
    return normalise_root(folder) == normalise_root(honest_demo_dir())


def ensure_honest_demo(progress: Callable[[int, int], None] | None = None) -> Path:
    """Marker-free demo images (``HONEST_DEMO_PER_CLASS`` per class, with cargo masks),
    generated on first use: the honest data a canary needs. The bundled demo cannot serve,
    its images already carry the corner marker. Written beside the target and renamed into
    place, so an interrupted generation leaves nothing half-made behind."""
    from leakview.synth import generate_dataset

    target = honest_demo_dir()
    if dataset_description(target).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".demo-honest.", dir=target.parent))
    try:
        generate_dataset(staging, HONEST_DEMO_PER_CLASS, seed=0, progress=progress)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
