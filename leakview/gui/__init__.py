"""The leakview desktop app (PySide6 + pyqtgraph): thin views over the headless core.

Nothing here computes anything of its own: predictions, attributions, masks, metrics, verdicts,
scans, CSVs and figures all come from the core modules; the GUI runs them off the GUI thread
(:mod:`leakview.gui.workers`) and shows the results.

Importing this package imports no Qt; :func:`leakview.gui.app.make_application` is the start-up
path (it also runs the PySide6 reference check of :mod:`leakview.gui.pyside_fixes`).
"""
