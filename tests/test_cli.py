"""The command line: version, help, and clear one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from leakview import __version__
from leakview.cli import main
from leakview.models import build_architecture, save_bundle


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "leakview", *args], capture_output=True,
                          text=True, timeout=300)


def test_version_and_help_in_a_real_process() -> None:
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"leakview {__version__}"
    result = run_cli("--help")
    assert result.returncode == 0
    assert "info" in result.stdout and "gui" in result.stdout


def test_version_does_not_import_torch() -> None:
    """`leakview --version` answers at once: it loads neither torch nor Qt."""
    code = ("import sys; from leakview.cli import main; status = main(['--version']); "
            "print(status, sorted(m for m in ('torch', 'PySide6') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=120)
    assert result.stdout.splitlines() == [f"leakview {__version__}", "0 []"]


def test_unknown_command_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as info:
        main(["no-such-command"])
    assert info.value.code == 2


def test_info_describes_a_bundle(tmp_path: Path, capsys) -> None:
    module = build_architecture("mobilenet_v3_small", 2, (32, 32))
    path = save_bundle(tmp_path / "m.pt", module, "mobilenet_v3_small", ["a", "b"], (32, 32))
    assert main(["info", str(path), "--device", "cpu", "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["arch"] == "mobilenet_v3_small"
    assert described["classes"] == ["a", "b"]
    assert described["input_size"] == [32, 32]


def test_info_on_a_bad_file_prints_one_line_and_fails(tmp_path: Path, capsys) -> None:
    path = tmp_path / "notes.pt"
    path.write_text("not a model")
    assert main(["info", str(path)]) == 1
    error = capsys.readouterr().err.strip()
    assert error.count("\n") == 0
    assert str(path) in error and "not a PyTorch checkpoint" in error


@pytest.mark.parametrize("args,message", [
    (["scan", "{folder}", "--csv", "{csv}", "--max-flag-rate", "1.5"], "--max-flag-rate"),
    (["scan", "{folder}", "--csv", "{csv}", "--max-flag-rate", "0"], "above 0"),
    (["scan", "{folder}", "--csv", "{csv}", "--min-topk-share", "-0.1"], "--min-topk-share"),
    (["scan", "{folder}", "--csv", "{csv}", "--min-topk-share", "nan"], "finite"),
    (["scan", "{folder}", "--csv", "{csv}", "--device", "bogus"], "unknown device 'bogus'"),
    (["scan", "{folder}", "--csv", "{csv}", "--device", "cuda:97"], "cuda:97"),
    (["info", "{model}", "--device", "tpu:x"], "unknown device"),
    (["train", "{folder}", "--arch", "resnet18", "--out", "{model}", "--device", "bogus"],
     "unknown device"),
    (["atlas", "{folder}", "--out", "{csv}", "--device", "bogus"], "unknown device"),
])
def test_bad_thresholds_and_devices_are_usage_errors(tmp_path: Path, capsys, args: list[str],
                                                    message: str) -> None:
    """Exit status 2 and argparse's one line, before any model is loaded or file written."""
    folder = tmp_path / "images"
    folder.mkdir()
    values = {"folder": str(folder), "csv": str(tmp_path / "out.csv"),
              "model": str(tmp_path / "m.pt")}
    with pytest.raises(SystemExit) as info:
        main([arg.format(**values) for arg in args])
    assert info.value.code == 2
    error = capsys.readouterr().err
    assert message in error
    assert sorted(path.name for path in tmp_path.iterdir()) == ["images"]


def test_verdict_rule_refuses_thresholds_out_of_range() -> None:
    from leakview.verdict import VerdictRule

    for bad in ({"min_topk_share": 1.2}, {"min_topk_share": float("nan")},
                {"max_flag_rate": 0.0}, {"max_flag_rate": 2.0}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            VerdictRule(**bad)
    assert VerdictRule(min_topk_share=0.0, max_flag_rate=1.0).max_flag_rate == 1.0
