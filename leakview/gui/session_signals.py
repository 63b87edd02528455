"""What the parts of :class:`leakview.gui.session.Session` share: the signals they emit (one
hub, the session itself) and the image on screen."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Signal


@dataclass
class ShownImage:
    """The image on screen: its pixels and where it came from."""

    path: Path
    name: str
    pixels: np.ndarray
    generation: int


class SessionSignals(QObject):
    """The session's signals; its parts (documents, model loader, layer and overlap jobs)
    emit them on the session, so the rest of the window connects to one object."""

    imageShown = Signal(object)              # ShownImage
    imageFailed = Signal(str, str)           # path, reason
    maskChanged = Signal(object)             # MaskDocument (expected region)
    suspectChanged = Signal(object)          # MaskDocument (suspect region)
    modelChanged = Signal(object)            # LoadedModel | None
    modelFailed = Signal(str, str)           # path, reason
    modelSpecNeeded = Signal(str, object, object)  # path, ModelLoadError, ModelSpec | None
    predictionReady = Signal(str, object)    # image path, probabilities
    layerStarted = Signal(str)               # method
    layerReady = Signal(str, object, bool, str, int)  # method, Attribution, provisional,
    #                                                   image path, generation
    layerFailed = Signal(str, str)           # method, reason
    layerCancelled = Signal(str)             # method
    overlapReady = Signal(str, list)         # image path, rows (scan.ScanRow)
    message = Signal(str)
