"""What the menus, shortcuts and buttons do, one controller per feature.

Each controller is a plain dataclass whose fields are what it uses (the state, the core
objects, the widgets), all given explicitly when it is built; ``__post_init__`` connects their
signals, and ``handlers()`` names its action handlers (action name -> callable, see
:mod:`leakview.gui.actions`). Every handler with a
file dialog has a dialog-free twin taking the path (``FolderController.open_folder``,
``ExportController.export_csv_to`` ...) so that tests and scripts drive the same code.
"""

from leakview.gui.controllers.analyze import AnalysisController
from leakview.gui.controllers.canary import CanaryController
from leakview.gui.controllers.export import ExportController
from leakview.gui.controllers.folder import FolderController
from leakview.gui.controllers.help import HelpController
from leakview.gui.controllers.image import ImageController
from leakview.gui.controllers.layers import LayerController
from leakview.gui.controllers.masks import MaskController
from leakview.gui.controllers.model import ModelController
from leakview.gui.controllers.regions import RegionController

__all__ = [
    "AnalysisController",
    "CanaryController",
    "ExportController",
    "FolderController",
    "HelpController",
    "ImageController",
    "LayerController",
    "MaskController",
    "ModelController",
    "RegionController",
]
