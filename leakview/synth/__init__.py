"""Synthetic grain-terminal images with optional planted leak markers (demo data, canary).

The demo world: a grain truck at a terminal, seen from above (``view="top"``) or from an
elevated side position (``view="side"``), classified by what its body carries
(:data:`CLASSES`). Each scene comes with its *expected region*: the cargo mask.

Expected region (cargo mask)
    Exactly the pixels where cargo was painted and is still visible. Opaque occluders painted
    after the cargo (tarp bows, a partly rolled tarp, a person, a pole / the sampling probe's
    boom) are removed from the mask. A *shadow* only darkens the cargo, it does not hide it, so
    shadowed cargo stays in the mask. For ``"empty"`` the expected region is the body's visible
    inside (the metal floor seen from above; the inner far wall and floor seen from the side):
    the same place a load would be, so every image has a non-empty expected region. The mask is
    taken before the camera stage (a blur of at most ~1 px at 320x240), so a cargo pixel's colour
    may bleed one pixel past the mask edge, as it would in a real photograph.

Geometry and layout never depend on the class: only the texture and colour inside the cargo
region do. With ``cargo_contrast=0`` every class gets the same neutral fill, so the cargo carries
no class information at all; ``1.0`` is the default, honest look; values in between fade the
class-specific colour and texture towards the neutral fill (useful to make a leak marker win).

Randomness: :func:`render_scene` splits the generator it is given into independent streams
(layout, texture, camera), so the cargo contrast or the debug ``sentinel`` fill never changes
the layout. :func:`render_sample` derives everything from ``(seed, class index, index)`` and
draws a marker's own random choices (if any) from a separate stream, so the sample rendered
with ``leak=None`` is pixel-identical to the leaky one outside the marker region.

Leak markers (:data:`MARKERS`, :func:`get_marker`, defined in :mod:`leakview.markers` and
re-exported here) are applied to the finished 8-bit image, as the study did: a digital overlay,
not part of the scene. Headless: numpy, Pillow, scipy only.

Modules: :mod:`~leakview.synth.canvas` (drawing helpers, noise), :mod:`~leakview.synth.textures`
(cargo), :mod:`~leakview.synth.views` (terminal and truck, top and side),
:mod:`~leakview.synth.occluders`, :mod:`~leakview.synth.scene` (:func:`render_scene`) and
:mod:`~leakview.synth.dataset` (samples and the ImageFolder tree).
"""

from leakview.demo_world import CLASSES, DEFAULT_SIZE, MAX_SIDE, MIN_SIDE
from leakview.markers import (
    CORNERS,
    DEFAULT_CLASS_COLORS,
    DEFAULT_MARKER,
    EDGES,
    MARKERS,
    CornerRect,
    Marker,
    Stripe,
    Watermark,
    get_marker,
)
from leakview.synth.dataset import (
    DATASET_FORMAT,
    generate_dataset,
    render_sample,
    render_sample_scene,
    sample_name,
)
from leakview.synth.occluders import OCCLUDERS
from leakview.synth.scene import VIEWS, Scene, render_scene
from leakview.synth.textures import cargo_texture

__all__ = [
    "CLASSES", "CORNERS", "DATASET_FORMAT", "DEFAULT_CLASS_COLORS", "DEFAULT_MARKER",
    "DEFAULT_SIZE", "EDGES", "MARKERS", "MAX_SIDE", "MIN_SIDE", "OCCLUDERS", "VIEWS",
    "CornerRect", "Marker", "Scene", "Stripe", "Watermark", "cargo_texture",
    "generate_dataset", "get_marker", "render_sample", "render_sample_scene", "render_scene",
    "sample_name",
]
