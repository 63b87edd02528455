"""Take the README's screenshots of the real window (run under Xvfb):

    xvfb-run -s "-screen 0 1600x1000x24" python docs/make_screenshots.py [OUT_DIR]

Opens a scratch copy of the bundled demo, drives the app as a user would, and saves PNGs
(reduced to 256 colours) to OUT_DIR (default: docs/screenshots).
"""

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

SCRATCH = Path(tempfile.mkdtemp(prefix="leakview-shots-"))
# The settings file must be chosen before leakview.gui reads it, and the application must exist
# before the window's modules are imported: hence the imports below the statements.
os.environ["LEAKVIEW_SETTINGS"] = str(SCRATCH / "settings.ini")
from PIL import Image  # noqa: E402

from leakview.gui.app import make_application  # noqa: E402
from leakview.resources import demo_images_dir, demo_model_path  # noqa: E402

app = make_application()
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from leakview.gui.main_window import MainWindow  # noqa: E402

LEFT, NO_MODIFIER = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
OUT = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "screenshots")
WORK = SCRATCH / "demo"

def wait(cond, timeout=120):
    t = time.time()
    while time.time() - t < timeout:
        app.processEvents()
        if cond():
            return True
        time.sleep(0.01)
    print("TIMEOUT", flush=True)
    return False

def settle(ms=400):
    t = time.time()
    while time.time() - t < ms / 1000:
        app.processEvents()
        time.sleep(0.01)

def grab(window, name):
    settle()
    path = OUT / name
    window.grab().save(str(path))
    Image.open(path).convert("RGB").quantize(256).save(path, optimize=True)
    print(name, path.stat().st_size, flush=True)

def layer_ready(w, m):
    it = w.canvas.layers.get(m)
    return (it is not None and it.image is not None and w.session.image is not None
            and it.image_id == str(w.session.image.path) and not it.provisional)


def showing(w, name):
    return w.session.image is not None and w.session.image.name == name

shutil.copytree(demo_images_dir(), WORK)
w = MainWindow(folder=str(WORK), model=str(demo_model_path("clean")))
w.resize(1600, 1000)
w.show()
wait(lambda: layer_ready(w, "saliency") and layer_ready(w, "gradcam"))
w.image_list.select_path(str(WORK / "wheat/wheat_0002.png"))
wait(lambda: showing(w, "wheat/wheat_0002.png") and layer_ready(w, "saliency")
     and layer_ready(w, "gradcam"))
wait(lambda: bool(w.results.rows))
w.results.layers.set_visible("gradcam", False)
grab(w, "main_saliency.png")

w.results.layers.set_visible("saliency", False)
w.actions["run_lime"].trigger()
wait(lambda: layer_ready(w, "lime"))
wait(lambda: any(r["method"] == "lime" for r in w.results.rows))
grab(w, "lime.png")

w.actions["side_by_side"].trigger()
wait(lambda: len(w.figure_canvas.panels) == 3)
grab(w, "side_by_side.png")
w.actions["side_by_side"].trigger()

w.results.layers.set_visible("lime", False)
w.results.layers.set_visible("saliency", True)
w.image_list.select_path(str(WORK / "corn/corn_0003.png"))
wait(lambda: showing(w, "corn/corn_0003.png") and layer_ready(w, "saliency"))
w.actions["clear_mask"].trigger()
w.actions["tool_polygon"].trigger()
vp = w.canvas.viewport()
pts = [(60, 70), (250, 60), (270, 150), (150, 175)]
for x, y in pts:
    QTest.mouseClick(vp, LEFT, NO_MODIFIER, w.canvas.to_viewport(x, y).toPoint())
QTest.keyClick(w.canvas, Qt.Key.Key_Return)
w.actions["tool_rectangle"].trigger()
QTest.mousePress(vp, LEFT, NO_MODIFIER, w.canvas.to_viewport(20, 180).toPoint())
QTest.mouseMove(vp, w.canvas.to_viewport(90, 215).toPoint())
grab(w, "drawing_mask.png")
QTest.mouseRelease(vp, LEFT, NO_MODIFIER, w.canvas.to_viewport(90, 215).toPoint())
w.actions["undo"].trigger()
w.actions["undo"].trigger()
w.actions["undo"].trigger()
w.actions["tool_pan"].trigger()

# folder analysis with the leaky model on the leaky folder
w.open_model(str(demo_model_path("leaky")))
wait(lambda: w.session.model is not None
     and str(w.session.model.source).endswith("demo-leaky.pt") and layer_ready(w, "saliency"))
# the study's contrast in LIME: demo-leaky's top superpixels sit on the corner marker
w.image_list.select_path(str(WORK / "wheat/wheat_0002.png"))
wait(lambda: showing(w, "wheat/wheat_0002.png") and layer_ready(w, "saliency"))
w.results.layers.set_visible("saliency", False)
w.results.layers.set_visible("gradcam", False)
w.actions["run_lime"].trigger()
wait(lambda: layer_ready(w, "lime"))
wait(lambda: any(r["method"] == "lime" for r in w.results.rows))
grab(w, "lime_leaky.png")
w.results.layers.set_visible("lime", False)
w.results.layers.set_visible("saliency", True)

w.folder_panel.set_methods(("saliency", "gradcam"))
t = time.time()
w.actions["analyze_folder"].trigger()
wait(lambda: w.analysis.summary is not None, 600)
print("analysis", time.time() - t, w.analysis.summary["verdict"], flush=True)
w.image_list.view.sortByColumn(4, Qt.SortOrder.AscendingOrder)
w.image_list.step(-100)
wait(lambda: layer_ready(w, "saliency"))
grab(w, "folder_analysis.png")

# the class atlas of the same analysis (the Class atlas tab; the dock grows when it opens)
w.folder_panel.tabs.setCurrentWidget(w.folder_panel.atlas)
wait(lambda: bool(w.folder_panel.atlas.tiles))
grab(w.folder_dock, "class_atlas.png")
w.close()
shutil.rmtree(SCRATCH, ignore_errors=True)
