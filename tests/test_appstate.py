"""The headless application state (leakview.appstate): values, change signals, no Qt.

Every test here but the last runs in the pytest process; the last runs them all again in a
fresh interpreter and checks that no Qt module was imported there.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch

from leakview.appstate import DEFAULT_LAYERS, DEFAULT_METHODS, AppState
from leakview.models import LoadedModel
from leakview.scan import ScanOptions
from leakview.scanrow import ScanRow
from leakview.verdict import VerdictRule

QT_MODULES = ("PySide6", "pyqtgraph", "PyQt5", "PyQt6", "qtpy", "shiboken6")


def _model(module: torch.nn.Module) -> LoadedModel:
    return LoadedModel(module=module, classes=["cat", "dog"], input_size=(8, 8))


def _recorder(state: AppState, name: str) -> list[tuple]:
    calls: list[tuple] = []
    getattr(state.events, name).connect(lambda *args: calls.append(args))
    return calls


def test_defaults_are_the_scans() -> None:
    state = AppState()
    assert state.root is None and state.masks_root is None and state.image is None
    assert state.model is None and state.model_path == "" and state.target is None
    assert state.rule == VerdictRule()
    assert state.topk_fraction == ScanOptions().topk_fraction
    assert state.methods == DEFAULT_METHODS == ("saliency",)
    assert state.layer_methods == DEFAULT_LAYERS == ("saliency", "gradcam")
    assert state.rows == [] and state.summary is None


def test_every_field_signals_a_change_once_and_a_repeat_never() -> None:
    changes = {
        "root": (Path("/data/a"), Path("/data/b")),
        "masks_root": (Path("/masks/a"), Path("/masks/b")),
        "model_path": ("a.pt", "b.pt"),
        "model": (_model(torch.nn.Identity()), _model(torch.nn.Identity())),
        "rule": (VerdictRule(0.3, 0.4), VerdictRule(0.5, 0.6)),
        "topk_fraction": (0.1, 0.2),
        "target": (0, 1),
        "methods": (("saliency", "lime"), ("gradcam",)),
        "layer_methods": (("smoothgrad",), ()),
        "image": (Path("/data/a/x.png"), Path("/data/a/y.png")),
        "rows": ([ScanRow("x.png")], [ScanRow("y.png")]),
        "summary": ({"verdict": "ok"}, {"verdict": "leak"}),
    }
    state = AppState()
    for name, (first, second) in changes.items():
        calls = _recorder(state, name)
        before = getattr(state, name)
        setattr(state, name, first)
        setattr(state, name, first)           # the same value again: no signal
        setattr(state, name, second)
        assert getattr(state, name) is second, name
        assert calls == [(first, before), (second, first)], name


def test_equal_values_emit_nothing() -> None:
    row = ScanRow("x.png", method="saliency", leak_flag=1)
    state = AppState(root=Path("/data"), rule=VerdictRule(0.3, 0.4), methods=("saliency",),
                     rows=[row])
    calls: list[object] = []
    state.events.connect(calls.append)         # every field's signal
    state.root = Path("/data")
    state.rule = VerdictRule(0.3, 0.4)
    state.methods = ("saliency",)
    state.rows = [row]
    state.target = None
    assert calls == []


def test_the_model_is_compared_by_identity() -> None:
    module = torch.nn.Identity()
    first, reloaded = _model(module), _model(module)
    assert first == reloaded                   # equal fields, yet another load
    state = AppState()
    calls = _recorder(state, "model")
    state.model = first
    state.model = first
    state.model = reloaded
    assert [new for new, _ in calls] == [first, reloaded]


def test_results_are_replaced_not_mutated() -> None:
    state = AppState()
    rows = _recorder(state, "rows")
    summaries = _recorder(state, "summary")
    state.add_rows([])                         # nothing to add: no signal
    first = ScanRow("a.png")
    state.add_rows([first])
    kept = state.rows
    state.add_rows([ScanRow("b.png"), ScanRow("c.png")])
    assert kept == [first]                     # the list handed out before is unchanged
    assert [row["image"] for row in state.rows] == ["a.png", "b.png", "c.png"]
    assert len(rows) == 2
    state.summary = {"verdict": "ok"}
    state.clear_results()
    assert state.rows == [] and state.summary is None
    assert len(rows) == 3 and rows[-1][0] == []
    assert summaries == [({"verdict": "ok"}, None), (None, {"verdict": "ok"})]
    state.clear_results()                      # already empty: no signal
    assert len(rows) == 3 and len(summaries) == 2


def test_a_listener_may_set_another_field() -> None:
    """Listeners run synchronously, in connection order; one may write the state again."""
    state = AppState()
    order: list[str] = []
    state.events.model_path.connect(lambda path: order.append(f"saved {path}"))
    state.events.root.connect(lambda root: setattr(state, "image", None if root is None
                                                   else root / "first.png"))
    state.events.image.connect(lambda image: order.append(f"image {image.name}"))
    state.model_path = "m.pt"
    state.root = Path("/data")
    assert order == ["saved m.pt", "image first.png"]
    assert state.image == Path("/data/first.png")


def test_no_qt_in_a_fresh_interpreter() -> None:
    """The tests above, run where nothing imported Qt before: none of them imports it."""
    script = (
        "import sys, types\n"
        f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "import test_appstate as module\n"
        "for name in dir(module):\n"
        "    if name.startswith('test_') and name != 'test_no_qt_in_a_fresh_interpreter':\n"
        "        getattr(module, name)()\n"
        f"print(','.join(sorted(m for m in sys.modules if m.split('.')[0] in {QT_MODULES!r})))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"Qt modules imported: {result.stdout}"
