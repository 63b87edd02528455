"""Load images robustly as RGB uint8 arrays.

Headless: numpy + Pillow only (never Qt). The contracts are in DESIGN.md, "Data formats".
Which files are images and how they are named is :mod:`leakview.layout`'s job (its discovery
names are re-exported here):

* :func:`load_image` returns an ``H x W x 3`` C-contiguous RGB ``uint8`` array with EXIF
  orientation applied, or raises :class:`ImageLoadError` (one exception type, carrying the
  path and a human reason) for anything that cannot be read.
"""

from __future__ import annotations

import codecs
import errno
import os
import stat
import struct
import threading
import warnings
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Literal, TypeVar, overload

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from leakview.errors import PathError
from leakview.layout import (
    IMAGE_EXTENSIONS,
    IMAGE_FORMATS,
    FolderListing,
    discover_images,
    list_folder,
    natural_sort_key,
    relative_name,
    true_label,
)

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "IMAGE_FORMATS",
    "FolderListing",
    "ImageLoadError",
    "discover_images",
    "image_size",
    "list_folder",
    "load_image",
    "natural_sort_key",
    "relative_name",
    "true_label",
]

DEFAULT_MAX_PIXELS = 100_000_000
"""Images whose header claims more pixels than this are refused before decoding."""

# Decoders we let near untrusted files. Restricting the set keeps exotic plugins (EPS runs
# Ghostscript, for example) away from a file that merely carries an image extension.
# The formats are layout.IMAGE_FORMATS: discovery lists exactly the files these decoders read.
_ALLOWED_FORMATS = tuple(IMAGE_FORMATS)

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)

_ORIENTATION_TAG = 0x0112
_ALPHA_MODES = frozenset({"RGBA", "LA", "PA"})
_PREMULTIPLIED_MODES = frozenset({"RGBa", "La"})
_PILLOW_LIMIT_LOCK = threading.Lock()
_T = TypeVar("_T")


class ImageLoadError(PathError):
    """An image file could not be loaded; ``.path`` is the file, ``.reason`` says why."""


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------

def load_image(path: str | os.PathLike[str], max_pixels: int | None = DEFAULT_MAX_PIXELS
               ) -> np.ndarray:
    """Load ``path`` as an ``H x W x 3`` C-contiguous RGB ``uint8`` array (writeable copy).

    * EXIF orientation (all 8 values) is applied; a broken EXIF block is ignored (pixels
      stay as stored). ICC profiles are not applied (same pixels as Pillow's ``convert``).
    * Animated GIF/WebP/PNG and multi-page TIFF: the first frame.
    * Alpha (RGBA, LA, PA, P or L/RGB with a transparency key) is composited on BLACK:
      ``out = round(colour * alpha / 255)``; fully transparent pixels become ``(0, 0, 0)``.
    * 16-bit modes (``I;16``, ``I;16B``, ...): divided by 257 (65535 -> 255).
    * ``I`` (32-bit int): values within 0..255 are taken as they are, within 0..65535 are
      divided by 257 (16-bit data stored as ``I``), anything else is min-max scaled to 0..255.
    * ``F`` (float): NaN/inf become 0; finite values within 0..1 are multiplied by 255, within
      0..255 are taken as they are, anything else is min-max scaled (a constant image -> 0).
    * Every other mode (1, L, P, CMYK, YCbCr, LAB, HSV, ...) goes through Pillow's conversion.

    The pixel count is checked from the header before anything is decoded: more than
    ``max_pixels`` (``None`` = no limit) raises :class:`ImageLoadError`. Pillow's own global
    limit is not relied upon (where it is stricter than ``max_pixels`` it is lifted for this
    one read, under a lock, and restored) and no Pillow warning escapes. Every failure
    (missing, empty, truncated, corrupt, not an image, directory, pipe, permission, broken
    link, bomb) raises :class:`ImageLoadError` and nothing else. Only PNG, JPEG, BMP, TIFF,
    WebP, GIF and PPM decoders are used, whatever the extension.
    """
    path = Path(path)
    return _with_pillow_limit_fallback(path, lambda: _read(path, max_pixels, header_only=False))


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """``(width, height)`` from the header only, after EXIF orientation (as :func:`load_image`).

    Nothing is decoded and no pixel limit applies. Raises :class:`ImageLoadError`. (A PNG whose
    EXIF chunk follows the pixel data reports its stored size.)
    """
    path = Path(path)
    return _with_pillow_limit_fallback(path, lambda: _read(path, None, header_only=True))


def _with_pillow_limit_fallback(path: Path, read: Callable[[], _T]) -> _T:
    """Run ``read``; if Pillow's global bomb limit refuses the file, retry without it.

    Our own ``max_pixels`` check runs on the header before decoding either way, so the retry
    never decodes anything over our limit. Pillow's global is restored right after.
    """
    try:
        return read()
    except Image.DecompressionBombError:
        pass
    with _PILLOW_LIMIT_LOCK:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            return read()
        except Image.DecompressionBombError as exc:  # should not happen with the limit off
            raise ImageLoadError(path, f"refused by Pillow: {exc}") from None
        finally:
            Image.MAX_IMAGE_PIXELS = saved


@overload
def _read(path: Path, max_pixels: int | None, header_only: Literal[True]) -> tuple[int, int]: ...
@overload
def _read(path: Path, max_pixels: int | None, header_only: Literal[False]) -> np.ndarray: ...
def _read(path: Path, max_pixels: int | None, header_only: bool
          ) -> tuple[int, int] | np.ndarray:
    """Open ``path`` and return its RGB array (or its oriented size when ``header_only``)."""
    _check_file(path)
    try:
        stream = open(path, "rb")
    except OSError as exc:
        raise ImageLoadError(path, _os_reason(exc, path)) from None
    with stream, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            image = Image.open(stream, formats=_formats())
        except Image.DecompressionBombError:
            raise
        except UnidentifiedImageError:
            raise ImageLoadError(path, _unidentified_reason(path, stream)) from None
        except MemoryError:
            raise ImageLoadError(path, "not enough memory to read the image header") from None
        except Exception as exc:  # Pillow raises many types on corrupt headers
            raise ImageLoadError(path, _header_failure_reason(path, stream, exc)) from None
        with image:
            width, height = image.size
            if header_only:
                if _header_orientation(image) in (5, 6, 7, 8):
                    return height, width
                return width, height
            if width <= 0 or height <= 0:
                raise ImageLoadError(path, f"image has zero size ({width}x{height})")
            pixels = width * height
            if max_pixels is not None and pixels > max_pixels:
                raise ImageLoadError(
                    path,
                    f"image has {pixels} pixels, over the limit of {max_pixels} "
                    f"(decompression bomb?); raise the limit with max_pixels=...")
            current: Image.Image = image  # the image the except clauses describe
            try:
                image.load()
                current = _exif_transposed(image)
                return _to_rgb(current)
            except Image.DecompressionBombError:
                raise
            except ImageLoadError:
                raise
            except MemoryError:
                raise ImageLoadError(
                    path, f"not enough memory to decode a {width}x{height} image") from None
            except Exception as exc:  # odd types on corrupt data: OSError, ValueError, ...
                raise ImageLoadError(path, _decode_reason(exc, current.format or "image")
                                     ) from None


_formats_cache: tuple[str, ...] | None = None


def _formats() -> tuple[str, ...]:
    """The allowed Pillow formats this Pillow build can actually open."""
    global _formats_cache
    if _formats_cache is None:
        Image.init()
        _formats_cache = tuple(name for name in _ALLOWED_FORMATS if name in Image.OPEN)
    return _formats_cache


def _check_file(path: Path) -> None:
    """Raise ImageLoadError unless ``path`` is a non-empty regular file (following links)."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise ImageLoadError(path, "broken symbolic link (its target does not exist)"
                                 ) from None
        raise ImageLoadError(path, "no such file") from None
    except OSError as exc:
        raise ImageLoadError(path, _os_reason(exc, path)) from None
    if stat.S_ISDIR(info.st_mode):
        raise ImageLoadError(path, "is a directory, not an image file")
    if not stat.S_ISREG(info.st_mode):
        raise ImageLoadError(path, "not a regular file (device, pipe or socket)")
    if info.st_size == 0:
        raise ImageLoadError(path, "empty file (0 bytes)")


def _os_reason(exc: OSError, path: Path) -> str:
    """A short human reason for an OSError raised while opening ``path``."""
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, not an image file"
    if isinstance(exc, FileNotFoundError):
        return "broken symbolic link" if os.path.islink(path) else "no such file"
    if isinstance(exc, NotADirectoryError):
        return "no such file (a parent in the path is not a folder)"
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    return f"cannot read file ({exc.strerror or exc})"


def _unidentified_reason(path: Path, stream: BinaryIO) -> str:
    """Why Pillow could not identify the file: text, a damaged known format, or unknown."""
    try:
        stream.seek(0)
        prefix = stream.read(4096)
    except OSError as exc:
        return _os_reason(exc, path)
    for magic, name in _MAGIC:
        if prefix.startswith(magic):
            return f"corrupt or truncated {name} header"
    if prefix[:4] == b"RIFF" and prefix[8:12] == b"WEBP":
        return "corrupt or truncated WEBP header"
    if _looks_like_text(prefix):
        if path.suffix.lower().lstrip(".") in IMAGE_EXTENSIONS:
            return "not an image (text file with an image extension)"
        return "not an image (text file)"
    return "not an image (unrecognised or unsupported file format)"


def _header_failure_reason(path: Path, stream: BinaryIO, exc: BaseException) -> str:
    """Why a recognised file failed while its header was parsed."""
    try:
        stream.seek(0)
        prefix = stream.read(16)
        size = os.fstat(stream.fileno()).st_size
    except OSError:
        prefix, size = b"", 0
    if prefix[:4] == b"RIFF" and len(prefix) >= 8:
        if struct.unpack("<I", prefix[4:8])[0] + 8 > size:
            return "truncated file"
    name = next((fmt for magic, fmt in _MAGIC if prefix.startswith(magic)), None)
    if name is None and prefix[:4] == b"RIFF" and prefix[8:12] == b"WEBP":
        name = "WEBP"
    return _decode_reason(exc, f"{name} header" if name else "image header")


def _looks_like_text(prefix: bytes) -> bool:
    """True when ``prefix`` decodes as UTF-8 without control characters other than spaces."""
    if not prefix or b"\x00" in prefix:
        return False
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(prefix, final=False)
    except UnicodeDecodeError:
        return False
    return all(ch.isprintable() or ch in "\t\n\r\f\v" for ch in text)


def _decode_reason(exc: BaseException, what: str) -> str:
    """A short human reason for an exception raised by Pillow while decoding."""
    message = str(exc).strip()
    if isinstance(exc, EOFError) or "truncated" in message.lower():
        return "truncated file"
    if isinstance(exc, (zlib.error, struct.error)):
        return f"corrupt {what} data ({type(exc).__name__}: {message})"
    if not message:
        message = type(exc).__name__
    return f"corrupt {what} data ({message})"


def _header_orientation(image: Image.Image) -> int:
    """EXIF orientation without decoding pixels (PNG only when EXIF precedes the pixels)."""
    if image.format == "PNG" and "exif" not in image.info:
        return 1  # PngImageFile.getexif() would decode the whole image to find a late chunk
    try:
        value = image.getexif().get(_ORIENTATION_TAG, 1)
        return int(value) if 1 <= int(value) <= 8 else 1
    except Exception:  # broken EXIF is not worth refusing the image for
        return 1


def _exif_transposed(image: Image.Image) -> Image.Image:
    """Apply EXIF orientation; a broken EXIF block leaves the image as stored."""
    try:
        transposed = ImageOps.exif_transpose(image)
    except Exception:
        return image
    return image if transposed is None else transposed


def _to_rgb(image: Image.Image) -> np.ndarray:
    """Convert a loaded Pillow image of any mode to a C-contiguous RGB uint8 array."""
    mode = image.mode
    if mode in ("I", "F") or mode.startswith("I;16"):
        gray = _scale_to_uint8(np.asarray(image), mode)
        key = image.info.get("transparency")
        if isinstance(key, (int, float)) and not isinstance(key, bool):
            gray = np.where(np.asarray(image) == key, np.uint8(0), gray)
        return np.ascontiguousarray(np.repeat(gray[:, :, None], 3, axis=2))
    if mode in _PREMULTIPLIED_MODES:  # colour already multiplied by alpha: over black as is
        data = np.asarray(image)
        colour = data[:, :, :1].repeat(3, axis=2) if mode == "La" else data[:, :, :3]
        return np.ascontiguousarray(colour, dtype=np.uint8)
    if _has_alpha(image):
        try:
            rgba = np.asarray(image.convert("RGBA"))
        except ValueError:
            rgba = None
        if rgba is not None:
            return _composite_on_black(rgba)
    if mode == "RGB":
        rgb = np.asarray(image)
    else:
        rgb = np.asarray(image.convert("RGB"))
    return np.array(rgb, dtype=np.uint8, order="C", copy=True)


def _has_alpha(image: Image.Image) -> bool:
    """Whether the image carries alpha (a channel, a transparency key or an RGBA palette)."""
    if image.mode in _ALPHA_MODES or image.info.get("transparency") is not None:
        return True
    palette = getattr(image, "palette", None)
    return image.mode == "P" and palette is not None and palette.mode == "RGBA"


def _composite_on_black(rgba: np.ndarray) -> np.ndarray:
    """``round(rgb * alpha / 255)`` as uint8: RGBA over a black background."""
    alpha = rgba[:, :, 3:4].astype(np.uint16)
    rgb = (rgba[:, :, :3].astype(np.uint16) * alpha + 127) // 255
    return np.ascontiguousarray(rgb, dtype=np.uint8)


def _scale_to_uint8(data: np.ndarray, mode: str) -> np.ndarray:
    """Scale one channel of an ``I;16*``, ``I`` or ``F`` image to uint8 (rules in load_image)."""
    if mode.startswith("I;16"):
        return np.round(data.astype(np.float32) / 257.0).astype(np.uint8)
    values = data.astype(np.float64)
    finite = np.isfinite(values)
    if not finite.any():
        return np.zeros(values.shape, dtype=np.uint8)
    low = float(values[finite].min())
    high = float(values[finite].max())
    if mode == "F" and low >= 0.0 and high <= 1.0:
        scaled = values * 255.0
    elif low >= 0.0 and high <= 255.0:
        scaled = values
    elif mode != "F" and low >= 0.0 and high <= 65535.0:
        scaled = values / 257.0
    elif high > low:
        scaled = (values - low) * (255.0 / (high - low))
    else:
        scaled = np.zeros(values.shape)
    scaled = np.where(finite, scaled, 0.0)
    return np.clip(np.round(scaled), 0, 255).astype(np.uint8)
