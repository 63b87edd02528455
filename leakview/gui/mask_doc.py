"""The region masks of one image being edited: undoable edits and atomic autosave.

:class:`MaskDocument` holds one region kind's current mask (``None`` = no mask file; ``kind``:
``layout.EXPECTED``, the expected region, or ``layout.SUSPECT``) and a ``QUndoStack`` (an
image's suspect document shares its expected document's stack: one Ctrl+Z history per image);
every edit is a :class:`MaskEdit` command (pushed = applied), so undo/redo covers drawing,
erasing, clearing and imports alike. Each change is written by :class:`MaskStore` with
``masks.write_mask`` to ``masks.mask_path`` (atomic temp file + rename) on the ``masks`` lane,
in order; until a write lands, :meth:`MaskStore.pending` answers with the newest mask so that
revisiting an image never shows an older file. "No mask" is no file: clearing, erasing every
pixel or undoing back to "no mask" removes it (and the Mask column's tick).

An import writes the files itself (``masks.import_masks``); each image's change is an
:class:`ImportStep` on that image's stack, pushed already applied and undone from the backup
of the mask the import replaced (:class:`ImportedChange`; see ``image_documents``).

Before each write or removal the destination is checked with ``masks.check_mask_destination``:
a ``.leakview`` (or masks-root sub-folder) that symbolic links lead out of the image root (or
the chosen masks root) is refused, the store emits :attr:`MaskStore.failed` with the reason
(the window shows it), and the mask stays pending in memory -- shown again on revisit, never
lost in the session -- instead of being written elsewhere.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from leakview.gui.workers import JobRunner
from leakview.masks import EXPECTED, MaskError, check_mask_destination, read_mask, write_mask
from leakview.masks.shapes import LiveShape

UNDO_LIMIT = 100
_ABSENT = object()


class MaskStore(QObject):
    """Ordered, coalesced, atomic mask writes off the GUI thread."""

    saved = Signal(str)          # mask file written (or removed)
    failed = Signal(str, str)    # mask file, reason

    def __init__(self, runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self._lock = threading.Lock()
        self._pending: dict[Path, np.ndarray | None] = {}
        self._roots: dict[Path, tuple[Path, Path | None]] = {}

    def pending(self, mask_file: Path) -> object:
        """The newest unsaved mask for ``mask_file`` (``None`` = to be removed), or
        :data:`_ABSENT` when nothing is waiting."""
        with self._lock:
            return self._pending.get(Path(mask_file), _ABSENT)

    @staticmethod
    def is_absent(value: object) -> bool:
        return value is _ABSENT

    def has_pending(self, mask_file: Path) -> bool:
        """True while an edit of ``mask_file`` is not on disk (queued, or its write failed)."""
        with self._lock:
            return Path(mask_file) in self._pending

    def save(self, mask_file: Path, mask: np.ndarray | None, image_root: Path | None = None,
             masks_root: Path | None = None) -> None:
        """Queue the write (``None``: removal) of ``mask_file``; with ``image_root`` the
        destination is checked against symbolic links out of the roots first."""
        mask_file = Path(mask_file)
        snapshot = None if mask is None else np.array(mask, dtype=bool, copy=True)
        with self._lock:
            self._pending[mask_file] = snapshot
            if image_root is not None:
                self._roots[mask_file] = (Path(image_root),
                                          None if masks_root is None else Path(masks_root))
        self.runner.run(lambda ctx: self._write(mask_file), f"Saving {mask_file.name}",
                        lane="masks", on_error=lambda reason: self.failed.emit(
                            str(mask_file), reason),
                        on_done=lambda _: self.saved.emit(str(mask_file)))

    def _write(self, mask_file: Path) -> None:  # masks lane
        with self._lock:
            if mask_file not in self._pending:
                return  # an earlier job already wrote the newest state
            mask = self._pending[mask_file]
            roots = self._roots.get(mask_file)
        if roots is not None:
            try:
                check_mask_destination(mask_file, *roots)
            except MaskError as error:
                raise RuntimeError(error.reason) from None
        if mask is None:
            mask_file.unlink(missing_ok=True)
        else:
            write_mask(mask_file, mask)
        with self._lock:
            if self._pending.get(mask_file, _ABSENT) is mask:
                del self._pending[mask_file]
                self._roots.pop(mask_file, None)

    def flush(self) -> None:
        """Block until every edit made so far is on disk."""
        self.runner.wait("masks")


Packed = tuple[tuple[int, ...], np.ndarray]
MaskSource = Packed | Path | None
"""A mask a command restores: bit-packed in memory, a backup file read when needed (the masks
an import replaced), or ``None`` (no mask file)."""


def _pack(mask: np.ndarray | None) -> Packed | None:
    if mask is None:
        return None
    return (mask.shape, np.packbits(mask, axis=None))


def _unpack(packed: Packed) -> np.ndarray:
    shape, bits = packed
    return np.unpackbits(bits, count=int(np.prod(shape))).astype(bool).reshape(shape)


def _source(mask: np.ndarray | Path | None) -> MaskSource:
    return mask if mask is None or isinstance(mask, Path) else _pack(mask)


@dataclass(eq=False)
class ImportedChange:
    """An import's change of one image's mask file: ``backup`` holds the mask it replaced
    (``None``: the image had none); ``undone`` while that change is undone."""

    mask_file: Path
    backup: Path | None
    text: str = "Import masks"
    undone: bool = False


class MaskEdit(QUndoCommand):
    """Replace the document's mask (before/after kept bit-packed, or as backup files).
    ``applied``: the document already shows ``after`` (the first redo does nothing)."""

    def __init__(self, document: MaskDocument, before: np.ndarray | Path | None,
                 after: np.ndarray | Path | None, text: str, applied: bool = False) -> None:
        super().__init__(text)
        self.document = document
        self._before = _source(before)
        self._after = _source(after)
        self._applied = applied

    def redo(self) -> None:
        if self._applied:
            self._applied = False
            return
        self.document._restore(self._after)

    def undo(self) -> None:
        self.document._restore(self._before)


class ImportStep(MaskEdit):
    """An import's change of the document's mask, undone from the import's backup."""

    def __init__(self, document: MaskDocument, change: ImportedChange,
                 after: np.ndarray | Path | None) -> None:
        super().__init__(document, change.backup, after, change.text, applied=True)
        self.change = change

    def redo(self) -> None:
        super().redo()
        self.change.undone = False

    def undo(self) -> None:
        super().undo()
        self.change.undone = True


class MaskDocument(QObject):
    """One image's mask of one region ``kind``, its undo history and its autosave
    (``stack``: another document's undo stack to share, else its own)."""

    changed = Signal()
    problem = Signal(str)   # a message for the window (a backup that cannot be read)

    def __init__(self, image_path: Path, mask_file: Path, shape: tuple[int, int],
                 mask: np.ndarray | None, store: MaskStore,
                 parent: QObject | None = None, image_root: Path | None = None,
                 masks_root: Path | None = None, kind: str = EXPECTED,
                 stack: QUndoStack | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.image_path = Path(image_path)
        self.mask_file = Path(mask_file)
        self.image_root = None if image_root is None else Path(image_root)
        self.masks_root = None if masks_root is None else Path(masks_root)
        self.shape = (int(shape[0]), int(shape[1]))
        self.store = store
        self._mask = None if mask is None else np.asarray(mask, dtype=bool)
        if stack is None:
            stack = QUndoStack(self)
            stack.setUndoLimit(UNDO_LIMIT)
        self.stack = stack
        self.live_shape: LiveShape | None = None
        """The shape being edited over the mask (``gui.shape_edit``): the mask shows it, its
        undo steps set it; None once committed (or the mask changed under it)."""

    def unsaved(self) -> bool:
        """True while this mask's newest state is not on disk (write queued or failed)."""
        return self.store.has_pending(self.mask_file)

    @property
    def mask(self) -> np.ndarray | None:
        """The current mask (``None`` when the image has no mask file)."""
        return self._mask

    def mask_or_empty(self) -> np.ndarray:
        return self._mask if self._mask is not None else np.zeros(self.shape, dtype=bool)

    def edit(self, new_mask: np.ndarray | None, text: str) -> bool:
        """Apply ``new_mask`` as one undoable step; False when nothing changes. A mask with
        no pixel left is no mask: its file is removed."""
        if new_mask is not None:
            new_mask = np.asarray(new_mask, dtype=bool)
            if new_mask.shape != self.shape:
                raise ValueError(f"mask shape {new_mask.shape} != image shape {self.shape}")
            if not new_mask.any():
                new_mask = None
        old = self._mask
        if (old is None and new_mask is None) or (
                old is not None and new_mask is not None and np.array_equal(old, new_mask)):
            return False
        self.live_shape = None      # a plain edit commits the shape being edited
        if self.kind != EXPECTED:
            text = f"{text} ({self.kind})"     # Edit > Undo names the region it undoes
        self.stack.push(MaskEdit(self, old, new_mask, text))
        return True

    def add(self, region: np.ndarray, text: str) -> bool:
        return self.edit(self.mask_or_empty() | region, text)

    def subtract(self, region: np.ndarray, text: str) -> bool:
        return self.edit(self.mask_or_empty() & ~region, text)

    def clear(self) -> bool:
        """Remove the mask (its file goes; undo brings both back)."""
        return self.edit(None, "Clear mask")

    def imported(self, changes: list[ImportedChange], mask: np.ndarray | None) -> None:
        """The file now holds ``mask``, written by the imports ``changes`` (oldest first)
        over this document's mask: show it, with one undo step per import, each undone
        from its backup (nothing is written now: the imports did)."""
        afters: list[np.ndarray | Path | None] = [change.backup for change in changes[1:]]
        for change, after in zip(changes, [*afters, mask], strict=True):
            self.stack.push(ImportStep(self, change, after))
        self.live_shape = None      # the import replaced the mask the shape was drawn on
        self._mask = mask
        self.changed.emit()

    def _restore(self, source: MaskSource) -> None:
        if isinstance(source, Path):
            try:
                mask: np.ndarray | None = read_mask(source, self.shape)
            except MaskError as error:
                self.problem.emit(f"{self.image_path.name}: cannot undo the import: "
                                  f"{error.reason}")
                return
        else:
            mask = None if source is None else _unpack(source)
        self._apply(mask)

    def _apply(self, mask: np.ndarray | None) -> None:
        self._mask = mask
        self.store.save(self.mask_file, mask, self.image_root, self.masks_root)
        self.changed.emit()
