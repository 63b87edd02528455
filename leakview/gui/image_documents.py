"""The mask documents (with their undo history) of the images shown lately, and the ones of
the image on screen: per image one document per region kind (expected, suspect), sharing one
undo stack (one Ctrl+Z history per image), kept and dropped together.

Bounded, least recently shown first out, so paging through a 10,000-image folder keeps memory
flat; edits are autosaved as they happen, so a dropped document loses only its undo history,
and one whose newest state is not on disk yet (write queued or failed) is never dropped.

Imports (:meth:`ImageDocuments.record_import`) are undoable per image without a document per
image: the import copies every mask it replaces to a backup folder
(``<masks root>/.import-backups/<id>/``) and each image's change is kept as a small
:class:`ImportedChange` (two paths). A kept document gets its undo step at once; any other
image gets it when its document is made (shown), also after its document was dropped, until
that step is undone and forgotten. The backups and the changes go when the folder is closed.
"""

from __future__ import annotations

import shutil
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject

from leakview.gui.mask_doc import ImportedChange, MaskDocument, MaskStore
from leakview.gui.session_signals import SessionSignals
from leakview.masks import EXPECTED, SUSPECT, MaskError, find_mask, read_mask

# What a worker finds for an image of a given shape: its kept document, a mask (or None) and
# why the mask file was ignored ("" if it was not).
MaskLookup = Callable[[tuple[int, ...]], tuple[Any, str]]


class ImageDocuments:
    """Mask documents by image path (at most ``limit`` beyond the kept ones) and the current
    one, whose changes are re-emitted as ``signals.maskChanged`` and then ``changed()``; the
    suspect documents beside them (``current_suspect``: ``signals.suspectChanged``)."""

    def __init__(self, store: MaskStore, signals: SessionSignals, parent: QObject,
                 limit: int, changed: Callable[[], None]) -> None:
        self.store = store
        self.signals = signals
        self.parent = parent
        self.limit = limit
        self.current: MaskDocument | None = None
        self.current_suspect: MaskDocument | None = None
        self._changed = changed
        self._by_path: OrderedDict[Path, MaskDocument] = OrderedDict()
        self._suspects: dict[Path, MaskDocument] = {}
        self._imports: dict[Path, list[ImportedChange]] = {}
        self._backups: list[Path] = []

    def __len__(self) -> int:
        return len(self._by_path)

    def values(self) -> list[MaskDocument]:
        """The kept documents, least recently shown first."""
        return list(self._by_path.values())

    def kept_files(self) -> list[tuple[Path, tuple[int, int]]]:
        """Mask file and shape of every kept document, of both region kinds."""
        return [(document.mask_file, document.shape)
                for document in [*self._by_path.values(), *self._suspects.values()]]

    def current_of(self, kind: str) -> MaskDocument | None:
        """The ``kind`` region document of the image on screen."""
        return self.current if kind == EXPECTED else self.current_suspect

    def kept(self, path: Path, kind: str = EXPECTED) -> MaskDocument | None:
        """The kept ``kind`` document of ``path``, if any."""
        return (self._by_path if kind == EXPECTED else self._suspects).get(path)

    def lookup(self, path: Path, root: Path, masks_root: Path | None,
               mask_file: Path, kind: str = EXPECTED) -> MaskLookup:
        """What the ``kind`` region mask of ``path`` is, for a worker thread once the image is
        read: its kept document if the shape still fits, else a save still queued, else the
        mask file."""
        cached = self.kept(path, kind)
        store = self.store

        def find(shape: tuple[int, ...]) -> tuple[Any, str]:
            if cached is not None and cached.shape == shape:
                return cached, ""
            pending = store.pending(mask_file)
            if not store.is_absent(pending):
                return pending, ""
            mask, problem = find_mask(root, path, masks_root, shape, kind=kind)
            return mask, f"mask ignored: {problem.reason}" if problem else ""
        return find

    def show(self, path: Path, pixels: np.ndarray, mask: Any, mask_file: Path,
             image_root: Path, masks_root: Path | None, suspect: Any,
             suspect_file: Path) -> MaskDocument:
        """Make the documents of ``path`` (``mask`` / ``suspect``: its kept document, or the
        mask to start from) the current ones; returns the expected one."""
        if isinstance(mask, MaskDocument):
            document = mask
        else:
            self._drop_suspect(path)     # a new history: the old suspect document goes too
            document = MaskDocument(path, mask_file, pixels.shape[:2], mask, self.store,
                                    self.parent, image_root=image_root, masks_root=masks_root)
            document.problem.connect(self.signals.message.emit)
            self._by_path[path] = document
            self._replay_imports(document)
        kept_suspect = self._suspects.get(path)
        if kept_suspect is not None and kept_suspect.stack is document.stack:
            suspect_document = kept_suspect     # the image's history goes on
        else:
            self._drop_suspect(path)
            start = suspect.mask if isinstance(suspect, MaskDocument) else suspect
            suspect_document = MaskDocument(
                path, suspect_file, pixels.shape[:2], start, self.store, self.parent,
                image_root=image_root, masks_root=masks_root, kind=SUSPECT,
                stack=document.stack)
            suspect_document.problem.connect(self.signals.message.emit)
            self._suspects[path] = suspect_document
            self._replay_imports(suspect_document)
        self._by_path.move_to_end(path)
        self._evict(keep=document)
        if self.current is not None:
            self.current.changed.disconnect(self._current_changed)
        if self.current_suspect is not None:
            self.current_suspect.changed.disconnect(self._suspect_changed)
        self.current = document
        self.current_suspect = suspect_document
        document.changed.connect(self._current_changed)
        suspect_document.changed.connect(self._suspect_changed)
        return document

    def clear(self) -> None:
        """Forget every document and import (a folder was opened); the imports' backups go."""
        if self.current is not None:
            self.current.changed.disconnect(self._current_changed)
        if self.current_suspect is not None:
            self.current_suspect.changed.disconnect(self._suspect_changed)
        for document in [*self._suspects.values(), *self._by_path.values()]:
            document.deleteLater()
        self._by_path.clear()
        self._suspects.clear()
        self.current = self.current_suspect = None
        self._imports.clear()
        for folder in self._backups:
            shutil.rmtree(folder, ignore_errors=True)
        self._backups.clear()

    def record_import(self, changes: Mapping[Path, list[ImportedChange]],
                      masks: Mapping[Path, np.ndarray | None], backups: Path) -> None:
        """An import wrote the region files of ``changes`` (by image path, one change per
        region kind; ``backups``: the folder of the files it replaced). A kept document of a
        changed file shows its new mask (``masks`` by mask file, read off the GUI thread, or
        read here) as an undo step; the others get theirs when they are made."""
        self._backups.append(backups)
        for path, image_changes in changes.items():
            self._imports.setdefault(path, []).extend(image_changes)
            for kind in (EXPECTED, SUSPECT):
                document = self.kept(path, kind)
                change = next((change for change in image_changes if document is not None
                               and change.mask_file == document.mask_file), None)
                if document is None or change is None:
                    continue
                if change.mask_file in masks:
                    mask = masks[change.mask_file]
                else:
                    try:
                        mask = read_mask(change.mask_file, document.shape)
                    except MaskError as error:
                        self.signals.message.emit(f"{path.name}: mask ignored: {error.reason}")
                        self._drop(path)
                        break
                if mask is None or mask.shape != document.shape:
                    self._drop(path)         # made again from the files when shown
                    break
                document.imported([change], mask)

    def _replay_imports(self, document: MaskDocument) -> None:
        """A new document of an image an import changed: one undo step per import not undone
        (an undone one is forgotten: a new document has no redo)."""
        changes = self._imports.get(document.image_path)
        if not changes:
            return
        live = [change for change in changes if not change.undone]
        if live:
            self._imports[document.image_path] = live
        else:
            del self._imports[document.image_path]
        mine = [change for change in live if change.mask_file == document.mask_file]
        if mine:
            document.imported(mine, document.mask)

    def _drop(self, path: Path) -> None:
        document = self._by_path.get(path)
        if document is not None and document is not self.current:
            del self._by_path[path]
            self._drop_suspect(path)
            document.deleteLater()

    def _drop_suspect(self, path: Path) -> None:
        suspect = self._suspects.pop(path, None)
        if suspect is not None:
            if suspect is self.current_suspect:
                suspect.changed.disconnect(self._suspect_changed)
                self.current_suspect = None
            suspect.deleteLater()

    def _unsaved(self, path: Path) -> bool:
        """Whether a region of ``path`` has an edit not on disk yet."""
        return any(document is not None and document.unsaved()
                   for document in (self._by_path.get(path), self._suspects.get(path)))

    def _evict(self, keep: MaskDocument) -> None:
        excess = len(self._by_path) - self.limit
        if excess <= 0:
            return
        for path in list(self._by_path):
            if excess <= 0:
                break
            document = self._by_path[path]
            if document is keep or document is self.current or self._unsaved(path):
                continue
            del self._by_path[path]
            self._drop_suspect(path)
            document.deleteLater()
            excess -= 1

    def _current_changed(self) -> None:
        self.signals.maskChanged.emit(self.current)
        self._changed()

    def _suspect_changed(self) -> None:
        self.signals.suspectChanged.emit(self.current_suspect)
        self._changed()
