"""The mask documents (with their undo history) of the images shown lately, and the one of
the image on screen.

Bounded, least recently shown first out, so paging through a 10,000-image folder keeps memory
flat; edits are autosaved as they happen, so a dropped document loses only its undo history,
and one whose newest state is not on disk yet (write queued or failed) is never dropped.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject

from leakview.gui.mask_doc import MaskDocument, MaskStore
from leakview.gui.session_signals import SessionSignals
from leakview.masks import MaskError, find_mask, read_mask

# What a worker finds for an image of a given shape: its kept document, a mask (or None) and
# why the mask file was ignored ("" if it was not).
MaskLookup = Callable[[tuple[int, ...]], tuple[Any, str]]


class ImageDocuments:
    """Mask documents by image path (at most ``limit`` beyond the kept ones) and the current
    one, whose changes are re-emitted as ``signals.maskChanged`` and then ``changed()``."""

    def __init__(self, store: MaskStore, signals: SessionSignals, parent: QObject,
                 limit: int, changed: Callable[[], None]) -> None:
        self.store = store
        self.signals = signals
        self.parent = parent
        self.limit = limit
        self.current: MaskDocument | None = None
        self._changed = changed
        self._by_path: OrderedDict[Path, MaskDocument] = OrderedDict()

    def __len__(self) -> int:
        return len(self._by_path)

    def values(self) -> list[MaskDocument]:
        """The kept documents, least recently shown first."""
        return list(self._by_path.values())

    def lookup(self, path: Path, root: Path, masks_root: Path | None,
               mask_file: Path) -> MaskLookup:
        """What the mask of ``path`` is, for a worker thread once the image is read: its kept
        document if the shape still fits, else a save still queued, else the mask file."""
        cached = self._by_path.get(path)
        store = self.store

        def find(shape: tuple[int, ...]) -> tuple[Any, str]:
            if cached is not None and cached.shape == shape:
                return cached, ""
            pending = store.pending(mask_file)
            if not store.is_absent(pending):
                return pending, ""
            mask, problem = find_mask(root, path, masks_root, shape)
            return mask, f"mask ignored: {problem.reason}" if problem else ""
        return find

    def show(self, path: Path, pixels: np.ndarray, mask: Any, mask_file: Path,
             image_root: Path, masks_root: Path | None) -> MaskDocument:
        """Make the document of ``path`` (``mask``: its kept document, or the mask to start
        from) the current one."""
        if isinstance(mask, MaskDocument):
            document = mask
        else:
            document = MaskDocument(path, mask_file, pixels.shape[:2], mask, self.store,
                                    self.parent, image_root=image_root, masks_root=masks_root)
            self._by_path[path] = document
        self._by_path.move_to_end(path)
        self._evict(keep=document)
        if self.current is not None:
            self.current.changed.disconnect(self._current_changed)
        self.current = document
        document.changed.connect(self._current_changed)
        return document

    def clear(self) -> None:
        """Forget every document (a folder was opened)."""
        if self.current is not None:
            self.current.changed.disconnect(self._current_changed)
        for document in self._by_path.values():
            document.deleteLater()
        self._by_path.clear()
        self.current = None

    def forget_others(self) -> None:
        """Drop the documents of the other images (after an import wrote new files); the
        current image takes the file's mask as one undoable step."""
        for path in list(self._by_path):
            if self._by_path[path] is not self.current:
                self._by_path.pop(path).deleteLater()
        document = self.current
        if document is None:
            return
        try:
            mask = read_mask(document.mask_file, document.shape) \
                if document.mask_file.is_file() else None
        except MaskError as error:
            self.signals.message.emit(f"{document.image_path.name}: mask ignored: {error.reason}")
            return
        if mask is not None:
            document.edit(mask, "Import masks")

    def _evict(self, keep: MaskDocument) -> None:
        excess = len(self._by_path) - self.limit
        if excess <= 0:
            return
        for path in list(self._by_path):
            if excess <= 0:
                break
            document = self._by_path[path]
            if document is keep or document is self.current or document.unsaved():
                continue
            del self._by_path[path]
            document.deleteLater()
            excess -= 1

    def _current_changed(self) -> None:
        self.signals.maskChanged.emit(self.current)
        self._changed()
