"""Shared fixtures and helpers of the GUI tests (no tests here): a tiny model bundle
(mobilenet_v3_small at 32x32, saved with save_bundle), tiny PNG folders, a main window with
its settings in a temp INI file, and real mouse helpers on the canvas viewport."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, QPointF, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

CLASSES = ("cat", "dog")
IMAGE_SHAPE = (48, 64)  # H, W


def write_images(root: Path, per_class: int = 3, shape=IMAGE_SHAPE, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for label in CLASSES:
        (root / label).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            pixels = (rng.random((*shape, 3)) * 255).astype(np.uint8)
            pixels[: shape[0] // 2, : shape[1] // 2] //= 3  # some structure
            Image.fromarray(pixels).save(root / label / f"{label}_{index}.png")
    return root


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    import torch

    from leakview.models import build_architecture, save_bundle

    torch.manual_seed(0)
    module = build_architecture("mobilenet_v3_small", len(CLASSES), (32, 32))
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_bundle(path, module, "mobilenet_v3_small", CLASSES, (32, 32))
    return path


@pytest.fixture(scope="session")
def image_template(tmp_path_factory) -> Path:
    return write_images(tmp_path_factory.mktemp("template") / "images")


@pytest.fixture
def folder(image_template, tmp_path) -> Path:
    target = tmp_path / "images"
    shutil.copytree(image_template, target)
    return target


@pytest.fixture
def settings(tmp_path):
    from leakview.gui.settings import AppSettings, open_settings

    return AppSettings(open_settings(tmp_path / "settings.ini"))


@pytest.fixture
def make_window(qtbot, settings):
    from leakview.gui.main_window import MainWindow

    windows = []

    def make(folder=None, model=None, window_settings=None):
        window = MainWindow(folder=folder, model=model, settings=window_settings or settings)
        qtbot.addWidget(window)
        window.resize(1300, 850)
        window.show()
        qtbot.waitExposed(window)
        window.activateWindow()
        windows.append(window)
        return window

    yield make
    for window in windows:
        if window.isVisible():
            window.ask_before_quit = False   # the test is over: nothing to ask
            window.close()


def wait_layer(qtbot, window, method: str = "saliency", timeout: int = 30000) -> None:
    """Until the layer shows a final map of the image on screen, for the current generation."""
    def ready() -> None:
        item = window.canvas.layers.get(method)
        assert item is not None and item.image is not None
        assert window.session.image is not None
        assert item.image_id == str(window.session.image.path)
        assert item.generation == window.session.generation
        assert not item.provisional
    qtbot.waitUntil(ready, timeout=timeout)


def viewport_point(window, x: float, y: float) -> QPoint:
    """The integer viewport position over image coordinates (x, y)."""
    return window.canvas.to_viewport(x, y).toPoint()


def image_point(window, point: QPoint) -> tuple[float, float]:
    mapped = window.canvas.to_image(QPointF(point))
    return mapped.x(), mapped.y()


def drag(qtbot, window, start: QPoint, end: QPoint, steps: int = 5) -> None:
    viewport = window.canvas.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
    for step in range(1, steps + 1):
        t = step / steps
        QTest.mouseMove(viewport, QPoint(round(start.x() + (end.x() - start.x()) * t),
                                         round(start.y() + (end.y() - start.y()) * t)))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)


def click(window, point: QPoint, double: bool = False) -> None:
    viewport = window.canvas.viewport()
    if double:
        QTest.mouseDClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                          point)
    else:
        QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         point)


def key(qtbot, widget, key_code, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.keyClick(widget, key_code, modifier)


def saved_mask(window) -> np.ndarray | None:
    from leakview.masks import read_mask

    window.store.flush()
    path = window.session.document.mask_file
    return read_mask(path) if path.is_file() else None


class Heartbeat:
    """A QTimer on the GUI thread; ``worst`` = the longest gap between ticks (ms)."""

    def __init__(self, interval_ms: int = 10) -> None:
        from PySide6.QtCore import QTimer

        self.timer = QTimer()
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._tick)
        self.last = 0.0
        self.worst = 0.0
        self.ticks = 0

    def _tick(self) -> None:
        now = time.perf_counter()
        if self.last:
            self.worst = max(self.worst, (now - self.last) * 1000)
        self.last = now
        self.ticks += 1

    def start(self) -> None:
        self.ticks = 0
        self.last = 0.0
        self.worst = 0.0
        self.timer.start()

    def stop(self) -> float:
        self.timer.stop()
        return self.worst
