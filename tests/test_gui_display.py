"""How layers and the mask are drawn, driven with real events: the mask key (M), its opacity and
outline-only mode, and the sign of a signed map (positive / negative / both on a diverging
colormap centred on zero). Display only: the mask and the metrics never change."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from test_gui_support import (  # noqa: E402,F401
    drag,
    folder,
    image_template,
    key,
    make_window,
    saved_mask,
    settings,
    tiny_model,
    viewport_point,
    wait_layer,
)


def left_click(widget) -> None:
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     QPoint(8, widget.height() // 2))


def draw_rectangle(qtbot, window) -> np.ndarray:
    """R + drag: a rectangle mask, saved; returns the saved mask."""
    key(qtbot, window.canvas, Qt.Key.Key_R)
    drag(qtbot, window, viewport_point(window, 8, 8), viewport_point(window, 40, 30))
    qtbot.waitUntil(lambda: saved_mask(window) is not None, timeout=5000)
    key(qtbot, window.canvas, Qt.Key.Key_V)
    return saved_mask(window)


def metrics(window) -> list[tuple[str, float]]:
    return [(row["method"], row["mass_in_mask"]) for row in window.results.rows]


def shown_name(window) -> str | None:
    image = window.session.image
    return None if image is None else image.name


def pixel(window, x: float, y: float) -> tuple[int, int, int]:
    """The colour on screen at image coordinates (x, y)."""
    image = window.canvas.grab().toImage()
    colour = image.pixelColor(viewport_point(window, x, y))
    return colour.red(), colour.green(), colour.blue()


def test_mask_key_hides_and_shows_the_mask_without_changing_it(qtbot, make_window, folder,
                                                               tiny_model, settings):
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    mask = draw_rectangle(qtbot, window)
    qtbot.waitUntil(lambda: len(metrics(window)) > 0, timeout=10000)
    before = metrics(window)
    item, action = window.canvas.mask_item, window.actions["toggle_mask"]
    assert item.isVisible() and action.isChecked()

    key(qtbot, window.canvas, Qt.Key.Key_M)
    assert not item.isVisible()
    assert not window.results.layers.mask_row.visible.isChecked()
    assert not action.isChecked()
    np.testing.assert_array_equal(saved_mask(window), mask)
    assert metrics(window) == before
    assert window.session.document.mask is not None
    assert settings.mask_display().visible is False

    key(qtbot, window.canvas, Qt.Key.Key_M)
    assert item.isVisible() and action.isChecked()
    np.testing.assert_array_equal(saved_mask(window), mask)
    assert metrics(window) == before

    # hidden, it stays hidden on the next image and back (the choice is the user's)
    key(qtbot, window.canvas, Qt.Key.Key_M)
    key(qtbot, window.canvas, Qt.Key.Key_D)
    qtbot.waitUntil(lambda: shown_name(window) == "cat/cat_1.png", timeout=5000)
    key(qtbot, window.canvas, Qt.Key.Key_A)
    qtbot.waitUntil(lambda: shown_name(window) == "cat/cat_0.png", timeout=5000)
    qtbot.waitUntil(lambda: window.session.document is not None
                    and window.session.document.mask is not None, timeout=5000)
    assert not item.isVisible()
    np.testing.assert_array_equal(saved_mask(window), mask)

    # listed in Help > Shortcuts
    key(qtbot, window.canvas, Qt.Key.Key_F1)
    table = window.shortcuts_dialog.table
    rows = {table.item(i, 0).text(): table.item(i, 1).text() for i in range(table.rowCount())}
    assert "mask" in rows["M"].lower()
    window.shortcuts_dialog.close()


def test_outline_only_and_opacity(qtbot, make_window, folder, tiny_model, settings):
    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    for method in ("saliency", "gradcam"):      # the image itself under the mask
        row = window.results.layers.rows[method]
        if row.visible.isChecked():
            left_click(row.visible)
    mask = draw_rectangle(qtbot, window)
    row, item = window.results.layers.mask_row, window.canvas.mask_item
    inside = (20, 18)
    filled = pixel(window, *inside)
    key(qtbot, window.canvas, Qt.Key.Key_M)
    bare = pixel(window, *inside)
    key(qtbot, window.canvas, Qt.Key.Key_M)
    assert filled != bare                        # the translucent fill tints the region

    left_click(row.outline_only)
    assert row.outline_only.isChecked() and window.actions["mask_outline"].isChecked()
    assert item.isVisible()
    assert item.lut[1][3] == 0 and item.lut[2][3] == 255   # no fill, the outline stays
    assert pixel(window, *inside) == bare        # inside: the image as it is
    edge = pixel(window, 8, 8)                   # the outline is still drawn
    assert edge != bare
    np.testing.assert_array_equal(saved_mask(window), mask)

    # the View menu's action turns the fill back on
    window.actions["mask_outline"].trigger()
    assert not row.outline_only.isChecked() and item.lut[1][3] > 0
    assert pixel(window, *inside) == filled

    assert item.opacity() == pytest.approx(1.0)
    row.opacity.setFocus()
    for _ in range(10):
        QTest.keyClick(row.opacity, Qt.Key.Key_Left)     # ten single steps: 100 -> 90
    assert row.opacity.value() == 90
    assert item.opacity() == pytest.approx(0.9)
    QTest.keyClick(row.opacity, Qt.Key.Key_Home)
    assert item.opacity() == pytest.approx(0.0)
    assert pixel(window, *inside) == bare
    np.testing.assert_array_equal(saved_mask(window), mask)

    # saved, and restored by the next window
    assert settings.mask_display().opacity == pytest.approx(0.0)
    window.actions["mask_outline"].trigger()
    window.close()
    again = make_window(folder, tiny_model)
    assert again.results.layers.mask_row.opacity.value() == 0
    assert again.results.layers.mask_row.outline_only.isChecked()
    assert again.canvas.mask_item.opacity() == pytest.approx(0.0)


def test_integrated_gradients_both_signs_on_a_diverging_scale(qtbot, make_window, folder,
                                                              tiny_model, settings):
    from leakview.gui.image_view import diverging_lut, layer_lut
    from leakview.gui.layers import DIVERGING_COLORMAP

    window = make_window(folder, tiny_model)
    wait_layer(qtbot, window)
    draw_rectangle(qtbot, window)
    layers = window.results.layers
    for unsigned in ("saliency", "smoothgrad", "gradcam"):
        assert not layers.rows[unsigned].sign.isEnabled()
    row = layers.rows["integrated_gradients"]
    assert row.sign.isEnabled() and row.sign.currentData() == "positive"
    key(qtbot, window.canvas, Qt.Key.Key_3)
    wait_layer(qtbot, window, "integrated_gradients", timeout=60000)
    qtbot.waitUntil(lambda: "integrated_gradients" in [m for m, _ in metrics(window)],
                    timeout=10000)
    before = metrics(window)
    item = window.canvas.layers["integrated_gradients"]
    values = window.session.attributions["integrated_gradients"].map
    assert values.min() < 0 < values.max()          # a signed map
    low, high = item.getLevels()
    assert low == 0 and item.image.min() >= 0       # positive part only

    row.sign.setFocus()
    QTest.keyClick(row.sign, Qt.Key.Key_Down)        # negative
    assert row.sign.currentData() == "negative"
    low, high = item.getLevels()
    assert low == 0 and item.image.min() >= 0
    np.testing.assert_allclose(item.image[values < 0], -values[values < 0], rtol=1e-6)
    assert not item.image[values > 0].any()

    QTest.keyClick(row.sign, Qt.Key.Key_Down)        # both
    assert row.sign.currentData() == "both"
    low, high = item.getLevels()
    assert low == -high and high == pytest.approx(np.percentile(np.abs(values), 99.5),
                                                  rel=1e-5)
    assert item.image.min() < 0 < item.image.max()
    np.testing.assert_array_equal(item.lut, diverging_lut())
    assert not np.array_equal(item.lut, layer_lut(row.colormap.currentText()))
    centre = item.lut[128]
    assert centre[3] < 10                              # zero: transparent
    assert centre[:3].min() > 200                      # ... and white in the diverging map
    assert row.bar.colormap == DIVERGING_COLORMAP and row.bar.sign == "both"
    assert row.bar.levels == (low, high)
    assert f"{high:.3g}" in row.bar.toolTip()
    assert row.bar.labels() == (f"−{high:.2g}", "0", f"+{high:.2g}")
    assert not row.colormap.isEnabled()               # "both" uses the diverging colormap
    assert metrics(window) == before                  # display only
    assert settings.layer_options("integrated_gradients").sign == "both"

    # back to positive: the layer's own colormap again
    QTest.keyClick(row.sign, Qt.Key.Key_Home)
    assert row.sign.currentData() == "positive" and row.colormap.isEnabled()
    np.testing.assert_array_equal(item.lut, layer_lut(row.colormap.currentText()))
    assert item.getLevels()[0] == 0

    # the choice is saved and restored
    QTest.keyClick(row.sign, Qt.Key.Key_End)
    window.close()
    again = make_window(folder, tiny_model)
    assert again.results.layers.rows["integrated_gradients"].sign.currentData() == "both"
    wait_layer(qtbot, again, "integrated_gradients", timeout=60000)
    low, high = again.canvas.layers["integrated_gradients"].getLevels()
    assert low == -high > -np.inf and high > 0
