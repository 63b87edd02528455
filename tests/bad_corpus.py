"""A corpus of hostile and unusual image files, generated into a folder (no binaries committed).

:func:`build_corpus` writes the files and returns ``{relative name: expectation}`` where the
expectation is ``"ok"`` (loads as RGB) or an ``"error: <words>"`` string whose words must appear
(case-insensitive) in the reason leakview gives. Used by tests/test_bad_inputs.py and
tests/test_security.py.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from permissions import PERMISSIONS_ENFORCED

# Names a spreadsheet would run as formulas (each must come out with a leading ').
FORMULA_NAMES = ("=cmd.png", "+plus.png", "-minus.png", "@at.png")


def _noise(width: int, height: int, seed: int = 0) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray((rng.random((height, width, 3)) * 255).astype(np.uint8))


def _png_bytes(image: Image.Image, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **params)
    return buffer.getvalue()


def _jpeg_bytes(image: Image.Image, **params) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", **params)
    return buffer.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def pixel_bomb_png(width: int = 20_000, height: int = 20_000) -> bytes:
    """A valid PNG header claiming ``width x height`` pixels (400 MP by default), tiny IDAT."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _chunk(b"IEND", b""))


def build_corpus(root: Path) -> dict[str, str]:
    """Write the corpus under ``root`` (created); returns ``{relative name: expectation}``."""
    root.mkdir(parents=True, exist_ok=True)
    expected: dict[str, str] = {}

    def put(name: str, data: bytes, expectation: str) -> Path:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        expected[name] = expectation
        return path

    good_png = _png_bytes(_noise(20, 16))
    good_jpeg = _jpeg_bytes(_noise(20, 16, seed=1))
    put("plain.png", good_png, "ok")
    put("truncated.png", good_png[: len(good_png) // 2], "error: truncated")
    put("truncated_header.png", good_png[:20], "error:")
    put("truncated.jpg", good_jpeg[: len(good_jpeg) // 2], "error: truncated")
    put("zero_bytes.png", b"", "error: empty")
    put("zero_bytes.jpg", b"", "error: empty")
    put("text.jpg", b"hello, I am not an image\n" * 10, "error: not an image")
    put("text.png", b"<html>not an image</html>", "error: not an image")
    put("one_by_one.png", _png_bytes(_noise(1, 1)), "ok")
    put("one_by_10000.png", _png_bytes(_noise(1, 10_000)), "ok")
    put("10000_by_one.png", _png_bytes(_noise(10_000, 1)), "ok")

    ramp16 = (np.arange(24 * 16, dtype=np.uint16).reshape(16, 24) * 170)
    buffer = io.BytesIO()
    Image.fromarray(ramp16).save(buffer, "TIFF")
    put("sixteen_bit.tif", buffer.getvalue(), "ok")
    buffer = io.BytesIO()
    Image.fromarray(np.linspace(-3, 7, 16 * 24, dtype=np.float32).reshape(16, 24), mode="F"
                    ).save(buffer, "TIFF")
    put("float.tiff", buffer.getvalue(), "ok")
    nan_float = np.full((8, 8), np.nan, dtype=np.float32)
    nan_float[0, 0] = np.inf
    buffer = io.BytesIO()
    Image.fromarray(nan_float, mode="F").save(buffer, "TIFF")
    put("float_nan.tif", buffer.getvalue(), "ok")

    put("cmyk.jpg", _jpeg_bytes(Image.new("CMYK", (20, 16), (0, 255, 255, 0))), "ok")
    palette = Image.new("P", (20, 16), 0)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * (256 * 3 - 6))
    palette.paste(1, (5, 5, 15, 12))
    put("palette_transparent.png", _png_bytes(palette, transparency=0), "ok")

    frames = [Image.new("RGB", (20, 16), colour) for colour in ((255, 0, 0), (0, 0, 255))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    put("animated.webp", buffer.getvalue(), "ok")
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:])
    put("animated_gif_named.png", buffer.getvalue(), "ok")      # GIF data under .png
    put("animated.gif", buffer.getvalue(), "ok")                 # the loader reads GIF

    for orientation in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = orientation
        put(f"exif/orientation_{orientation}.jpg",
            _jpeg_bytes(_noise(20, 12, seed=orientation), exif=exif.tobytes()), "ok")
    put("exif/broken_orientation.jpg",
        _jpeg_bytes(_noise(20, 12), exif=b"Exif\x00\x00MM\x00*garbage"), "ok")

    put("bomb.png", pixel_bomb_png(), "error: limit")

    for name in ("ünïcödé 画像.png", "with space.png", *FORMULA_NAMES, "sub dir/=nested.png"):
        put(name, good_png, "ok")

    locked = put("locked.png", good_png,
                 "error: permission" if PERMISSIONS_ENFORCED else "ok")
    if PERMISSIONS_ENFORCED:
        locked.chmod(0)

    (root / "broken_link.png").symlink_to(root / "does-not-exist.png")
    expected["broken_link.png"] = "error: broken"
    (root / "loop_a.png").symlink_to(root / "loop_b.png")
    (root / "loop_b.png").symlink_to(root / "loop_a.png")
    expected["loop_a.png"] = "error: loop"
    expected["loop_b.png"] = "error: loop"
    (root / "loops").mkdir()
    (root / "loops" / "parent").symlink_to(root, target_is_directory=True)
    (root / "loops" / "self").symlink_to(root / "loops", target_is_directory=True)
    return expected


def restore_permissions(root: Path) -> None:
    """Make everything deletable again (pytest removes tmp_path later)."""
    locked = root / "locked.png"
    if locked.exists() and not locked.is_symlink():
        locked.chmod(0o644)
