"""The one error shape for "this file cannot be used": the path and a human reason."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


class PathError(Exception):
    """A file leakview cannot use; ``.path`` is the file, ``.reason`` says why.

    ``str(error)`` is ``"<path>: <reason>"``. Picklable (worker processes send it back).
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = str(reason)
        super().__init__(self.path, self.reason)

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.reason))
