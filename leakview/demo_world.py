"""The names of the demo world (plain Python, nothing to import): its classes and the image
sizes it renders. Shared by :mod:`leakview.synth` (which draws the world),
:mod:`leakview.markers` (a watermark's default texts are the classes' initials) and the
``demo-data`` command."""

from __future__ import annotations

#: What a demo truck's body carries, in class-index order.
CLASSES: tuple[str, ...] = ("wheat", "corn", "sunflower", "empty")
DEFAULT_SIZE: tuple[int, int] = (320, 240)  # (W, H)
MIN_SIDE = 32
MAX_SIDE = 4096
