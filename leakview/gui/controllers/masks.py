"""The regions: the document being drawn (the image's region of the state's ``region_kind``),
the drawing tools, the hover read-out and File > Import masks (LabelMe / COCO, written by
``masks.import_masks``; when images it covers already have a mask the user chooses overwrite /
skip / merge, and each image's change is one undo step there, undone from the import's
backups)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from uuid import uuid4

import numpy as np
from PySide6.QtGui import QAction, QActionGroup, QUndoGroup
from PySide6.QtWidgets import QFileDialog, QInputDialog, QLabel, QMessageBox, QWidget

from leakview.appstate import AppState
from leakview.gui.actions import Handlers, tool_action
from leakview.gui.drawing import TOOL_HINTS, TOOL_LABELS, DrawingController, Tool
from leakview.gui.image_list import ImageList
from leakview.gui.image_view import ImageCanvas
from leakview.gui.mask_doc import ImportedChange, MaskDocument, MaskStore
from leakview.gui.results_panel import ResultsPanel
from leakview.gui.session import Session
from leakview.gui.status import Notify, StatusPanel
from leakview.gui.workers import Job, JobRunner
from leakview.masks import (
    EXPECTED,
    IMPORT_BACKUPS,
    SUSPECT,
    ImportPlan,
    ImportReport,
    MaskError,
    default_masks_root,
    import_masks,
    plan_import,
    read_mask,
    region_path,
)


@dataclass(eq=False, repr=False)
class MaskController:
    """Keeps the drawing tools on the current image's mask document (and its undo stack)."""

    state: AppState
    session: Session
    store: MaskStore
    runner: JobRunner
    drawing: DrawingController
    canvas: ImageCanvas
    undo_group: QUndoGroup
    image_list: ImageList
    results: ResultsPanel
    status: StatusPanel
    hover_label: QLabel
    tool_actions: Mapping[Tool, QAction]
    notify: Notify
    parent: QWidget

    tool_group: QActionGroup = field(init=False)
    """The tool actions: one is checked, the active tool."""

    def __post_init__(self) -> None:
        self.tool_group = QActionGroup(self.parent)
        for action in self.tool_actions.values():
            self.tool_group.addAction(action)
        self.tool_actions[Tool.PAN].setChecked(True)
        self.session.maskChanged.connect(self.show_document)
        self.session.suspectChanged.connect(self.show_suspect)
        self.state.events.region_kind.connect(self.follow_kind)
        self.drawing.toolChanged.connect(self._tool_changed)
        self.drawing.radiusChanged.connect(
            lambda radius: self.status.set_extra(f"Brush radius {radius:.0f} px"))
        self.canvas.hovered.connect(self._hovered)

    def handlers(self) -> Handlers:
        tools = {tool_action(tool): _picker(self.drawing, tool) for tool in self.tool_actions}
        return {**tools, "brush_smaller": self.drawing.shrink,
                "brush_bigger": self.drawing.grow, "clear_mask": self.drawing.clear_mask,
                "import_masks": self.choose_import}

    # -- the document ----------------------------------------------------------------------
    def show_document(self, document: MaskDocument) -> None:
        """Show ``document`` (the image's expected region); draw on it while the expected
        region is the kind drawn, with the image's undo stack active."""
        self.follow_kind()
        self.canvas.set_mask(document.mask)
        self.image_list.model.mark_mask(document.image_path, document.mask is not None)
        self.results.show_region(document.mask is not None and bool(document.mask.any()))

    def show_suspect(self, document: MaskDocument | None) -> None:
        """Show the image's suspect region (``document``)."""
        self.follow_kind()
        self.canvas.set_mask(document.mask if document is not None else None, SUSPECT)

    def follow_kind(self) -> None:
        """The drawing tools edit the image's region of the state's ``region_kind``."""
        document = self.session.documents.current_of(self.state.region_kind)
        if document is None or self.drawing.document is document:
            return
        self.drawing.set_document(document)
        if document.stack not in self.undo_group.stacks():
            self.undo_group.addStack(document.stack)
        self.undo_group.setActiveStack(document.stack)

    def detach(self) -> None:
        """No document to draw on (no image, or it failed to load)."""
        self.undo_group.setActiveStack(None)  # type: ignore[arg-type]  (None: no stack)
        self.drawing.set_document(None)

    # -- tools and hover -------------------------------------------------------------------
    def _tool_changed(self, name: str) -> None:
        tool = Tool(name)
        self.tool_actions[tool].setChecked(True)
        region = "" if self.state.region_kind == EXPECTED else f" ({self.state.region_kind})"
        self.status.set_extra(f"{TOOL_LABELS[tool]}{region}: {TOOL_HINTS[tool]}; Space + drag "
                              "pans")

    def _hovered(self, x: float, y: float) -> None:
        shape = self.canvas.shape
        column, row = int(round(x)), int(round(y))
        if shape is None or not (0 <= row < shape[0] and 0 <= column < shape[1]):
            self.hover_label.setText("")
            return
        where = [text for document, text in ((self.session.document, "in region"),
                                             (self.session.suspect_document, "in suspect region"))
                 if document is not None and document.mask is not None
                 and document.mask.shape == shape and bool(document.mask[row, column])]
        self.hover_label.setText("  · ".join([f"x {column}  y {row}", *where]))

    # -- import ----------------------------------------------------------------------------
    def import_masks_from(self, source: str | Path, fmt: str,
                          existing: str | None = None) -> Job | None:
        """Import LabelMe (``fmt="labelme"``) or COCO annotations into the folder's masks.

        When images the annotations cover already have a mask, ``existing`` says what to do
        with them (``"overwrite"``, ``"skip"``, ``"merge"``); None asks once, naming how
        many. Each image's change is one undo step on that image (see ``ImageDocuments``)."""
        root, masks_root = self.state.root, self.state.masks_root
        if root is None:
            self.notify("Open a folder first", "warning")
            return None
        if existing is not None:
            return self._import(source, fmt, existing)
        self.store.flush()

        def planned(plan: ImportPlan) -> None:
            if (self.state.root, self.state.masks_root) != (root, masks_root):
                self.notify("Import cancelled: another folder was opened meanwhile", "info")
                return
            if not plan.existing:
                self._import(source, fmt, "skip")   # nothing to replace (keep a new drawing)
            else:
                self.ask_existing(plan, lambda policy: self._import(source, fmt, policy))

        return self.runner.run(lambda ctx: plan_import(source, fmt, root, masks_root),
                               f"Reading {fmt} annotations", lane="io", visible=True,
                               cancellable=False, on_done=planned,
                               on_error=lambda reason: self.notify(
                                   f"Import failed: {reason}", "error"))

    def ask_existing(self, plan: ImportPlan, then: Callable[[str], None]) -> QMessageBox:
        """Ask (window-modal) what to do with the images that already have a mask; ``then``
        gets ``"overwrite"``, ``"skip"`` or ``"merge"`` (nothing on Cancel)."""
        count = len(plan.existing)
        plan_root = self.state.root
        box = QMessageBox(QMessageBox.Icon.Question, "Import masks",
                          existing_question(count, len(plan.covered)), parent=self.parent)
        box.setInformativeText(
            "Overwrite replaces their masks with the imported ones; Skip keeps them and "
            "imports only the other images; Merge adds the imported region to theirs. Ctrl+Z "
            "on an image undoes its import.")
        box.setDetailedText("\n".join(plan.existing[:1000])
                            + (f"\n... and {count - 1000} more" if count > 1000 else ""))
        choices = {box.addButton("Overwrite", QMessageBox.ButtonRole.DestructiveRole):
                   "overwrite",
                   box.addButton("Skip images that have a mask",
                                 QMessageBox.ButtonRole.AcceptRole): "skip",
                   box.addButton("Merge (union)", QMessageBox.ButtonRole.AcceptRole): "merge"}
        cancel = box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(next(b for b, policy in choices.items() if policy == "skip"))
        box.setEscapeButton(cancel)

        def answered() -> None:
            policy = choices.get(box.clickedButton())
            box.deleteLater()
            if policy is not None and self.state.root != plan_root:
                self.notify("Import cancelled: another folder was opened meanwhile", "info")
            elif policy is None:
                self.notify("Import cancelled: no mask was written", "info")
            else:
                then(policy)
        box.finished.connect(answered)
        box.open()
        return box

    def _import(self, source: str | Path, fmt: str, existing: str) -> Job | None:
        root, masks_root = self.state.root, self.state.masks_root
        if root is None:
            return None
        self.store.flush()
        base = Path(masks_root) if masks_root is not None else default_masks_root(root)
        backups = base / IMPORT_BACKUPS / f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid4().hex[:8]}"
        kept = self.session.documents.kept_files()

        def work(ctx) -> tuple[ImportReport, dict[Path, np.ndarray | None]]:
            report = import_masks(source, fmt, root, masks_root, existing=existing,
                                  backup_dir=backups,
                                  progress=lambda done, total: ctx.progress(done, total))
            written = {region_path(root, relative, kind, masks_root)
                       for relative, kinds in report.written_kinds.items() for kind in kinds}
            masks: dict[Path, np.ndarray | None] = {}
            for mask_file, shape in kept:   # shown again at once
                if mask_file in written:
                    try:
                        masks[mask_file] = read_mask(mask_file, shape)
                    except MaskError:
                        pass            # read again on the GUI thread, which says why
            return report, masks

        def done(result: tuple[ImportReport, dict[Path, np.ndarray | None]]) -> None:
            report, masks = result
            if self.state.root != root:     # written into the folder it was asked for; the
                return                      # undo steps belonged to that folder's documents
            changes = {root / relative: [ImportedChange(
                region_path(root, relative, kind, masks_root),
                region_path(root, relative, kind, backups)
                if kind in report.replaced_kinds.get(relative, ()) else None,
                f"Import {fmt} masks") for kind in kinds]
                for relative, kinds in report.written_kinds.items()}
            self.session.documents.record_import(changes, masks, backups)
            self.image_list.model.refresh_masks()
            level = "warning" if report.skipped else "info"
            self.notify(report.summary().replace("\n", " · "), level)

        return self.runner.run(work, f"Importing {fmt} masks", lane="io", visible=True,
                               cancellable=False, on_done=done,
                               on_error=lambda reason: self.notify(
                                   f"Import failed: {reason}", "error"))

    def choose_import(self) -> None:
        fmt, ok = QInputDialog.getItem(self.parent, "Import masks", "Annotation format",
                                       ["labelme", "coco"], 0, False)
        if not ok:
            return
        if fmt == "coco":
            source, _ = QFileDialog.getOpenFileName(self.parent, "COCO instances JSON", "",
                                                    "JSON (*.json)")
        else:
            source = QFileDialog.getExistingDirectory(self.parent, "Folder of LabelMe JSON files")
        if source:
            self.import_masks_from(source, fmt)


def existing_question(count: int, covered: int) -> str:
    """"2 of the 5 images this import covers already have one ..." (the import's question)."""
    if count == covered:
        which = ("The image this import covers already has a mask" if count == 1 else
                 f"All {count} images this import covers already have a mask")
    else:
        which = (f"{count} of the {covered} images this import covers already "
                 f"{'has one' if count == 1 else 'have one'}")
    return which + " (drawn here or imported before)."


def _picker(drawing: DrawingController, tool: Tool) -> Callable[[], None]:
    return lambda: drawing.set_tool(tool)
