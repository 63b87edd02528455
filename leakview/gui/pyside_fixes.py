"""Workarounds for bugs of the installed PySide6, applied when ``leakview.gui`` is imported.

**SignalInstance.emit drops a reference to ``True``** (seen with PySide6 6.12.0 on Python
3.11): every ``signal.emit(...)`` from Python returns ``True`` without owning a reference, so
each call lowers ``True``'s reference count by one. On Python < 3.12 ``True`` is an ordinary
object: after some 30,000 emits (paging through ~850 images, or one "Analyze folder" of a
large folder) the count reaches zero and the interpreter aborts with "Fatal Python error:
bool_dealloc". Python 3.12+ makes ``True``/``False`` immortal, and so do we here: when a probe
shows the leak, their reference counts are raised by 2**40, out of reach of any session.
"""

from __future__ import annotations

import ctypes
import sys

_HEADROOM = 1 << 40


def emit_drops_bool_references(probes: int = 64) -> bool:
    """True when emitting a signal from Python lowers ``True``'s (or ``False``'s) refcount."""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        ping = Signal()

    probe = _Probe()
    true_before, false_before = sys.getrefcount(True), sys.getrefcount(False)
    for _ in range(probes):
        probe.ping.emit()
    lost = max(true_before - sys.getrefcount(True), false_before - sys.getrefcount(False))
    return lost >= probes // 2


def make_bools_immortal() -> None:
    """Raise the reference counts of ``True`` and ``False`` far out of reach (CPython < 3.12
    keeps ``ob_refcnt`` as the first field of every object, at ``id(obj)``)."""
    for value in (True, False):
        ctypes.c_ssize_t.from_address(id(value)).value += _HEADROOM


def apply() -> bool:
    """Apply the workarounds this PySide6 needs; returns True when one was applied."""
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if sys.getrefcount(True) > _HEADROOM // 2 or not emit_drops_bool_references():
        return False
    make_bools_immortal()
    return True
