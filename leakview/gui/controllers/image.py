"""The image on screen: showing it (or why it failed), moving between images, zoom (F, 1:1,
+/-: on the view shown, the image or the side-by-side panels), and the side-by-side view of
the study figure's panels (``report.study_panels``, redrawn as their inputs change)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QObject, QTimer
from PySide6.QtWidgets import QStackedWidget

from leakview.appstate import AppState
from leakview.gui.actions import Handlers
from leakview.gui.controllers.layers import LayerController
from leakview.gui.controllers.masks import MaskController
from leakview.gui.exporting import figure_panels
from leakview.gui.image_list import ImageList
from leakview.gui.image_view import FigureCanvas, ImageCanvas
from leakview.gui.session import Session, ShownImage
from leakview.gui.status import MessageBar, Notify
from leakview.gui.workers import JobRunner
from leakview.images import relative_name

FIGURE_PAGE = 1   # the stack's page of the side-by-side figure (0: the image canvas)


@dataclass(eq=False, repr=False)
class ImageController:
    """Puts the session's image on the canvas and keeps the figure page up to date."""

    state: AppState
    session: Session
    runner: JobRunner
    canvas: ImageCanvas
    figure_canvas: FigureCanvas
    stack: QStackedWidget
    image_list: ImageList
    masks: MaskController
    layers: LayerController
    messages: MessageBar
    notify: Notify
    set_title: Callable[[str], None]
    parent: QObject

    figure_timer: QTimer = field(init=False)
    """Redraws the figure once its inputs stop changing (150 ms)."""

    def __post_init__(self) -> None:
        self.figure_timer = QTimer(self.parent)
        self.figure_timer.setSingleShot(True)
        self.figure_timer.setInterval(150)
        self.figure_timer.timeout.connect(self.refresh_figure)
        self.image_list.current.connect(self.show_image)
        self.session.imageShown.connect(self._image_shown)
        self.session.imageFailed.connect(self._image_failed)
        self.session.maskChanged.connect(self.schedule_figure)
        self.session.layerReady.connect(self.schedule_figure)
        self.state.events.root.connect(self._folder_changed)

    def handlers(self) -> Handlers:
        return {"next_image": lambda: self.image_list.step(1),
                "previous_image": lambda: self.image_list.step(-1),
                "fit": lambda: self.shown_view().fit(),
                "one_to_one": lambda: self.shown_view().one_to_one(),
                "zoom_in": lambda: self.shown_view().zoom(1.25),
                "zoom_out": lambda: self.shown_view().zoom(0.8),
                "side_by_side": self.toggle_side_by_side}

    def shown_view(self) -> ImageCanvas | FigureCanvas:
        """The view that F, 1:1 and zoom act on: the side-by-side panels when they are shown."""
        return self.figure_canvas if self.figure_shown() else self.canvas

    def show_image(self, path: str) -> None:
        self.session.open_image(Path(path))

    def _image_shown(self, shown: ShownImage) -> None:
        self.canvas.set_image(shown.pixels, str(shown.path), shown.generation)
        self.set_title(f"{shown.name} — leakview")
        self.messages.dismiss("error", "Cannot open")
        self.schedule_figure()

    def _folder_changed(self) -> None:
        """Another folder: nothing of the previous one's images stays on screen."""
        self.figure_timer.stop()
        self._clear()
        self.set_title("leakview")

    def _clear(self) -> None:
        self.canvas.clear()
        self.figure_canvas.clear()
        self.masks.detach()
        self.layers.clear()

    def _image_failed(self, path: str, reason: str) -> None:
        if self.state.image != Path(path):
            return
        self._clear()
        root = self.state.root
        name = relative_name(Path(path), root) if root is not None else Path(path).name
        self.set_title(f"{name} (cannot open) — leakview")
        self.image_list.model.set_results(path, [{"method": "", "error": reason}])
        self.notify(f"Cannot open {Path(path).name}: {reason}", "error")

    # -- the side-by-side figure -------------------------------------------------------------
    def figure_shown(self) -> bool:
        return self.stack.currentIndex() == FIGURE_PAGE

    def toggle_side_by_side(self) -> None:
        """T: the study figure (original | saliency | LIME) instead of the image, or back."""
        self.stack.setCurrentIndex(0 if self.figure_shown() else FIGURE_PAGE)
        self.refresh_figure()

    def schedule_figure(self) -> None:
        if self.figure_shown():
            self.figure_timer.start()

    def refresh_figure(self) -> None:
        """Side-by-side mode: original | saliency | LIME (``report.study_panels``), captioned
        with labels, under the figure's title."""
        inputs = self.session.figure_inputs()
        if inputs is None or not self.figure_shown():
            return
        shown, generation = inputs.shown, self.session.generation
        self.runner.run(lambda ctx: figure_panels(shown.pixels, inputs.attributions, inputs.mask),
                        "Figure", lane="io",
                        stale=lambda: self.session.generation != generation,
                        on_done=lambda panels: self.figure_canvas.set_panels(
                            panels, inputs.title, str(shown.path)))
