"""Region masks: storage, rasterising shapes, LabelMe / COCO import and export.

Headless (numpy, Pillow, scikit-image; never Qt). One job per module, each with its contract
at its top:

- :mod:`~leakview.masks.store`: the mask file of an image (8-bit 0/255 PNG at
  ``ROOT/.leakview/masks/<image>.png``), :func:`read_mask`, atomic :func:`write_mask`,
  :func:`find_mask` ("this image's mask, if any"), :func:`check_mask_destination` and
  :class:`MaskError`;
- :mod:`~leakview.masks.raster`: polygons, rectangles, ellipses and brush strokes to boolean
  masks (pixel centres at integer coordinates, closed shapes, clipped to the image) and
  :func:`mask_boundary`;
- :mod:`~leakview.masks.shapes`: an editable :class:`Shape` (polygon, rectangle, ellipse;
  additive or subtractive) before it becomes pixels, to and from a LabelMe shape dict;
- :mod:`~leakview.masks.jsonvalid`: reading and validating annotation JSON, where every problem
  becomes :class:`MaskError` (path + reason) and nothing else;
- :mod:`~leakview.masks.labelme` and :mod:`~leakview.masks.coco`: one annotation file to masks
  (COCO with its RLE strings, no pycocotools);
- :mod:`~leakview.masks.kindmap`: annotation labels to region kinds (``--kind-map``);
- :mod:`~leakview.masks.pairing`: which image of the root an annotation file names (the
  containment rule);
- :mod:`~leakview.masks.importer`: a folder of annotations to mask files for an image root,
  never reading or writing outside the roots, with a policy for images that already have a
  mask (:func:`plan_import`, :func:`import_masks`);
- :mod:`~leakview.masks.export`: the region masks back to LabelMe JSON or COCO
  (:func:`export_masks`);
- :mod:`~leakview.masks.legacy`: leak-marker masks in their old place
  (``ROOT/.leakview/markers``) moved to the suspect regions (:func:`migrate_legacy_markers`).

Every public name is re-exported here: ``from leakview.masks import read_mask``.
"""

from leakview.layout import (
    EXPECTED,
    LEAKVIEW_DIR,
    MASKS_SUBDIR,
    REGION_KINDS,
    SUSPECT,
    SUSPECT_SUBDIR,
    check_region_kind,
    default_masks_root,
    has_image_extension,
    mask_path,
    region_path,
    region_root,
)
from leakview.masks.coco import (
    coco_to_masks,
    mask_to_rle,
    rle_string_decode,
    rle_string_encode,
)
from leakview.masks.export import (
    EXPORT_FORMATS,
    ExistingOutput,
    ExportReport,
    export_masks,
    labelme_mask_shapes,
)
from leakview.masks.importer import (
    EXISTING_POLICIES,
    IMPORT_BACKUPS,
    ExistingMasks,
    ExistingPolicy,
    ImportPlan,
    ImportReport,
    import_masks,
    plan_import,
)
from leakview.masks.kindmap import ALL_EXPECTED, DEFAULT_KIND_MAP, KindMap
from leakview.masks.labelme import LABELME_AREA_TYPES, labelme_to_mask
from leakview.masks.legacy import MarkerMigration, legacy_markers_root, migrate_legacy_markers
from leakview.masks.raster import (
    MAX_BRUSH_RADIUS,
    MAX_MASK_PIXELS,
    mask_boundary,
    rasterize_ellipse,
    rasterize_polygon,
    rasterize_rectangle,
    rasterize_stroke,
)
from leakview.masks.shapes import SHAPE_KINDS, LiveShape, Shape
from leakview.masks.store import (
    MaskError,
    check_mask_destination,
    find_mask,
    read_mask,
    write_mask,
)

__all__ = [
    "ALL_EXPECTED", "DEFAULT_KIND_MAP", "EXPORT_FORMATS", "ExistingOutput", "ExportReport",
    "KindMap", "export_masks", "labelme_mask_shapes", "mask_to_rle",
    "EXPECTED", "REGION_KINDS", "SUSPECT", "SUSPECT_SUBDIR", "check_region_kind", "region_path",
    "region_root",
    "EXISTING_POLICIES", "IMPORT_BACKUPS", "LABELME_AREA_TYPES", "LEAKVIEW_DIR",
    "MASKS_SUBDIR", "MAX_BRUSH_RADIUS", "MAX_MASK_PIXELS", "ExistingMasks", "ExistingPolicy",
    "ImportPlan", "ImportReport", "MaskError", "check_mask_destination", "coco_to_masks",
    "default_masks_root", "find_mask", "has_image_extension", "import_masks", "labelme_to_mask",
    "mask_boundary", "mask_path", "plan_import", "rasterize_ellipse", "rasterize_polygon",
    "rasterize_rectangle", "rasterize_stroke", "read_mask", "rle_string_decode",
    "rle_string_encode", "write_mask",
    "SHAPE_KINDS", "LiveShape", "Shape",
    "MarkerMigration", "legacy_markers_root", "migrate_legacy_markers",
]
