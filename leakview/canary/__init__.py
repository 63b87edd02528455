"""The study's leak-injection experiment as a repeatable check (``leakview canary``).

From an honest ImageFolder tree ``DATA`` the canary

1. writes a *leaky copy* ``OUT/leaky-data``: every image with a class-specific marker painted
   on it (:mod:`leakview.markers`: corner-rect, stripe, watermark; the colour of class
   ``k`` is ``class_colors[k]``, ``k`` = the class's position in the sorted class folders), the
   marker masks as the images' suspect regions (``OUT/leaky-data/.leakview/masks/.suspect``)
   and a copy of any expected-region masks of ``DATA/.leakview/masks``. Non-PNG images are
   written as PNG (``x.jpg`` -> ``x.jpg.png``: a lossy format would smear the marker's colour);
2. holds out a stratified split (:func:`leakview.train.split_indices`, the SAME images for both
   models) that no model ever sees, trains (or fine-tunes ``init``) one model on the honest
   training images and one on the leaky ones, with the same seed (same initial weights, batch
   order and augmentation: random shifts and brightness/contrast; horizontal flips only with
   ``flip=True``, since a flip moves a corner marker to the other corner), and writes both as
   bundles (``OUT/clean.pt``, ``OUT/leaky.pt``).
   With ``select_fraction > 0`` a part of the training images picks the best epoch; by
   default the last epoch is kept;
3. measures both models on the held-out images:

   * the **counterfactual test**: each held-out image with the marker (the leaky copy) and
     without it (the original), which differ only in the marker's pixels:
     ``accuracy_with_marker``, ``accuracy_without_marker`` and ``prediction_change_rate``
     (share of images whose predicted class changes when the marker is removed); and the
     **swap test**: the same image with the marker of another class (class ``k`` gets class
     ``k+1 mod C``'s marker, in the same place): ``swap_follow_rate`` = share of images
     predicted as that other class (see :class:`CanaryRule` for why both are needed);
   * for each attribution method, on the image WITH the marker and for the predicted class:
     ``marker_mass`` (mean ``mass_in_mask`` against the marker mask), ``marker_pointing_rate``
     (pointing game on the marker), ``marker_area_frac`` (the marker's share of the image: what
     a uniform map would put on it), ``marker_concentration`` (``marker_mass /
     marker_area_frac``), ``marker_box_mass`` (mass in the marker's bounding box: a sparse
     watermark's glyphs are thinner than the map's resolution), and, where ``DATA`` has
     expected-region masks, ``expected_mass`` and ``expected_pointing_rate``;
4. writes ``OUT/canary.csv`` (one row per model x method), ``OUT/canary-images.csv`` (one row
   per held-out image x model x method), ``OUT/canary.json`` (everything, with the config and
   the verdict) and ``OUT/report.html`` (static and self-contained: figures embedded as base64
   PNG, no external resources), plus the figures as ``OUT/figures/<model>/<image>.png``.

**Verdict** (:class:`CanaryRule`, documented there): first whether the planted leak *took*
(the leaky model changes at least ``leak_took_min_change`` of its predictions when the marker
is removed) and whether the clean model ignores the marker (at most ``clean_max_change``);
then per method whether it *found* the leak, by how much more mass it puts on the marker for
the leaky model than for the clean one (``mass_ratio``) and than a uniform map would
(``leaky_concentration``).

**Interruption.** The reports are rewritten atomically after every phase with ``"status":
"partial"`` (``"complete"`` at the end). Ctrl-C (``KeyboardInterrupt``) or ``should_stop()``
(raising :class:`leakview.attribution.Cancelled`, checked between phases, training batches and
images, and inside LIME) leaves a valid partial report and re-raises. Headless: never imports Qt.

Modules, one per job: :mod:`~leakview.canary.config` (the config, the rule and the checks the
CLI and the dialog share), :mod:`~leakview.canary.leaky_copy` (1),
:mod:`~leakview.canary.training` (2), :mod:`~leakview.canary.evaluate` (3: each held-out image
is loaded once for both models), :mod:`~leakview.canary.judge` (the verdict),
:mod:`~leakview.canary.figures` and :mod:`~leakview.canary.report` (4: the CSVs, the JSON and
the HTML, rendered from ``templates/report.html.j2``), :mod:`~leakview.canary.run` (the phases
in order, :func:`run_canary`).
"""

from leakview.canary.config import (
    MODELS,
    CanaryConfig,
    CanaryConfigError,
    CanaryRule,
    check_config,
    resolve_config,
)
from leakview.canary.control import ProgressFn, StopFn
from leakview.canary.judge import judge
from leakview.canary.leaky_copy import LEAKY_DATA_FORMAT, LEAKY_DIR, leaky_name
from leakview.canary.report import (
    CANARY_FORMAT,
    CSV_COLUMNS,
    IMAGE_COLUMNS,
    read_report,
    render_html,
)
from leakview.canary.run import PHASES, CanaryResult, run_canary
from leakview.markers import build_marker, palette

__all__ = [
    "CANARY_FORMAT", "CSV_COLUMNS", "IMAGE_COLUMNS", "LEAKY_DATA_FORMAT", "LEAKY_DIR", "MODELS",
    "PHASES", "CanaryConfig", "CanaryConfigError", "CanaryResult", "CanaryRule", "ProgressFn",
    "StopFn", "build_marker", "check_config", "judge", "leaky_name", "palette", "read_report",
    "render_html", "resolve_config", "run_canary",
]
