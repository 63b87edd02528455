"""Memory and GUI-thread stalls while paging through a large folder in the app (not a test).

Generates ``--count`` small PNGs (64x48 .. 128x96, two classes) in a temporary folder (or
``--dir``), opens them in the real main window (offscreen unless ``--show``) with a freshly
initialised ``--arch`` model, waits for the first image's saliency layer, then holds D: a key
press every ``--repeat-ms`` ms (a held key's auto-repeat, sent as real key events with QTest,
one release at the end) until ``--pages`` images have been stepped through, and waits for the
last image's layers. A heartbeat QTimer (every ``--interval`` ms) on the GUI thread measures
the longest gap between two ticks. Prints RSS (``/proc/self/status`` VmRSS) before paging,
every ``--every`` images and after, the session's bounded caches (mask documents, cached
results and their bytes) and the worst stall against the 100 ms target.

Usage: ``python benchmarks/bench_gui_paging.py [--count 10000] [--pages 500] [--repeat-ms 30]
[--dir DIR] [--show]``.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from heartbeat import Heartbeat  # noqa: E402  (benchmarks/heartbeat.py)

TARGET_MS = 100.0
CLASSES = ("cat", "dog")


def rss_mib(field: str = "VmRSS") -> float:
    with open("/proc/self/status", encoding="ascii") as stream:
        for line in stream:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def generate(folder: Path, count: int, seed: int = 0) -> None:
    from PIL import Image

    rng = np.random.default_rng(seed)
    for index in range(count):
        label = CLASSES[index % len(CLASSES)]
        width, height = int(rng.integers(64, 129)), int(rng.integers(48, 97))
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        pixels[: height // 2, : width // 2] //= 3
        path = folder / label / f"{label}_{index:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(path, compress_level=1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10000)
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--repeat-ms", type=int, default=30)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--interval", type=int, default=10)
    parser.add_argument("--dir", help="generate the images here (kept), not in a temp folder")
    parser.add_argument("--arch", default="mobilenet_v3_small")
    parser.add_argument("--input-size", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--cache-entries", type=int,
                        help="override session.CACHE_ENTRIES (to tell the cache from a leak)")
    parser.add_argument("--show", action="store_true", help="use the real display")
    args = parser.parse_args()
    if not args.show:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    work = Path(tempfile.mkdtemp(prefix="leakview-bench-paging-"))
    os.environ["LEAKVIEW_SETTINGS"] = str(work / "settings.ini")

    import torch

    from leakview.models import build_architecture, save_bundle

    torch.set_num_threads(args.threads)
    folder = Path(args.dir) if args.dir else work / "images"
    folder.mkdir(parents=True, exist_ok=True)
    if not any(folder.iterdir()):
        started = time.perf_counter()
        generate(folder, args.count)
        print(f"generated {args.count} images in {time.perf_counter() - started:.1f} s")
    torch.manual_seed(0)
    model = work / "model.pt"
    size = (args.input_size, args.input_size)
    save_bundle(model, build_architecture(args.arch, len(CLASSES), size), args.arch, CLASSES,
                size)

    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtTest import QTest

    from leakview.gui import session as session_module
    from leakview.gui.app import make_application

    if args.cache_entries is not None:
        session_module.CACHE_ENTRIES = args.cache_entries
    app = make_application()
    from leakview.gui.main_window import MainWindow

    heartbeat = Heartbeat(app, args.interval)

    # The longest garbage collection per generation on the GUI thread: a stall the heartbeat
    # sees may be one of them rather than leakview's own work.
    collections = {"start": 0.0, "worst": [0.0, 0.0, 0.0], "count": [0, 0, 0]}

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            collections["start"] = time.perf_counter()
        elif collections["start"]:
            generation = info["generation"]
            spent = (time.perf_counter() - collections["start"]) * 1000
            collections["worst"][generation] = max(collections["worst"][generation], spent)
            collections["count"][generation] += 1
    gc.callbacks.append(on_gc)

    run_until = heartbeat.run_until

    started = time.perf_counter()
    window = MainWindow(folder=folder, model=str(model))
    window.resize(1500, 920)
    window.show()
    session = window.session
    opened = time.perf_counter() - started
    shown = {"n": 0}
    session.imageShown.connect(lambda _: shown.__setitem__("n", shown["n"] + 1))

    def layers_done() -> bool:
        image = session.image
        if image is None:
            return False
        for method in session.auto_methods:
            item = window.canvas.layers.get(method)
            if item is None or item.image is None or item.image_id != str(image.path) \
                    or item.provisional:
                return False
        return True

    stall, seconds = run_until(layers_done)
    print(f"{window.image_list.model.rowCount()} images listed in {opened:.2f} s; first image "
          f"+ layers ({', '.join(session.auto_methods)}) in {seconds:.2f} s, worst stall "
          f"{stall:.0f} ms")
    before = rss_mib()
    samples = [(0, before, len(session.documents), len(session.cache), session._cache_bytes)]
    presses = {"n": 0}

    def press() -> None:
        QTest.keyPress(window.canvas, Qt.Key.Key_D)
        presses["n"] += 1
        if presses["n"] % args.every == 0:
            samples.append((presses["n"], rss_mib(), len(session.documents),
                            len(session.cache), session._cache_bytes))

    repeat = QTimer()
    repeat.setInterval(args.repeat_ms)
    repeat.timeout.connect(press)
    shown["n"] = 0
    collections.update(worst=[0.0, 0.0, 0.0], count=[0, 0, 0])
    repeat.start()
    paging_stall, paging_seconds = run_until(lambda: presses["n"] >= args.pages)
    repeat.stop()
    QTest.keyRelease(window.canvas, Qt.Key.Key_D)
    settle_stall, _ = run_until(layers_done)
    row = window.image_list.view.currentIndex().row()
    after = rss_mib()
    samples.append((presses["n"], after, len(session.documents), len(session.cache),
                    session._cache_bytes))

    print(f"held D: {presses['n']} presses every {args.repeat_ms} ms in {paging_seconds:.1f} s; "
          f"now on row {row}; {shown['n']} images were shown (the others were skipped as stale "
          f"before they finished loading)")
    print(f"{'images':>7s} {'RSS MiB':>8s} {'documents':>10s} {'cached':>7s} {'cache MiB':>10s}")
    for images, rss, documents, cached, cache_bytes in samples:
        print(f"{images:7d} {rss:8.1f} {documents:10d} {cached:7d} {cache_bytes / 2**20:10.1f}")
    print(f"RSS before paging {before:.1f} MiB, after {after:.1f} MiB ({after - before:+.1f} "
          f"MiB, of which the results cache holds {samples[-1][4] / 2**20:.1f} MiB; bounds: "
          f"{session_module.MAX_DOCUMENTS} documents, {session_module.CACHE_ENTRIES} results, "
          f"{session_module.CACHE_BYTES / 2**20:.0f} MiB); peak RSS {rss_mib('VmHWM'):.1f} MiB")
    worst = max(paging_stall, settle_stall)
    print(f"worst GUI-thread stall while paging: {worst:.0f} ms (ratio {worst / TARGET_MS:.2f} "
          f"of the {TARGET_MS:.0f} ms target)")
    print("garbage collections while paging (any thread): "
          + ", ".join(f"gen {g}: {collections['count'][g]}, longest "
                      f"{collections['worst'][g]:.0f} ms" for g in range(3)))
    gc.callbacks.remove(on_gc)
    window.close()
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
