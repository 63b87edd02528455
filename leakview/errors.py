"""The one error shape for "this file cannot be used": the path and a human reason."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

_TORCHSCRIPT_TRACE = "Traceback of TorchScript"
_TORCHSCRIPT_PREAMBLE = "The following operation failed in the TorchScript interpreter."
_RAISED = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Interrupt|Exit): ")
MAX_REASON = 500
"""Characters of a reason kept (the rest is cut with an ellipsis)."""


def one_line(text: str) -> str:
    """``text`` as one line. A TorchScript interpreter's error carries two tracebacks (the
    serialised code and the original source, dozens of lines): they give way to the error
    raised inside (their last ``SomeError: ...`` line). Other lines are joined with spaces;
    beyond :data:`MAX_REASON` characters the text is cut."""
    lines = str(text).splitlines()
    starts = [number for number, line in enumerate(lines) if line.startswith(_TORCHSCRIPT_TRACE)]
    if starts:
        raised = [number for number, line in enumerate(lines)
                  if number > starts[0] and _RAISED.match(line)]
        if raised:
            lines = lines[:starts[0]] + lines[raised[-1]:]
    joined = " ".join(" ".join(line.replace(_TORCHSCRIPT_PREAMBLE, "").split())
                      for line in lines if line.strip())
    joined = " ".join(joined.split())
    return joined if len(joined) <= MAX_REASON else joined[:MAX_REASON - 1].rstrip() + "\u2026"


def exception_reason(error: BaseException) -> str:
    """One line for an exception raised by code leakview does not control (a model's forward,
    a decoder): ``TypeName: message`` (:func:`one_line`), the message alone when it already
    names its type (a TorchScript error names the one raised inside), the type alone when
    the message is empty."""
    message = one_line(str(error))
    if not message:
        return type(error).__name__
    if _RAISED.match(message):
        return message
    return f"{type(error).__name__}: {message}"


class PathError(Exception):
    """A file leakview cannot use; ``.path`` is the file, ``.reason`` says why.

    ``str(error)`` is ``"<path>: <reason>"``, always one line (the reason goes through
    :func:`one_line`). Picklable (worker processes send it back).
    """

    def __init__(self, path: str | os.PathLike[str], reason: str) -> None:
        self.path = Path(path)
        self.reason = one_line(str(reason))
        super().__init__(self.path, self.reason)

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.reason))
