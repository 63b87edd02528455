"""The window's parts around one AppState, with no window: the settings binding, the panels
bound to the state, FolderAnalysis and Session reading and writing it (real widgets, real
scans, pytest-qt for the event loop)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from leakview.appstate import AppState  # noqa: E402
from leakview.attribution import METHODS  # noqa: E402
from leakview.images import discover_images  # noqa: E402
from leakview.models import load_model  # noqa: E402
from leakview.report import summarize  # noqa: E402
from leakview.verdict import VerdictRule, rejudge  # noqa: E402
from test_gui_support import folder, image_template, settings, tiny_model  # noqa: E402,F401


@pytest.fixture
def runner(qtbot):
    from leakview.gui.workers import JobRunner

    runner = JobRunner()
    yield runner
    runner.shutdown()


def test_settings_load_into_the_state_and_save_its_changes(qapp, settings, tmp_path):
    from leakview.gui.settings import AppSettings, bind_settings

    settings.set_rule(VerdictRule(0.35, 0.25))
    settings.set_analysis_methods(("gradcam", "lime"))
    state = AppState()
    bind_settings(state, settings)
    assert state.rule == VerdictRule(0.35, 0.25)
    assert state.methods == ("gradcam", "lime")

    state.root = tmp_path / "images"
    state.model_path = str(tmp_path / "a.pt")    # asked for: remembered once it loaded
    assert AppSettings(settings.store).last_model == ""
    state.model = object()                         # what the model loader sets
    state.model_path = str(tmp_path / "b.pt")
    state.model = object()
    state.rule = VerdictRule(0.6, 0.7)
    state.methods = ("saliency",)
    reread = AppSettings(settings.store)
    assert reread.last_folder == str(tmp_path / "images")
    assert reread.recent("recent_folders") == [str(tmp_path / "images")]
    assert reread.last_model == str(tmp_path / "b.pt")
    assert reread.recent("recent_models") == [str(tmp_path / "b.pt"), str(tmp_path / "a.pt")]
    assert reread.rule() == VerdictRule(0.6, 0.7)
    assert reread.analysis_methods() == ("saliency",)
    state.root = None                         # no folder: nothing to remember
    assert reread.last_folder == str(tmp_path / "images")


def test_unknown_saved_methods_are_dropped(qapp, settings):
    settings.set_value("analysis/methods", ["saliency", "no-such-method"])
    assert settings.analysis_methods() == ("saliency",)


def test_folder_panel_ticks_are_the_states_methods(qtbot):
    from leakview.gui.folder_view import FolderPanel

    state = AppState(methods=("gradcam",))
    panel = FolderPanel(state)
    qtbot.addWidget(panel)
    assert panel.methods() == ("gradcam",)
    panel.method_boxes["saliency"].setChecked(True)       # as a click does
    assert state.methods == ("saliency", "gradcam")
    state.methods = ("lime",)
    assert [m for m, box in panel.method_boxes.items() if box.isChecked()] == ["lime"]
    panel.set_methods(("smoothgrad", "integrated_gradients"))
    assert state.methods == ("smoothgrad", "integrated_gradients")


def test_results_panel_rule_and_target_are_the_states(qtbot, settings, tiny_model):
    from leakview.gui.results_panel import ResultsPanel

    state = AppState(rule=VerdictRule(0.4, 0.3))
    panel = ResultsPanel(state, {method: settings.layer_options(method) for method in METHODS})
    qtbot.addWidget(panel)
    assert panel.rule() == VerdictRule(0.4, 0.3)
    panel.max_flag_rate.setValue(60)
    assert state.rule == VerdictRule(0.4, 0.6)
    state.rule = VerdictRule(0.25, 0.8)
    assert (panel.min_topk_share.value(), panel.max_flag_rate.value()) == (0.25, 80)

    model = load_model(tiny_model, device="cpu")
    panel.set_model(model, str(tiny_model))
    panel.target.setCurrentIndex(panel.target.findData(1))
    assert state.target == 1
    state.target = 0
    assert panel.target.currentData() == 0
    panel.set_model(model, str(tiny_model))              # the same classes: the target stays
    assert panel.target.currentData() == 0 and state.target == 0
    panel.set_model(None, "")                            # no model: the predicted class
    assert panel.target.currentData() is None and state.target is None


def test_folder_analysis_writes_the_state_and_rejudges_on_a_new_rule(qtbot, runner, folder,
                                                                     tiny_model):
    from leakview.gui.analysis import FolderAnalysis

    state = AppState(root=folder.absolute(), model=load_model(tiny_model, device="cpu"))
    analysis = FolderAnalysis(state, runner)
    paths = discover_images(state.root)
    with qtbot.waitSignal(analysis.finished, timeout=60000):
        analysis.start(paths, ("saliency",))
    assert analysis.complete and len(state.rows) == len(paths)
    assert state.summary == summarize(state.rows, state.rule)
    before = state.rows

    judged: list[object] = []
    analysis.resultJudged.connect(lambda path, rows: judged.append(path))
    strict = VerdictRule(min_topk_share=0.95, max_flag_rate=0.2)
    state.rule = strict                                   # no model run: judged again at once
    assert state.rows == rejudge(before, strict, state.topk_fraction)
    assert state.summary == summarize(state.rows, strict)
    assert sorted(judged) == sorted(paths)

    cleared: list[bool] = []
    analysis.cleared.connect(lambda: cleared.append(True))
    analysis.reset()
    assert state.rows == [] and state.summary is None and cleared == [True]


def test_a_reset_drops_the_running_analysis(qtbot, runner, folder, tiny_model):
    from leakview.gui.analysis import FolderAnalysis

    state = AppState(root=folder.absolute(), model=load_model(tiny_model, device="cpu"))
    analysis = FolderAnalysis(state, runner)
    finished: list[object] = []
    analysis.finished.connect(finished.append)
    job = analysis.start(discover_images(state.root), ("smoothgrad",))
    analysis.reset()
    qtbot.waitUntil(lambda: job.id not in runner.active, timeout=60000)
    qtbot.wait(50)
    assert finished == [] and state.rows == [] and state.summary is None
    assert not analysis.running()
    with pytest.raises(ValueError):
        FolderAnalysis(AppState(), runner).start([], ("saliency",))


def test_session_reads_the_state_and_restarts_on_a_new_target(qtbot, runner, folder,
                                                              tiny_model):
    from leakview.gui.mask_doc import MaskStore
    from leakview.gui.session import Session

    state = AppState(layer_methods=("saliency",))
    session = Session(state, runner, MaskStore(runner))
    with qtbot.waitSignal(session.modelChanged, timeout=30000):
        session.open_model(str(tiny_model))
        assert state.model_path == str(tiny_model)      # at once; the model when loaded
    assert state.model is not None and session.model is state.model
    session.set_folder(folder)
    assert state.root == Path(folder).absolute() and state.image is None
    first = discover_images(folder)[0]
    session.open_image(first)
    assert state.image == first
    qtbot.waitUntil(lambda: "saliency" in session.attributions, timeout=30000)
    generation = session.generation
    state.target = 1
    assert session.generation > generation and session.attributions == {}
    qtbot.waitUntil(lambda: "saliency" in session.attributions, timeout=30000)
    assert session.attributions["saliency"].target == 1
    assert session.figure_inputs().shown.path == first
