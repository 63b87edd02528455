"""What the user says about a model file that does not describe itself (``--arch``,
``--classes``, ``--classes-file``, ``--input-size``, ``--mean``, ``--std``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ModelSpec:
    """User-given facts about a model; ``None`` = not given (the file's own, or a default).

    ``arch`` is a torchvision name (``resnet18``) or ``timm/NAME``. A given value overrides
    what the file says only where the file says nothing; a contradiction is an error.
    """

    arch: str | None = None
    classes: tuple[str, ...] | None = None
    input_size: tuple[int, int] | None = None
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None

    def is_empty(self) -> bool:
        return all(value is None for value in
                   (self.arch, self.classes, self.input_size, self.mean, self.std))


def read_classes_file(path: str | os.PathLike[str]) -> tuple[str, ...]:
    """Class names from a text file (one a line, blank lines skipped) or, for a folder, the
    sub-folder names of an ImageFolder root in sorted order (torchvision's class order).
    Raises ValueError naming the file and the reason."""
    path = Path(path)
    if path.is_dir():
        names = sorted(entry.name for entry in path.iterdir()
                       if entry.is_dir() and not entry.name.startswith("."))
        if len(names) < 2:
            raise ValueError(f"{path}: an ImageFolder root needs at least two class folders, "
                             f"found {len(names)}")
        return tuple(names)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: unreadable classes file ({error})") from None
    names = [line.strip() for line in text.splitlines() if line.strip()]
    if len(names) < 2:
        raise ValueError(f"{path}: a classes file needs at least two names, one a line")
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: duplicate class names")
    return tuple(names)


def settle(path: Path, key: str, given: Any, from_file: Any) -> Any:
    """The value of ``key``: the file's, else the user's (``None`` when neither says it). A
    given value that contradicts the file is a ModelLoadError naming both."""
    if given is None or from_file is None:
        return from_file if given is None else given
    if _comparable(given) != _comparable(from_file):
        from leakview.models.checks import ModelLoadError  # torch-free import of spec

        raise ModelLoadError(path, f"the given {key} {_shown(given)} contradicts the file's "
                                   f"{_shown(from_file)}")
    return from_file


def _comparable(value: Any) -> Any:
    if isinstance(value, (list, tuple)):
        return tuple(_comparable(item) for item in value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return round(float(value), 6)
    return value


def _shown(value: Any) -> str:
    return repr(list(value)) if isinstance(value, tuple) else repr(value)
