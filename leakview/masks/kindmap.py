"""Annotation labels to region kinds (:class:`KindMap`, ``--kind-map LABEL=KIND,...``).

A LabelMe label or COCO category name goes to one of :data:`~leakview.layout.REGION_KINDS`:

* by default (:data:`DEFAULT_KIND_MAP`) the label ``suspect`` goes to the suspect region and
  every other label (``expected`` among them) to the expected one -- an import without a map
  works as it always has, and a leakview export (labels ``expected`` / ``suspect``) comes back
  with its kinds;
* with a map (:meth:`KindMap.parse` of ``"cargo=expected,tag=suspect"``) the listed labels go to
  their kinds, ``expected`` and ``suspect`` to themselves unless listed, and any other label is
  not imported (the importer counts those shapes).

An export writes each kind under one label (:meth:`KindMap.export_labels`): the kind's name
unless the map gives the kind exactly one label.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from leakview.layout import EXPECTED, REGION_KINDS, SUSPECT

__all__ = ["ALL_EXPECTED", "DEFAULT_KIND_MAP", "KindMap"]


@dataclass(frozen=True)
class KindMap:
    """``labels``: label -> kind; ``default``: the kind of any other label (None: not
    imported)."""

    labels: Mapping[str, str]
    default: str | None = None

    def kind_of(self, label: str) -> str | None:
        """The region kind shapes labelled ``label`` go to, or None (not imported)."""
        return self.labels.get(label, self.default)

    def kinds(self) -> tuple[str, ...]:
        """The kinds some label can go to, in :data:`REGION_KINDS` order."""
        reachable = set(self.labels.values()) | ({self.default} if self.default else set())
        return tuple(kind for kind in REGION_KINDS if kind in reachable)

    def export_labels(self, kinds: Collection[str] = REGION_KINDS) -> dict[str, str]:
        """kind -> the label an export writes it under: the one label the map gives it, else
        the kind's name. ValueError when the map gives one of ``kinds`` several labels."""
        out: dict[str, str] = {}
        for kind in kinds:
            given = sorted(label for label, to in self.labels.items()
                           if to == kind and label not in REGION_KINDS)
            if len(given) > 1:
                raise ValueError(f"{kind} is given several labels ({', '.join(given)}): an "
                                 "export needs one label per kind")
            out[kind] = given[0] if given else kind
        names = list(out.values())
        for label in names:
            if names.count(label) > 1:
                raise ValueError(f"label {label!r} is given to several kinds")
        return out

    @classmethod
    def parse(cls, text: str) -> KindMap:
        """``"cargo=expected, tag=suspect"`` -> a map (see the module docstring). ValueError
        naming the bad item: no ``=``, an empty label, an unknown kind, a label given twice."""
        labels: dict[str, str] = {}
        items = [item.strip() for item in text.split(",")]
        if not any(items):
            raise ValueError("empty kind map (expected LABEL=KIND,...)")
        for item in items:
            if not item:
                continue
            label, equals, kind = item.rpartition("=")
            label, kind = label.strip(), kind.strip()
            if not equals or not label:
                raise ValueError(f"bad kind-map item {item!r} (expected LABEL=KIND)")
            if kind not in REGION_KINDS:
                raise ValueError(f"bad kind-map item {item!r}: unknown kind {kind!r} "
                                 f"(expected one of {', '.join(REGION_KINDS)})")
            if labels.get(label, kind) != kind:
                raise ValueError(f"bad kind-map item {item!r}: {label!r} is already mapped "
                                 f"to {labels[label]}")
            labels[label] = kind
        return cls({EXPECTED: EXPECTED, SUSPECT: SUSPECT, **labels})


DEFAULT_KIND_MAP = KindMap({SUSPECT: SUSPECT}, default=EXPECTED)
"""The map of an import without ``--kind-map``: ``suspect`` to suspect, the rest expected."""
ALL_EXPECTED = KindMap({}, default=EXPECTED)
"""Every label to one region (what :func:`~leakview.masks.labelme_to_mask` returns)."""
