"""Opening image folders: File > Open folder, the demo images and the recent folders."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMenu, QWidget

from leakview.appstate import AppState
from leakview.gui.actions import Handlers
from leakview.gui.image_list import ImageList
from leakview.gui.mask_doc import MaskStore
from leakview.gui.session import Session
from leakview.gui.settings import AppSettings
from leakview.gui.status import Notify
from leakview.images import list_folder
from leakview.layout import normalise_root
from leakview.masks import migrate_legacy_markers


@dataclass(eq=False, repr=False)
class FolderController:
    """Lists a folder's images and starts the window over on them."""

    state: AppState
    session: Session
    store: MaskStore
    image_list: ImageList
    settings: AppSettings
    recent_menu: QMenu
    notify: Notify
    parent: QWidget

    def __post_init__(self) -> None:
        self.recent_menu.aboutToShow.connect(self.fill_recent_folders)

    def handlers(self) -> Handlers:
        return {"open_folder": self.choose_folder, "open_demo": self.open_demo}

    def open_folder(self, folder: str | Path) -> bool:
        """Open ``folder`` (again): its images listed, the first one shown; False when it
        cannot be read (the reason is shown)."""
        given = Path(folder)
        root = normalise_root(given)
        problems: list[str] = []
        try:
            listing = list_folder(root, on_error=lambda path, why: problems.append(
                f"{path}: {why}"))
        except (OSError, ValueError) as error:
            self.notify(f"Cannot open folder {given}: {error}", "error")
            return False
        self.store.flush()
        if self.state.masks_root is None:   # old marker masks -> the default suspect regions
            migration = migrate_legacy_markers(root)  # (before anything reads one)
            if (moved := migration.message()) is not None:
                self.notify(moved, "warning" if migration.error or migration.kept else "info")
        # the state's folder: everything holding the previous folder's results listens to
        # it and forgets them (analysis, session, image and panels); the settings save it
        self.session.set_folder(root)
        model = self.state.model
        paths = listing.images
        self.image_list.set_images(paths, model.classes if model is not None else (), listing)
        if problems:
            self.notify("Skipped unreadable folders: " + "; ".join(problems[:3]), "warning")
        elif not paths:
            skipped = listing.skipped_text()
            self.notify(f"No images in {given}" + (f" (skipped {skipped})" if skipped else ""),
                        "warning")
        if paths:
            self.image_list.step(1)
        return True

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.parent, "Open image folder",
                                                  self.settings.last_folder)
        if folder:
            self.open_folder(folder)

    def open_demo(self) -> None:
        """The bundled demo images (their writable copy), with the model kept as it is."""
        from leakview.resources import demo_workspace

        self.open_folder(demo_workspace())

    def fill_recent_folders(self) -> None:
        menu = self.recent_menu
        menu.clear()
        for folder in self.settings.recent("recent_folders"):
            menu.addAction(folder, lambda f=folder: self.open_folder(f))
        menu.setEnabled(True)
