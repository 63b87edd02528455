"""The leakview desktop app (PySide6 + pyqtgraph): thin views over the headless core.

Nothing here computes anything of its own: predictions, attributions, masks, metrics, verdicts,
scans, CSVs and figures all come from the core modules; the GUI runs them off the GUI thread
(:mod:`leakview.gui.workers`) and shows the results.
"""

from leakview.gui import pyside_fixes as _pyside_fixes

_pyside_fixes.apply()
