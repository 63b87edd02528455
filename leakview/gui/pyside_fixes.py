"""Workarounds for bugs of the installed PySide6, applied when ``leakview.gui`` is imported.

**Lost references to True and None** (seen with PySide6 6.12.0 on Python 3.11): every
``signal.emit(...)`` from Python returns ``True`` without owning a reference, and every Python
callable or ``QRunnable.run`` that C++ calls (``QThreadPool.start``, ``QTimer.singleShot``)
drops a reference to its ``None`` result. Each call lowers the object's reference count by one.
On Python < 3.12 these are ordinary objects: after some 30,000 emits or jobs (paging through
~850 images, or one "Analyze folder" of a large folder) a count reaches zero and the
interpreter aborts with "Fatal Python error: bool_dealloc" (or "none_dealloc"). Python 3.12+
makes ``True``, ``False`` and ``None`` immortal, and so do we here: when a probe shows the
loss, their reference counts are raised by 2**40, out of reach of any session.
"""

from __future__ import annotations

import ctypes
import sys

_HEADROOM = 1 << 40


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


def make_singletons_immortal() -> None:
    """Raise the reference counts of ``True``, ``False`` and ``None`` far out of reach (CPython
    < 3.12 keeps ``ob_refcnt`` as the first field of every object, at ``id(obj)``)."""
    for value in (True, False, None):
        ctypes.c_ssize_t.from_address(id(value)).value += _HEADROOM


def apply(probes: int = 64) -> bool:
    """Apply the workarounds this PySide6 needs; returns True when one was applied."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if sys.getrefcount(None) > _HEADROOM // 2:
        return False                                   # already applied
    if max(lost_references(probes).values()) < probes // 2:
        return False
    make_singletons_immortal()
    return True
