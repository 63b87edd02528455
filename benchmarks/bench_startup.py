"""Start-up time of the command line (not a test).

Runs each command in a fresh process ``--runs`` times (default 5) and prints the median
wall-clock time and its ratio to a bare ``python -c pass`` (the interpreter's own start-up):
``leakview --help``, ``leakview scan --help`` (answered without importing torch, lime,
scikit-image or Qt) and ``leakview info`` on the bundled demo-clean model (which loads torch
and the model: the floor of any command that runs a model).

Usage: ``python benchmarks/bench_startup.py [--runs 5]``. On a busy machine the figures grow
with the load; the ratios say more than the seconds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def commands() -> dict[str, list[str]]:
    """Each measured command line, by its label."""
    from leakview.resources import demo_model_path

    leakview = [sys.executable, "-m", "leakview"]
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "leakview --help": [*leakview, "--help"],
        "leakview scan --help": [*leakview, "scan", "--help"],
        "leakview info demo-clean": [*leakview, "info", str(demo_model_path("clean")),
                                     "--device", "cpu"],
    }


def median_seconds(command: list[str], runs: int) -> float:
    """The median wall-clock time of ``runs`` runs of ``command`` (each must succeed)."""
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env=environment)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per command (default 5)")
    args = parser.parse_args()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"median of {args.runs} runs each, load average {load:.1f}, {os.cpu_count()} CPUs")
    baseline = None
    for label, command in commands().items():
        seconds = median_seconds(command, args.runs)
        baseline = baseline or seconds
        print(f"  {label:<26} {seconds:7.2f} s  {seconds / baseline:6.1f} x python -c pass")


if __name__ == "__main__":
    main()
