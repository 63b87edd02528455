"""The region kinds in the window: which kind the drawing tools edit (Draw > Draw the expected
region / a suspect region, K switches; the state's ``region_kind``), Draw > Copy the region of
the previous image (Ctrl+Shift+V: the previous image's region of that kind, one undo step), and
View > Only images without a mask (the image list's filter, with its "annotated N of M")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PySide6.QtGui import QAction, QActionGroup
from PySide6.QtWidgets import QWidget

from leakview.appstate import AppState
from leakview.gui.actions import Handlers
from leakview.gui.image_list import ImageList
from leakview.gui.session import Session
from leakview.gui.status import Notify, StatusPanel
from leakview.gui.workers import Job, JobRunner
from leakview.masks import EXPECTED, REGION_KINDS, SUSPECT, MaskError, read_mask, region_path

KIND_ACTIONS = {EXPECTED: "region_expected", SUSPECT: "region_suspect"}
KIND_WORDS = {EXPECTED: "expected region", SUSPECT: "suspect region"}
COPY_TEXT = "Copy region from previous image"


@dataclass(eq=False, repr=False)
class RegionController:
    """The region-kind actions, copying the previous image's region, the list's mask
    filter."""

    state: AppState
    session: Session
    runner: JobRunner
    image_list: ImageList
    status: StatusPanel
    actions: Mapping[str, QAction]
    notify: Notify
    parent: QWidget

    kind_group: QActionGroup = field(init=False)
    """Draw the expected region / a suspect region: one is checked."""

    def __post_init__(self) -> None:
        self.kind_group = QActionGroup(self.parent)
        for name in KIND_ACTIONS.values():
            self.kind_group.addAction(self.actions[name])
        self.state.events.region_kind.connect(self._kind_changed)
        self._kind_changed(self.state.region_kind)
        self.image_list.without_mask.toggled.connect(
            self.actions["filter_unannotated"].setChecked)

    def handlers(self) -> Handlers:
        return {"region_expected": lambda: self.set_kind(EXPECTED),
                "region_suspect": lambda: self.set_kind(SUSPECT),
                "region_kind_next": self.next_kind,
                "copy_previous_region": self.copy_previous,
                "filter_unannotated": lambda: self.image_list.set_without_mask(
                    self.actions["filter_unannotated"].isChecked())}

    # -- the kind drawn ----------------------------------------------------------------------
    def set_kind(self, kind: str) -> None:
        self.state.region_kind = kind

    def next_kind(self) -> None:
        """K: the other region kind."""
        kinds = REGION_KINDS
        self.set_kind(kinds[(kinds.index(self.state.region_kind) + 1) % len(kinds)])

    def _kind_changed(self, kind: str, *_: Any) -> None:
        self.actions[KIND_ACTIONS[kind]].setChecked(True)
        self.status.set_extra(f"Drawing the {KIND_WORDS[kind]} (K switches)")

    # -- copy the previous image's region ----------------------------------------------------
    def copy_previous(self) -> Job | None:
        """Replace this image's region of the kind drawn with the previous image's (in the
        list's order), as one undo step; refused, with a message, when that image has none or
        its size differs."""
        kind, root = self.state.region_kind, self.state.root
        document = self.session.documents.current_of(kind)
        if document is None or root is None:
            self.notify("Open an image first", "warning")
            return None
        previous = self.image_list.previous_path(document.image_path)
        if previous is None:
            self.notify("Not copied: this is the first image of the list", "warning")
            return None
        source = region_path(root, previous, kind, self.state.masks_root)
        pending = self.session.store.pending(source)
        what = f"{previous.name}'s {KIND_WORDS[kind]}"

        def read(ctx) -> tuple[np.ndarray | None, str]:
            if not self.session.store.is_absent(pending):
                return pending, ""          # an edit not on disk yet
            if not source.is_file():
                return None, ""
            try:
                return read_mask(source), ""
            except MaskError as error:
                return None, error.reason

        def done(result: tuple[np.ndarray | None, str]) -> None:
            mask, problem = result
            if self.session.documents.current_of(kind) is not document:
                return                      # another image (or kind) meanwhile
            if problem:
                self.notify(f"Not copied: {what}: {problem}", "warning")
            elif mask is None:
                self.notify(f"Not copied: {previous.name} has no {KIND_WORDS[kind]}", "warning")
            elif mask.shape != document.shape:
                self.notify(f"Not copied: {what} is {mask.shape[1]}×{mask.shape[0]} but this "
                            f"image is {document.shape[1]}×{document.shape[0]}", "warning")
            elif not document.edit(mask, COPY_TEXT):
                self.status.set_extra(f"{what} is already this image's")
            else:
                self.status.set_extra(f"Copied {what} (Ctrl+Z undoes)")

        return self.runner.run(read, f"Reading {source.name}", lane="io", on_done=done,
                               on_error=lambda reason: self.notify(
                                   f"Not copied: {what}: {reason}", "warning"))

