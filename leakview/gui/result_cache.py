"""A bounded cache of computed results (predictions, attribution maps): least recently used
first out, once over a byte budget or an entry count."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from typing import Any

import numpy as np


def result_nbytes(value: Any) -> int:
    """Approximate memory of a cached result: its arrays (an Attribution's maps and extras)."""
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    total = 0
    for part in (getattr(value, "map", None), getattr(value, "map_model", None),
                 *getattr(value, "extras", {}).values()):
        if isinstance(part, np.ndarray):
            total += int(part.nbytes)
    return total


class ResultCache:
    """Results by key, at most ``max_bytes`` (approximately) and ``max_entries``; the newest
    entry is always kept, however large."""

    ENTRY_OVERHEAD = 256    # the key, the entry and the object around the arrays

    def __init__(self, max_bytes: int, max_entries: int) -> None:
        self.max_bytes = max_bytes
        self.max_entries = max_entries
        self.nbytes = 0
        self._entries: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def remember(self, key: Hashable, value: Any) -> None:
        """Store ``value``, dropping the least recently used entries beyond the bounds."""
        size = result_nbytes(value) + self.ENTRY_OVERHEAD
        if key in self._entries:
            self.nbytes -= self._entries.pop(key)[1]
        self._entries[key] = (value, size)
        self.nbytes += size
        while (self.nbytes > self.max_bytes or len(self._entries) > self.max_entries) \
                and len(self._entries) > 1:
            _, (_, dropped) = self._entries.popitem(last=False)
            self.nbytes -= dropped

    def clear(self) -> None:
        """Forget every result (another folder was opened)."""
        self._entries.clear()
        self.nbytes = 0

    def recall(self, key: Hashable) -> Any:
        """The value stored under ``key`` (now the most recently used), or None."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry[0]
