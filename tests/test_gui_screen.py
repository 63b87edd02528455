"""The window fits the screen it opens on (and a saved geometry that no longer does is clamped),
the image area keeps half the width, the docks can be hidden, closed, narrowed and reset; the
side-by-side view zooms with F and 1:1 and captions its panels with labels."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QRect, Qt  # noqa: E402
from PySide6.QtWidgets import QLabel  # noqa: E402

from tests.test_gui_support import (  # noqa: E402, F401 (fixtures)
    IMAGE_SHAPE,
    folder,
    image_template,
    key,
    make_window,
    settings,
    tiny_model,
    wait_layer,
)


# -- the side-by-side view ----------------------------------------------------------------------
def _side_by_side(qtbot, window):
    wait_layer(qtbot, window)
    key(qtbot, window.canvas, Qt.Key.Key_T)
    figure = window.figure_canvas
    qtbot.waitUntil(lambda: len(figure.panels) == 2 and figure.image_id is not None,
                    timeout=10000)
    return figure


def _view_rect(figure) -> QRect:
    return figure.panels[0].vb.viewRect()


def test_side_by_side_captions_are_labels_above_unscaled_panels(qtbot, make_window, folder,
                                                                  tiny_model):
    from leakview.report import study_panels

    window = make_window(folder, tiny_model)
    figure = _side_by_side(qtbot, window)
    inputs = window.session.figure_inputs()
    expected = [caption for caption, _ in study_panels(inputs.shown.pixels, inputs.attributions)]
    assert expected == ["original", "saliency"]
    assert figure.captions == expected
    for panel in figure.panels:
        assert isinstance(panel.caption, QLabel) and panel.caption.isVisible()
        # the caption sits above its panel's view, and the pixels carry no burnt-in text
        assert panel.caption.geometry().bottom() <= panel.view.geometry().top()
        assert panel.item.image.shape[:2] == IMAGE_SHAPE
    assert figure.title.text() == inputs.title and figure.title.isVisible()
    height = figure.panels[0].caption.height()
    window.resize(700, 500)
    qtbot.waitUntil(lambda: figure.width() < 500)
    assert figure.panels[0].caption.height() == height   # a label does not shrink with the view


def test_side_by_side_f_fits_and_ctrl0_shows_actual_pixels(qtbot, make_window, folder,
                                                          tiny_model):
    window = make_window(folder, tiny_model)
    figure = _side_by_side(qtbot, window)
    height, width = IMAGE_SHAPE
    vb = figure.panels[0].vb
    vb.setRange(QRect(10, 10, 4, 3), padding=0)      # zoomed far in
    assert _view_rect(figure).width() < width / 4

    key(qtbot, figure, Qt.Key.Key_F)
    qtbot.waitUntil(lambda: _view_rect(figure).width() >= width)
    rect = _view_rect(figure)
    assert rect.left() <= 0 and rect.top() <= 0
    assert rect.right() >= width and rect.bottom() >= height
    # fitted: the image fills the view in one direction (2 % padding)
    assert min(rect.width() / width, rect.height() / height) < 1.1
    # the other panels follow (linked views)
    other = figure.panels[1].vb.viewRect()
    assert abs(other.width() - rect.width()) < 1e-6 and abs(other.left() - rect.left()) < 1e-6

    key(qtbot, figure, Qt.Key.Key_0, Qt.KeyboardModifier.ControlModifier)
    ratio = figure.devicePixelRatioF()
    qtbot.waitUntil(lambda: abs(vb.viewPixelSize()[0] - 1 / ratio) < 0.02)
    assert abs(vb.viewPixelSize()[1] - 1 / ratio) < 0.02
