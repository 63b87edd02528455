"""The PySide6 reference bug: a probe, the policy, and the start-up fallback.

**The bug** (found in PySide6 6.12.0 on Python 3.10 and 3.11; none of 6.6.0 to 6.11.3 has it):
every ``signal.emit(...)`` from Python returns ``True`` without owning a reference, and every
Python callable or ``QRunnable.run`` that C++ calls (``QThreadPool.start``,
``QTimer.singleShot``) drops a reference to its ``None`` result. Each call lowers the object's
reference count by one. On Python < 3.12 these are ordinary objects: after some 30,000 emits or
jobs (paging through ~850 images, or one "Analyze folder" of a large folder) a count reaches
zero and the interpreter aborts with "Fatal Python error: bool_dealloc" (or "none_dealloc").
Python 3.12+ makes ``True``, ``False`` and ``None`` immortal: no version is affected there.

**The policy.** leakview depends on ``PySide6-Essentials>=6.6,<6.12`` on Python < 3.12 (any
version from 6.6 on 3.12+). Nothing happens at import. :func:`guard_references` is the start-up
check, run once by :func:`leakview.gui.app.make_application`: it runs the probe
:func:`lost_references` and, only when the probe shows a loss (a PySide6 outside the range got
installed anyway) on a CPython < 3.12 *release* build whose reference count is the first field
of every object (checked), raises the counts of ``True``, ``False`` and ``None`` by 2**40, out
of reach of any session. Debug and trace-refs builds are never patched. It logs what it did
(a warning on the ``leakview.gui.pyside_fixes`` logger whenever a loss was found).
"""

from __future__ import annotations

import ctypes
import logging
import sys

_HEADROOM = 1 << 40
log = logging.getLogger(__name__)


def lost_references(probes: int = 64) -> dict[str, int]:
    """References lost by ``probes`` signal emits (``True``, ``False``) and ``probes`` Python
    callables run by a QThreadPool (``None``)."""
    from PySide6.QtCore import QObject, QThreadPool, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    true_before, false_before = sys.getrefcount(True), sys.getrefcount(False)
    for _ in range(probes):
        probe.ping.emit()
    lost = {"True": true_before - sys.getrefcount(True),
            "False": false_before - sys.getrefcount(False)}
    pool = QThreadPool()
    pool.setMaxThreadCount(1)
    none_before = sys.getrefcount(None)
    for _ in range(probes):
        pool.start(_nothing)
    pool.waitForDone()
    lost["None"] = none_before - sys.getrefcount(None)
    return lost


def _nothing() -> None:
    return None


def singletons_are_mortal() -> bool:
    """Whether ``True``, ``False`` and ``None`` can be freed by lost references: CPython < 3.12
    (other implementations do not count references the way the bug breaks)."""
    return sys.implementation.name == "cpython" and sys.version_info < (3, 12)


def patch_refused() -> str | None:
    """Why :func:`make_singletons_immortal` must not run on this interpreter, or None when it
    may: a release build of CPython < 3.12 whose ``ob_refcnt`` is at ``id(obj)``."""
    if not singletons_are_mortal():
        return f"{sys.implementation.name} {sys.version.split()[0]} is not CPython < 3.12"
    if hasattr(sys, "gettotalrefcount") or hasattr(sys, "getobjects"):
        return "this is a debug (or trace-refs) build of Python"
    stored = ctypes.c_ssize_t.from_address(id(None)).value
    if abs(stored - sys.getrefcount(None)) > 16:
        return "the reference count is not the first field of an object on this build"
    return None


def make_singletons_immortal() -> None:
    """Raise the reference counts of ``True``, ``False`` and ``None`` far out of reach (CPython
    < 3.12 release builds keep ``ob_refcnt`` as the first field of every object, at
    ``id(obj)``). Only :func:`guard_references` calls this, after :func:`patch_refused`."""
    for value in (True, False, None):
        ctypes.c_ssize_t.from_address(id(value)).value += _HEADROOM


def guard_references(probes: int = 64) -> str:
    """The start-up check: probe the installed PySide6 and, where it loses references and the
    interpreter allows it, apply the fallback. Runs once per process; returns (and logs) what
    it did, in one line."""
    global _outcome
    if _outcome is None:
        _outcome = _check_references(probes)
    return _outcome


_outcome: str | None = None


def _check_references(probes: int) -> str:
    if not singletons_are_mortal():
        return _note(logging.DEBUG, "PySide6 reference check not needed: True, False and None "
                                    "are immortal on this Python")
    if sys.getrefcount(None) > _HEADROOM // 2:
        return _note(logging.DEBUG, "PySide6 reference fallback already applied")
    lost = lost_references(probes)
    if max(lost.values()) < probes // 2:
        return _note(logging.DEBUG, f"PySide6 keeps its references ({probes} probes lost "
                                    f"{lost})")
    import PySide6

    found = (f"PySide6 {PySide6.__version__} on Python {sys.version.split()[0]} loses "
             f"references (lost in {probes} probes: {lost}); leakview needs "
             f"PySide6-Essentials<6.12 on Python < 3.12")
    refused = patch_refused()
    if refused is not None:
        return _note(logging.WARNING, f"{found}. Not patched ({refused}): a long session may "
                                      "abort with 'Fatal Python error: bool_dealloc'")
    make_singletons_immortal()
    return _note(logging.WARNING, f"{found}. Raised the reference counts of True, False and "
                                  "None by 2**40 so that this session cannot reach zero")


def _note(level: int, message: str) -> str:
    log.log(level, "%s", message)
    return message
