"""What the menus, shortcuts and buttons do (the main window's action handlers).

Every handler with a file dialog has a dialog-free twin taking the path (``open_folder``,
``export_csv_to``, ``export_figure_to``, ``export_summary_to``, ``import_masks_from``) so that
tests and scripts drive the same code.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox

from leakview import __version__
from leakview.attribution import METHODS, resolve_options
from leakview.images import discover_images
from leakview.masks import import_masks
from leakview.gui.actions import ShortcutsDialog
from leakview.gui.drawing import Tool
from leakview.gui.exporting import export_csv, export_figure, export_summary, figure
from leakview.gui.results_panel import demo_models

MODEL_FILTER = "Model bundles (*.pt *.pth *.ckpt *.bin);;All files (*)"


class CommandsMixin:
    # -- folders -------------------------------------------------------------------------------
    def open_folder(self, folder: str | Path) -> bool:
        root = Path(folder)
        problems: list[str] = []
        try:
            paths = discover_images(root, on_error=lambda path, why: problems.append(
                f"{path}: {why}"))
        except (OSError, ValueError) as error:
            self.show_message(f"Cannot open folder {root}: {error}")
            return False
        self.store.flush()
        self.analysis.cancel()
        self.root = root
        self.session.set_folder(root)
        self.undo_group.setActiveStack(None)
        self.drawing.set_document(None)
        self.canvas.clear()
        model = self.session.model
        self.image_list.set_images(root, paths, model.classes if model is not None else ())
        self.settings.last_folder = str(root)
        self.folder_panel.set_exportable(False)
        self.analysis.rows, self.analysis.summary = [], None
        self.folder_panel.verdict.setText("Not analysed yet")
        if problems:
            self.show_message("Skipped unreadable folders: " + "; ".join(problems[:3]),
                              "warning")
        elif not paths:
            self.show_message(f"No images in {root}", "warning")
        if paths:
            self.image_list.step(1)
        return True

    def on_open_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open image folder",
                                                  self.settings.last_folder)
        if folder:
            self.open_folder(folder)

    def on_open_demo(self) -> None:
        """The bundled demo images (their writable copy), with the model kept as it is."""
        from leakview.resources import demo_workspace

        self.open_folder(demo_workspace())

    def _fill_recent_folders(self) -> None:
        menu = self.recent_folders_menu
        menu.clear()
        for folder in self.settings.recent("recent_folders"):
            menu.addAction(folder, lambda f=folder: self.open_folder(f))
        menu.setEnabled(True)

    def _fill_model_menu(self) -> None:
        menu = self.menus["&Model"]
        menu.clear()
        for label, path in demo_models():
            action = menu.addAction(label, lambda p=path: self.open_model(p))
            action.setCheckable(True)
            action.setChecked(path == self.session.model_path)
        recent = [p for p in self.settings.recent("recent_models")
                  if p not in {path for _, path in demo_models()}]
        if recent:
            menu.addSeparator()
            for path in recent:
                action = menu.addAction(Path(path).name, lambda p=path: self.open_model(p))
                action.setToolTip(path)
                action.setCheckable(True)
                action.setChecked(path == self.session.model_path)
        menu.addSeparator()
        menu.addAction(self.actions["open_model"])

    def on_open_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open model", self.settings.last_model,
                                              MODEL_FILTER)
        if path:
            self.open_model(path)

    # -- navigation and view -------------------------------------------------------------------
    def on_next_image(self) -> None:
        self.image_list.step(1)

    def on_previous_image(self) -> None:
        self.image_list.step(-1)

    def on_fit(self) -> None:
        self.canvas.fit()

    def on_one_to_one(self) -> None:
        self.canvas.one_to_one()

    def on_zoom_in(self) -> None:
        self.canvas.zoom(1.25)

    def on_zoom_out(self) -> None:
        self.canvas.zoom(0.8)

    def on_side_by_side(self) -> None:
        self.stack.setCurrentIndex(1 if self.actions["side_by_side"].isChecked() else 0)
        self.refresh_figure()

    def _toggle_layer(self, index: int) -> None:
        self.results.layers.toggle(index)

    def on_layer_1(self) -> None:
        self._toggle_layer(0)

    def on_layer_2(self) -> None:
        self._toggle_layer(1)

    def on_layer_3(self) -> None:
        self._toggle_layer(2)

    def on_layer_4(self) -> None:
        self._toggle_layer(3)

    def on_layer_5(self) -> None:
        self._toggle_layer(4)

    def schedule_figure(self) -> None:
        if self.stack.currentIndex() == 1:
            self.figure_timer.start()

    def _figure_inputs(self):
        shown, document = self.session.image, self.session.document
        if shown is None:
            return None
        model = self.session.model
        probabilities = self.session.probabilities
        title = shown.name
        if model is not None and probabilities is not None:
            best = int(probabilities.argmax())
            title += (f"  label: {self.session.label() or '-'}  predicted: "
                      f"{model.classes[best]} ({float(probabilities[best]):.0%})")
        mask = document.mask if document is not None else None
        return shown, dict(self.session.attributions), mask, title

    def refresh_figure(self) -> None:
        """Side-by-side mode: original | saliency | LIME via ``report.study_figure``."""
        inputs = self._figure_inputs()
        if inputs is None or self.stack.currentIndex() != 1:
            return
        shown, attributions, mask, title = inputs
        generation = self.session.generation
        self.runner.run(lambda ctx: figure(shown.pixels, attributions, mask, title),
                        "Figure", lane="io",
                        stale=lambda: self.session.generation != generation,
                        on_done=lambda pixels: self.figure_canvas.set_figure(pixels,
                                                                             str(shown.path)))

    # -- drawing -------------------------------------------------------------------------------
    def on_tool_pan(self) -> None:
        self.drawing.set_tool(Tool.PAN)

    def on_tool_polygon(self) -> None:
        self.drawing.set_tool(Tool.POLYGON)

    def on_tool_rectangle(self) -> None:
        self.drawing.set_tool(Tool.RECTANGLE)

    def on_tool_ellipse(self) -> None:
        self.drawing.set_tool(Tool.ELLIPSE)

    def on_tool_brush(self) -> None:
        self.drawing.set_tool(Tool.BRUSH)

    def on_tool_eraser(self) -> None:
        self.drawing.set_tool(Tool.ERASER)

    def on_brush_smaller(self) -> None:
        self.drawing.shrink()

    def on_brush_bigger(self) -> None:
        self.drawing.grow()

    def on_clear_mask(self) -> None:
        self.drawing.clear_mask()

    # -- analysis ------------------------------------------------------------------------------
    def on_run_lime(self) -> None:
        if self.session.model is None or self.session.image is None:
            self.show_message("Open an image and a model first", "warning")
            return
        try:
            options = self.results.lime_form.values()
        except ValueError as error:
            self.show_message(f"LIME options: {error}")
            return
        self.results.layers.set_visible("lime", True)
        done = self.session.attributions.get("lime")
        if done is not None and done.options == resolve_options("lime", options):
            self.status.set_extra("LIME is already computed with these options")
            return
        self.session.compute("lime", options)

    def on_cancel_jobs(self) -> None:
        self.runner.cancel_user_jobs()

    def folder_method_options(self, methods) -> dict:
        options = {}
        if "lime" in methods:
            options["lime"] = self.results.lime_form.values()
        return options

    def on_analyze_folder(self) -> None:
        if self.root is None or self.session.model is None:
            self.show_message("Open a folder and a model first", "warning")
            return
        methods = self.folder_panel.methods()
        if not methods:
            self.show_message("Tick at least one method to analyze", "warning")
            return
        try:
            method_options = self.folder_method_options(methods)
        except ValueError as error:
            self.show_message(f"LIME options: {error}")
            return
        self.store.flush()
        paths = [row.path for row in self.image_list.model.rows]
        self.settings.set_value("analysis/methods", list(methods))
        self.analysis.start(self.session.model, self.root, paths, methods, method_options,
                            self.session.rule, self.session.masks_root)

    def _analysis_result(self, result) -> None:
        self.image_list.model.set_results(result.path, result.rows)
        self.folder_panel.set_running(True, self.analysis.done, self.analysis.total)

    def _analysis_finished(self, summary) -> None:
        self.folder_panel.set_running(False)
        self.folder_panel.show_summary(summary, self.analysis.complete, self.analysis.done,
                                       self.analysis.total)
        self.folder_dock.show()

    def _analysis_failed(self, reason: str) -> None:
        self.folder_panel.set_running(False)
        self.folder_panel.verdict.setText("Analysis failed")
        self.show_message(f"Folder analysis failed: {reason}")

    # -- exports -------------------------------------------------------------------------------
    def _save_name(self, title: str, suffix: str, pattern: str) -> str:
        start = str((self.root or Path.home()) / f"leakview{suffix}")
        path, _ = QFileDialog.getSaveFileName(self, title, start, pattern)
        return path

    def export_csv_to(self, path: str | Path) -> Path | None:
        if not self.analysis.rows:
            self.show_message("Nothing to export yet: run Analysis > Analyze folder (Ctrl+R) "
                              "first", "warning")
            return None
        try:
            written = export_csv(path, self.analysis.rows)
        except OSError as error:
            self.show_message(f"Cannot write {path}: {error}")
            return None
        self.status.set_extra(f"Wrote {len(self.analysis.rows)} rows to {written}")
        return written

    def on_export_csv(self) -> None:
        if not self.analysis.rows:
            self.export_csv_to("")
            return
        path = self._save_name("Export CSV", ".csv", "CSV (*.csv)")
        if path:
            self.export_csv_to(path)

    def export_summary_to(self, path: str | Path) -> Path | None:
        if self.analysis.summary is None:
            self.show_message("No folder summary yet: run Analyze folder first", "warning")
            return None
        try:
            return export_summary(path, self.analysis.summary, self.analysis.model_source,
                                  str(self.analysis.root), self.analysis.methods)
        except OSError as error:
            self.show_message(f"Cannot write {path}: {error}")
            return None

    def on_export_summary(self) -> None:
        path = self._save_name("Export summary", "-summary.json", "JSON (*.json)")
        if path:
            self.export_summary_to(path)

    def export_figure_to(self, path: str | Path):
        inputs = self._figure_inputs()
        if inputs is None:
            self.show_message("No image to export", "warning")
            return None
        shown, attributions, mask, title = inputs
        return self.runner.run(
            lambda ctx: export_figure(path, figure(shown.pixels, attributions, mask, title)),
            "Saving figure", lane="io", visible=True,
            on_done=lambda written: self.status.set_extra(f"Saved {written}"),
            on_error=lambda reason: self.show_message(f"Cannot save figure: {reason}"))

    def on_export_figure(self) -> None:
        path = self._save_name("Export figure", ".png", "PNG (*.png)")
        if path:
            self.export_figure_to(path)

    # -- masks import ----------------------------------------------------------------------
    def import_masks_from(self, source: str | Path, fmt: str):
        if self.root is None:
            self.show_message("Open a folder first", "warning")
            return None
        self.store.flush()
        root, masks_root = self.root, self.session.masks_root

        def work(ctx):
            return import_masks(source, fmt, root, masks_root,
                                progress=lambda done, total: ctx.progress((done, total)))

        def done(report) -> None:
            self.session.forget_documents()
            self.image_list.model.refresh_masks()
            level = "warning" if report.skipped else "info"
            self.show_message(report.summary().replace("\n", " · "), level)

        return self.runner.run(work, f"Importing {fmt} masks", lane="io", visible=True,
                               cancellable=False, on_done=done,
                               on_error=lambda reason: self.show_message(
                                   f"Import failed: {reason}"))

    def on_import_masks(self) -> None:
        fmt, ok = QInputDialog.getItem(self, "Import masks", "Annotation format",
                                       ["labelme", "coco"], 0, False)
        if not ok:
            return
        if fmt == "coco":
            source, _ = QFileDialog.getOpenFileName(self, "COCO instances JSON", "",
                                                    "JSON (*.json)")
        else:
            source = QFileDialog.getExistingDirectory(self, "Folder of LabelMe JSON files")
        if source:
            self.import_masks_from(source, fmt)

    # -- help / quit ---------------------------------------------------------------------------
    def on_shortcuts(self) -> None:
        self.shortcuts_dialog = ShortcutsDialog(self)
        self.shortcuts_dialog.show()

    def on_about(self) -> None:
        QMessageBox.about(self, "About leakview",
                          f"leakview {__version__}\nFind data leakage (Clever Hans shortcuts) "
                          "in image classifiers.\nMethods: "
                          + ", ".join(info.label for info in METHODS.values()))

    def on_quit(self) -> None:
        self.close()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self._closing = True
        self.store.flush()
        self.settings.set_geometry("geometry", self.saveGeometry())
        self.settings.set_geometry("state", self.saveState())
        self.settings.sync()
        self.runner.shutdown()
        super().closeEvent(event)

