"""Crash safety with real processes killed by SIGKILL: atomic mask writes, and a scan killed
mid-run that --resume completes to exactly the rows of an uninterrupted run, and a canary
killed mid-run whose reports stay whole."""

from __future__ import annotations

import csv
import json
import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL (POSIX)")

REPO = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")   # small, and polite on 2 cores
    return env


def _wait_for(condition, process: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise AssertionError(f"child exited early with {process.returncode}: "
                                 f"{process.stderr.read().decode(errors='replace')[-2000:]}")
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError("timed out waiting for the child")
        time.sleep(0.01)


def _kill(process: subprocess.Popen) -> None:
    assert process.poll() is None, "the child finished before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL


# =============================================================================================
# (a) masks: a kill never leaves a half-written mask
# =============================================================================================

WRITER = textwrap.dedent("""
    import sys
    import numpy as np
    from leakview.masks import write_mask

    path = sys.argv[1]
    a = np.zeros((300, 400), dtype=bool); a[10:200, 20:300] = True
    b = np.random.default_rng(1).random((300, 400)) > 0.5   # incompressible: a slow write
    count = 0
    while True:
        write_mask(path, a if count % 2 == 0 else b)
        count += 1
        if count == 2:
            print("ready", flush=True)
""")


def test_killed_mask_writer_leaves_a_complete_mask(tmp_path: Path) -> None:
    from leakview.masks import read_mask

    a = np.zeros((300, 400), dtype=bool)
    a[10:200, 20:300] = True
    b = np.random.default_rng(1).random((300, 400)) > 0.5
    target = tmp_path / "masks" / "img.png.png"
    rng = random.Random(1234)
    seen = set()
    for attempt in range(5):
        process = subprocess.Popen([sys.executable, "-c", WRITER, str(target)], env=_env(),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert process.stdout.readline().strip() == b"ready", process.stderr.read()
        time.sleep(rng.uniform(0.0, 0.3))
        _kill(process)
        process.stdout.close()
        process.stderr.close()
        mask = read_mask(target, (300, 400))           # a complete, decodable PNG ...
        equal_a, equal_b = np.array_equal(mask, a), np.array_equal(mask, b)
        assert equal_a or equal_b, f"attempt {attempt}: mask is neither of the two written"
        seen.add("a" if equal_a else "b")
        with Image.open(target) as image:              # ... and a canonical one
            assert image.mode == "L" and image.size == (400, 300)
    # Leftover temp files (if any) are hidden, so they never show up as images or masks.
    assert all(path.name.startswith(".") for path in target.parent.iterdir()
               if path != target)


# =============================================================================================
# (b) scan: kill -9 mid-run, then --resume
# =============================================================================================

N_IMAGES = 30


@pytest.fixture(scope="module")
def scan_setup(tmp_path_factory) -> tuple[Path, Path]:
    import torch

    from leakview.models import build_architecture, save_bundle

    base = tmp_path_factory.mktemp("crash")
    rng = np.random.default_rng(0)
    folder = base / "images"
    for index in range(N_IMAGES):
        label = ("cat", "dog")[index % 2]
        (folder / label).mkdir(parents=True, exist_ok=True)
        Image.fromarray((rng.random((24, 32, 3)) * 255).astype(np.uint8)).save(
            folder / label / f"{label}_{index}.png")
    torch.manual_seed(0)
    module = build_architecture("mobilenet_v3_small", 2, (32, 32))
    model = base / "tiny.pt"
    save_bundle(model, module, "mobilenet_v3_small", ("cat", "dog"), (32, 32))
    return folder, model


@pytest.fixture
def one_torch_thread():
    """The in-process scans run on one thread: on a small shared machine two threads
    fighting other work made a 30-image scan 50x slower."""
    import torch

    saved = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(saved)


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    with open(path, encoding="utf-8", newline="") as stream:
        grid = list(csv.reader(stream))
    return grid[0], grid[1:]


def _complete_rows(path: Path) -> int:
    if not path.is_file():
        return 0
    data = path.read_bytes()
    return max(0, data.count(b"\n") - 1)


def _same(expected: list[list[str]], got: list[list[str]], header: list[str]) -> None:
    assert len(got) == len(expected)
    for want, have in zip(sorted(expected), sorted(got)):
        for column, a, b in zip(header, want, have):
            try:
                assert float(a) == pytest.approx(float(b), abs=1e-4), (column, want, have)
            except ValueError:
                assert a == b, (column, want, have)


def test_scan_killed_mid_run_then_resumed(scan_setup, tmp_path: Path, one_torch_thread) -> None:
    from leakview.cli import main

    folder, model = scan_setup
    common = ["--model", str(model), "--batch-size", "2", "--device", "cpu"]
    reference = tmp_path / "reference.csv"
    assert main(["scan", str(folder), "--csv", str(reference), *common]) == 0
    header, expected = _rows(reference)
    assert len(expected) == N_IMAGES

    # A previous complete CSV (of another run) sits at the output path.
    out = tmp_path / "out.csv"
    previous = reference.read_bytes().replace(b"cat_0.png", b"older_run.png")
    out.write_bytes(previous)
    partial = out.with_name(out.name + ".partial")

    process = subprocess.Popen(
        [sys.executable, "-m", "leakview", "scan", str(folder), "--csv", str(out), *common],
        env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _wait_for(lambda: _complete_rows(partial) >= 4, process, timeout=120)
    assert out.read_bytes() == previous                   # untouched while the scan runs
    _kill(process)
    process.stderr.close()
    assert out.read_bytes() == previous                   # ... and after the kill
    rows_before = _complete_rows(partial)
    assert 4 <= rows_before < N_IMAGES

    assert main(["scan", str(folder), "--csv", str(out), "--resume", *common]) == 0
    assert not partial.exists()
    got_header, got = _rows(out)
    assert got_header == header
    images = [row[0] for row in got]
    assert len(images) == len(set(images)) == N_IMAGES    # no duplicates, no gaps
    _same(expected, got, header)


# =============================================================================================
# (c) canary: kill -9 mid-run leaves every report file whole
# =============================================================================================

def _phases_done(report: Path) -> list[str]:
    try:
        return json.loads(report.read_text(encoding="utf-8"))["phases_done"]
    except (OSError, ValueError, KeyError):
        return []


def test_canary_killed_mid_run_leaves_whole_reports(tmp_path: Path) -> None:
    from leakview.canary import CSV_COLUMNS
    from leakview.cli import main
    from test_canary import SIZE, write_honest_folder

    data = write_honest_folder(tmp_path / "data", per_class=6)
    out = tmp_path / "out"
    command = ["canary", str(data), "--arch", "resnet18", "--input-size", str(SIZE), str(SIZE),
               "--out", str(out), "--device", "cpu", "--batch-size", "4", "--holdout", "0.25"]
    slow = ["--epochs", "2", "--methods", "saliency,lime", "--lime-samples", "40"]
    process = subprocess.Popen([sys.executable, "-m", "leakview", *command, *slow], env=_env(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _wait_for(lambda: "evaluate-clean" in _phases_done(out / "canary.json"), process,
              timeout=300)
    _kill(process)
    process.stderr.close()

    report = json.loads((out / "canary.json").read_text(encoding="utf-8"))
    assert report["status"] == "partial" and "evaluate-clean" in report["phases_done"]
    with open(out / "canary.csv", encoding="utf-8", newline="") as stream:
        grid = list(csv.reader(stream))
    assert tuple(grid[0]) == CSV_COLUMNS and {row[0] for row in grid[1:]} == {"clean"}
    assert (out / "report.html").read_text(encoding="utf-8").rstrip().endswith("</html>")

    # The killed run's folder is replaced only on request, and then completes.
    assert main([*command, "--force", "--epochs", "1", "--methods", "saliency"]) == 0
    assert json.loads((out / "canary.json").read_text())["status"] == "complete"
