"""The command line starts fast: ``--help`` and usage errors are answered without importing
torch, lime, scikit-image or Qt (benchmarks/bench_startup.py measures the time)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from leakview.cli import COMMANDS

#: Packages that take seconds to import; only a command that runs needs them.
HEAVY = ("torch", "torchvision", "lime", "skimage", "PySide6", "pyqtgraph", "sklearn")

# Imports leakview.cli, runs main(ARGV) as `leakview` would, then prints the exit status and
# the heavy packages that were imported along the way.
RUNNER = """
import sys
from leakview.cli import main
try:
    status = main(sys.argv[1:])
except SystemExit as exit:
    status = exit.code
heavy = sorted({name.split('.')[0] for name in sys.modules} & set(sys.argv[0].split(',')))
print('STATUS', status)
print('HEAVY', ','.join(heavy))
"""


def heavy_imports(*argv: str) -> tuple[object, list[str], str]:
    """(exit status, heavy packages imported, stderr) of ``leakview ARGV`` in a fresh process."""
    result = subprocess.run([sys.executable, "-c", RUNNER.replace("sys.argv[0]",
                                                                  repr(",".join(HEAVY))),
                             *argv], capture_output=True, text=True, timeout=300)
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines()
                 if line.startswith(("STATUS ", "HEAVY ")))
    assert "STATUS" in lines, result.stderr
    heavy = [name for name in lines["HEAVY"].split(",") if name]
    return lines["STATUS"], heavy, result.stderr


def test_top_level_help_imports_nothing_heavy() -> None:
    status, heavy, _ = heavy_imports("--help")
    assert status == "0"
    assert heavy == [], f"leakview --help imported {heavy}"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_every_command_help_imports_nothing_heavy(command: str) -> None:
    status, heavy, _ = heavy_imports(command, "--help")
    assert status == "0"
    assert heavy == [], f"leakview {command} --help imported {heavy}"


@pytest.mark.parametrize("argv", [
    ("scan", "data"),                         # --csv missing: argparse's usage error
    ("atlas", "data", "--out", "a.png", "--method", "nope"),
    ("scan", "no-such-folder", "--csv", "x.csv", "--model", "m.pt"),
    ("merge",),
    ("no-such-command",),
])
def test_usage_errors_import_nothing_heavy(argv: tuple[str, ...]) -> None:
    status, heavy, stderr = heavy_imports(*argv)
    assert status == "2", stderr
    assert heavy == [], f"leakview {' '.join(argv)} imported {heavy}"


def test_python_m_leakview_help_in_a_real_process() -> None:
    """The entry point itself (``python -m leakview``) answers --help, torch-free: checked with
    -X importtime, which lists every module the process imported."""
    for argv in (["--help"], ["scan", "--help"]):
        result = subprocess.run([sys.executable, "-X", "importtime", "-m", "leakview", *argv],
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-2000:]
        imported = {line.rsplit("|", 1)[-1].strip().split(".")[0]
                    for line in result.stderr.splitlines() if line.startswith("import time:")}
        assert "leakview" in imported
        assert imported & set(HEAVY) == set(), f"{argv} imported {imported & set(HEAVY)}"


def test_static_method_names_match_the_registry() -> None:
    """The parsers list the methods from :data:`leakview.method_names.METHOD_NAMES` (no
    torch); the registry is the truth it must follow."""
    from leakview.attribution import method_names
    from leakview.method_names import METHOD_NAMES

    assert list(METHOD_NAMES) == method_names()
