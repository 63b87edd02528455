"""GUI responsiveness while the heavy work runs (not a test).

Opens the main window (offscreen unless ``--show``) on a folder and a model, starts a heartbeat
QTimer on the GUI thread (every ``--interval`` ms) and measures the longest gap between two
ticks while (a) LIME runs on the current image and (b) "Analyze folder" scans the folder; also
while (c) switching images as fast as the keyboard repeats. Prints each worst stall and its
ratio to the 100 ms target (<= 1.0 is on target).

Usage: ``python benchmarks/bench_gui.py [FOLDER] [--model M] [--lime-samples 1000]
[--methods saliency,gradcam] [--interval 10]``. Defaults: the bundled demo images (copied to a
temporary folder so nothing is written into resources/) and demo-clean.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from heartbeat import Heartbeat  # noqa: E402  (benchmarks/heartbeat.py)

TARGET_MS = 100.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?")
    parser.add_argument("--model")
    parser.add_argument("--lime-samples", type=int, default=1000)
    parser.add_argument("--methods", default="saliency,gradcam")
    parser.add_argument("--interval", type=int, default=10)
    parser.add_argument("--show", action="store_true", help="use the real display")
    args = parser.parse_args()
    if not args.show:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    work = Path(tempfile.mkdtemp(prefix="leakview-bench-gui-"))
    os.environ["LEAKVIEW_SETTINGS"] = str(work / "settings.ini")

    from PySide6.QtCore import QTimer

    from leakview.gui.app import make_application
    from leakview.resources import demo_images_dir, demo_model_path

    app = make_application()
    from leakview.gui.main_window import MainWindow

    folder = Path(args.folder) if args.folder else None
    if folder is None:
        folder = work / "demo"
        shutil.copytree(demo_images_dir(), folder)
    model = args.model or str(demo_model_path("clean"))

    heartbeat = Heartbeat(app, args.interval)
    run_until = heartbeat.run_until

    window = MainWindow(folder=folder, model=model)
    window.resize(1500, 920)
    window.show()

    def layer_done(method: str = "saliency") -> bool:
        item = window.canvas.layers.get(method)
        shown = window.session.image
        return (item is not None and item.image is not None and shown is not None
                and item.image_id == str(shown.path) and not item.provisional)

    stall, seconds = run_until(layer_done)
    print(f"first image + saliency: {seconds:.2f} s, worst stall {stall:.0f} ms")

    window.results.lime_form.set_values({"samples": args.lime_samples})
    results = {}

    def lime_started() -> bool:
        return "lime" in window.session.attributions

    window.actions["run_lime"].trigger()
    results["LIME"] = run_until(lime_started)

    window.folder_panel.set_methods(tuple(args.methods.split(",")))
    window.actions["analyze_folder"].trigger()
    results["Analyze folder"] = run_until(lambda: window.analysis.summary is not None)

    count = {"n": 0}

    def switch() -> None:
        count["n"] += 1
        window.actions["next_image" if count["n"] % 4 else "previous_image"].trigger()
    switcher = QTimer()
    switcher.setInterval(30)  # a held key's auto-repeat
    switcher.timeout.connect(switch)
    switcher.start()
    results["Rapid switching (60 switches)"] = run_until(lambda: count["n"] >= 60)
    switcher.stop()
    run_until(layer_done)

    print(f"{'phase':32s} {'seconds':>8s} {'worst stall':>12s} {'/ 100 ms':>9s}")
    for phase, (stall, seconds) in results.items():
        print(f"{phase:32s} {seconds:8.2f} {stall:9.0f} ms {stall / TARGET_MS:9.2f}")
    overall = max(stall for stall, _ in results.values())
    print(f"worst GUI-thread stall: {overall:.0f} ms (ratio {overall / TARGET_MS:.2f} of the "
          f"{TARGET_MS:.0f} ms target)")
    window.close()
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
