"""leakview.images: discovery, robust loading (modes, EXIF, corrupt files, bombs), names."""

from __future__ import annotations

import os
import pickle
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from leakview.images import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    ImageLoadError,
    _to_rgb,
    discover_images,
    image_size,
    load_image,
    natural_sort_key,
    relative_name,
    true_label,
)
from permissions import where_permissions_hold

# ------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------

def _assert_rgb(array: np.ndarray, height: int, width: int) -> None:
    assert isinstance(array, np.ndarray)
    assert array.dtype == np.uint8
    assert array.shape == (height, width, 3)
    assert array.flags.c_contiguous


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + tag + data
            + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))


def _crafted_png(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height (1-bit gray) but carries almost no data."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + _png_chunk(b"IEND", b""))


def _noise(height: int = 48, width: int = 48, seed: int = 1) -> Image.Image:
    rng = np.random.default_rng(seed)
    return Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8))


def _pillow_mode_and_frames(path: Path) -> tuple[str, int]:
    with Image.open(path) as image:
        return image.mode, getattr(image, "n_frames", 1)


def _load_error(path: Path, **kwargs) -> ImageLoadError:
    with pytest.raises(ImageLoadError) as info:
        load_image(path, **kwargs)
    error = info.value
    assert error.path == Path(path)
    assert str(error) == f"{path}: {error.reason}"
    return error


# ------------------------------------------------------------------------------------------
# modes: a generated corpus, each file loaded to the expected pixels
# ------------------------------------------------------------------------------------------

def _palette_with_transparency(path: Path) -> np.ndarray:
    image = Image.new("P", (2, 1))
    image.putpalette([200, 100, 50, 10, 20, 30] + [0, 0, 0] * 254)
    image.putdata([0, 1])
    image.save(path, transparency=bytes([0, 255]))  # index 0 fully transparent
    return np.array([[[0, 0, 0], [10, 20, 30]]], dtype=np.uint8)


def _palette_plain(path: Path) -> np.ndarray:
    image = Image.new("P", (2, 1))
    image.putpalette([200, 100, 50, 10, 20, 30] + [0, 0, 0] * 254)
    image.putdata([0, 1])
    image.save(path)
    return np.array([[[200, 100, 50], [10, 20, 30]]], dtype=np.uint8)


def _rgba(path: Path) -> np.ndarray:
    data = np.array([[[200, 100, 50, 0], [200, 100, 50, 128], [200, 100, 50, 255]]],
                    dtype=np.uint8)
    Image.fromarray(data).save(path)
    return np.array([[[0, 0, 0], [100, 50, 25], [200, 100, 50]]], dtype=np.uint8)


def _la(path: Path) -> np.ndarray:
    data = np.array([[[200, 0], [200, 128], [200, 255]]], dtype=np.uint8)
    Image.fromarray(data).save(path)
    return np.array([[[0] * 3, [100] * 3, [200] * 3]], dtype=np.uint8)


def _gray(path: Path) -> np.ndarray:
    Image.fromarray(np.array([[0, 77, 255]], dtype=np.uint8)).save(path)
    return np.array([[[0] * 3, [77] * 3, [255] * 3]], dtype=np.uint8)


def _gray_with_key(path: Path) -> np.ndarray:
    Image.fromarray(np.array([[7, 77]], dtype=np.uint8)).save(path, transparency=7)
    return np.array([[[0] * 3, [77] * 3]], dtype=np.uint8)


def _rgb_with_key(path: Path) -> np.ndarray:
    data = np.array([[[1, 2, 3], [40, 50, 60]]], dtype=np.uint8)
    Image.fromarray(data).save(path, transparency=(1, 2, 3))
    return np.array([[[0, 0, 0], [40, 50, 60]]], dtype=np.uint8)


def _i16_png(path: Path) -> np.ndarray:
    data = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    Image.fromarray(data).save(path)
    return np.array([[[0] * 3, [1] * 3, [128] * 3, [255] * 3]], dtype=np.uint8)


def _i16b_tiff(path: Path) -> np.ndarray:
    image = Image.new("I;16B", (3, 1))
    image.putdata([0, 514, 65535])
    image.save(path)
    assert _pillow_mode_and_frames(path)[0] == "I;16B"
    return np.array([[[0] * 3, [2] * 3, [255] * 3]], dtype=np.uint8)


def _i32_tiff_16bit_range(path: Path) -> np.ndarray:
    Image.fromarray(np.array([[0, 1000, 65535]], dtype=np.int32)).save(path)
    return np.array([[[0] * 3, [4] * 3, [255] * 3]], dtype=np.uint8)  # / 257


def _i32_tiff_8bit_range(path: Path) -> np.ndarray:
    Image.fromarray(np.array([[0, 100, 255]], dtype=np.int32)).save(path)
    return np.array([[[0] * 3, [100] * 3, [255] * 3]], dtype=np.uint8)  # as they are


def _i32_tiff_wide(path: Path) -> np.ndarray:
    Image.fromarray(np.array([[-1000, 0, 1000]], dtype=np.int32)).save(path)
    return np.array([[[0] * 3, [128] * 3, [255] * 3]], dtype=np.uint8)  # min-max


def _float_unit(path: Path) -> np.ndarray:
    data = np.array([[0.0, 0.5, 1.0, np.nan]], dtype=np.float32)
    Image.fromarray(data).save(path)
    return np.array([[[0] * 3, [128] * 3, [255] * 3, [0] * 3]], dtype=np.uint8)


def _float_wide(path: Path) -> np.ndarray:
    data = np.array([[-1.0, 0.0, 3.0, np.inf]], dtype=np.float32)
    Image.fromarray(data).save(path)
    return np.array([[[0] * 3, [64] * 3, [255] * 3, [0] * 3]], dtype=np.uint8)


def _one_bit(path: Path) -> np.ndarray:
    Image.fromarray(np.array([[True, False, True]])).save(path)
    return np.array([[[255] * 3, [0] * 3, [255] * 3]], dtype=np.uint8)


def _bmp(path: Path) -> np.ndarray:
    data = np.array([[[1, 2, 3], [250, 128, 0]]], dtype=np.uint8)
    Image.fromarray(data).save(path)
    return data


def _webp_lossless_rgba(path: Path) -> np.ndarray:
    data = np.array([[[200, 100, 50, 0], [200, 100, 50, 255]]], dtype=np.uint8)
    Image.fromarray(data).save(path, lossless=True, exact=True)
    return np.array([[[0, 0, 0], [200, 100, 50]]], dtype=np.uint8)


def _gif_palette(path: Path) -> np.ndarray:
    return _palette_plain(path)


def _ycbcr_tiff(path: Path) -> np.ndarray:
    Image.new("YCbCr", (2, 1), (150, 128, 128)).save(path)
    return np.full((1, 2, 3), 150, dtype=np.uint8)


def _lab_tiff(path: Path) -> np.ndarray:
    Image.new("LAB", (2, 1), (255, 128, 128)).save(path)
    return np.full((1, 2, 3), 255, dtype=np.uint8)


EXACT_CASES = {
    "gray.png": _gray,
    "gray_key.png": _gray_with_key,
    "rgb_key.png": _rgb_with_key,
    "la.png": _la,
    "p.png": _palette_plain,
    "p_trns.png": _palette_with_transparency,
    "rgba.png": _rgba,
    "i16.png": _i16_png,
    "i16b.tif": _i16b_tiff,
    "i32_16bit.tif": _i32_tiff_16bit_range,
    "i32_8bit.tiff": _i32_tiff_8bit_range,
    "i32_wide.tif": _i32_tiff_wide,
    "float_unit.tif": _float_unit,
    "float_wide.tif": _float_wide,
    "one_bit.png": _one_bit,
    "one_bit.tif": _one_bit,
    "rgb.bmp": _bmp,
    "rgba.webp": _webp_lossless_rgba,
    "palette.gif": _gif_palette,
    "rgba.tif": _rgba,
    "la.tif": _la,
    "ycbcr.tif": _ycbcr_tiff,
}


@pytest.mark.parametrize("name", sorted(EXACT_CASES))
def test_every_mode_loads_to_expected_rgb(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    expected = EXACT_CASES[name](path)
    loaded = load_image(path)
    _assert_rgb(loaded, *expected.shape[:2])
    np.testing.assert_array_equal(loaded, expected)
    assert image_size(path) == (expected.shape[1], expected.shape[0])


def test_lab_tiff_converts_to_rgb(tmp_path: Path) -> None:
    path = tmp_path / "lab.tif"
    expected = _lab_tiff(path)
    loaded = load_image(path)
    _assert_rgb(loaded, 1, 2)
    assert np.abs(loaded.astype(int) - expected).max() <= 3


def test_cmyk_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(path, quality=95)
    assert _pillow_mode_and_frames(path)[0] == "CMYK"
    loaded = load_image(path)
    _assert_rgb(loaded, 16, 16)
    assert np.abs(loaded.astype(int) - [255, 0, 0]).max() <= 8


def test_rgb_jpeg_and_result_is_writeable(tmp_path: Path) -> None:
    path = tmp_path / "photo.JPG"
    Image.new("RGB", (16, 8), (30, 160, 90)).save(path, "JPEG", quality=95)
    loaded = load_image(path)
    _assert_rgb(loaded, 8, 16)
    assert np.abs(loaded.astype(int) - [30, 160, 90]).max() <= 4
    loaded[0, 0] = 0  # callers may draw on it


@pytest.mark.parametrize("mode,value,expected", [
    ("HSV", (0, 255, 255), (255, 0, 0)),
    ("RGBX", (1, 2, 3, 4), (1, 2, 3)),
    ("RGBa", (100, 50, 25, 128), (100, 50, 25)),  # premultiplied: already over black
    ("La", (100, 128), (100, 100, 100)),
    ("PA", (0, 0), (0, 0, 0)),
])
def test_modes_no_writer_produces(mode: str, value: tuple, expected: tuple) -> None:
    # No file format writes these modes, so the converter is checked on real in-memory images.
    rgb = _to_rgb(Image.new(mode, (3, 2), value))
    _assert_rgb(rgb, 2, 3)
    np.testing.assert_array_equal(rgb, np.broadcast_to(np.array(expected, np.uint8), (2, 3, 3)))


@pytest.mark.parametrize("fmt,suffix", [("GIF", "gif"), ("WEBP", "webp"), ("PNG", "png")])
def test_animated_image_gives_first_frame(tmp_path: Path, fmt: str, suffix: str) -> None:
    path = tmp_path / f"anim.{suffix}"
    frames = [Image.new("RGB", (8, 6), colour) for colour in [(255, 0, 0), (0, 0, 255)]]
    extra = {"lossless": True} if fmt == "WEBP" else {}
    frames[0].save(path, fmt, save_all=True, append_images=frames[1:], duration=100, loop=0,
                   **extra)
    assert _pillow_mode_and_frames(path)[1] == 2
    loaded = load_image(path)
    _assert_rgb(loaded, 6, 8)
    np.testing.assert_array_equal(loaded, np.broadcast_to(np.uint8([255, 0, 0]), (6, 8, 3)))


# ------------------------------------------------------------------------------------------
# EXIF orientation
# ------------------------------------------------------------------------------------------

# What a viewer shows for each EXIF orientation, written from the EXIF spec (row 0 / column 0
# of the stored image go to ...), independently of Pillow's own table.
DISPLAY = {
    1: lambda s: s,
    2: lambda s: s[:, ::-1],
    3: lambda s: s[::-1, ::-1],
    4: lambda s: s[::-1, :],
    5: lambda s: s.transpose(1, 0, 2),
    6: lambda s: np.rot90(s, k=-1),  # rotate 90 degrees clockwise
    7: lambda s: s[::-1, ::-1].transpose(1, 0, 2),
    8: lambda s: np.rot90(s, k=1),  # rotate 90 degrees counter-clockwise
}


def _asymmetric_blocks() -> np.ndarray:
    """24 x 16 image: a 3 x 2 grid of 8 x 8 blocks in six distinct colours (red top-left)."""
    colours = [[(255, 0, 0), (0, 255, 0), (0, 0, 255)],
               [(255, 255, 255), (0, 0, 0), (255, 255, 0)]]
    stored = np.zeros((16, 24, 3), dtype=np.uint8)
    for row in range(2):
        for col in range(3):
            stored[row * 8:(row + 1) * 8, col * 8:(col + 1) * 8] = colours[row][col]
    return stored


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_jpeg(tmp_path: Path, orientation: int) -> None:
    stored = _asymmetric_blocks()
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.jpg"
    Image.fromarray(stored).save(path, "JPEG", exif=exif.tobytes(), quality=95, subsampling=0)
    expected = DISPLAY[orientation](stored)
    loaded = load_image(path)
    _assert_rgb(loaded, *expected.shape[:2])
    assert np.abs(loaded.astype(int) - expected.astype(int)).max() <= 24
    assert image_size(path) == (expected.shape[1], expected.shape[0])


def test_exif_orientation_png_is_exact(tmp_path: Path) -> None:
    stored = _asymmetric_blocks()
    exif = Image.Exif()
    exif[0x0112] = 6
    path = tmp_path / "o6.png"
    Image.fromarray(stored).save(path, exif=exif.tobytes())
    np.testing.assert_array_equal(load_image(path), DISPLAY[6](stored))


def test_broken_exif_does_not_refuse_the_image(tmp_path: Path) -> None:
    path = tmp_path / "bad_exif.jpg"
    Image.new("RGB", (8, 8), (0, 0, 255)).save(path, exif=b"Exif\x00\x00MM\x00*garbage")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loaded = load_image(path)
    _assert_rgb(loaded, 8, 8)


# ------------------------------------------------------------------------------------------
# corrupt and unreadable files
# ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt,suffix", [("PNG", "png"), ("JPEG", "jpg"), ("TIFF", "tif"),
                                        ("BMP", "bmp"), ("WEBP", "webp")])
def test_truncated_files(tmp_path: Path, fmt: str, suffix: str) -> None:
    full = tmp_path / f"full.{suffix}"
    _noise().save(full, fmt)
    data = full.read_bytes()
    path = tmp_path / f"cut.{suffix}"
    path.write_bytes(data[: len(data) // 2])
    assert _load_error(path).reason == "truncated file"
    if fmt != "WEBP":  # the header is intact, so the size is still known
        assert image_size(path) == (48, 48)


def test_header_cut_short(tmp_path: Path) -> None:
    path = tmp_path / "stub.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    assert "PNG" in _load_error(path).reason


def test_zero_byte_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.touch()
    assert _load_error(path).reason == "empty file (0 bytes)"
    with pytest.raises(ImageLoadError):
        image_size(path)


def test_text_file_with_image_extension(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("these are not the pixels you are looking for\n", encoding="utf-8")
    assert _load_error(path).reason == "not an image (text file with an image extension)"


def test_random_bytes(tmp_path: Path) -> None:
    path = tmp_path / "noise.png"
    path.write_bytes(np.random.default_rng(3).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    assert "not an image" in _load_error(path).reason


def test_directory_named_like_an_image(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    path.mkdir()
    assert "directory" in _load_error(path).reason


def test_missing_file(tmp_path: Path) -> None:
    assert _load_error(tmp_path / "nope.png").reason == "no such file"
    assert _load_error(tmp_path / "no_folder" / "nope.png").reason == "no such file"


def test_broken_symlink(tmp_path: Path) -> None:
    path = tmp_path / "dangling.png"
    path.symlink_to(tmp_path / "gone.png")
    assert "broken symbolic link" in _load_error(path).reason
    assert discover_images(tmp_path) == [path]  # still listed; fails at load time


def test_symlink_to_image_loads(tmp_path: Path) -> None:
    target = tmp_path / "real.png"
    _gray(target)
    link = tmp_path / "link.png"
    link.symlink_to(target)
    np.testing.assert_array_equal(load_image(link), load_image(target))


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no named pipes on this platform")
def test_named_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    path = tmp_path / "pipe.png"
    os.mkfifo(path)
    assert "not a regular file" in _load_error(path).reason


@where_permissions_hold
def test_permission_denied(tmp_path: Path) -> None:
    path = tmp_path / "locked.png"
    _gray(path)
    path.chmod(0)
    try:
        assert _load_error(path).reason == "permission denied"
    finally:
        path.chmod(0o644)


def test_error_pickles() -> None:
    error = ImageLoadError("a/b.png", "truncated file")
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.path, copy.reason, str(copy)) == (Path("a/b.png"), "truncated file",
                                                    f"{Path('a/b.png')}: truncated file")


# ------------------------------------------------------------------------------------------
# decompression bombs
# ------------------------------------------------------------------------------------------

def test_bomb_refused_from_header_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(_crafted_png(30000, 30000))  # 900 M pixels claimed, a few bytes of data
    saved = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reason = _load_error(path).reason
    assert reason == ("image has 900000000 pixels, over the limit of 100000000 "
                      "(decompression bomb?); raise the limit with max_pixels=...")
    assert Image.MAX_IMAGE_PIXELS == saved  # Pillow's global is left as it was
    assert image_size(path) == (30000, 30000)  # header only: no limit, nothing decoded


def test_bomb_between_pillow_warning_and_our_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(_crafted_png(12000, 12000))  # 144 M: Pillow only warns, we refuse
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "144000000 pixels" in _load_error(path).reason


def test_max_pixels_is_configurable(tmp_path: Path) -> None:
    path = tmp_path / "small.png"
    Image.new("RGB", (40, 30), (9, 9, 9)).save(path)
    assert "over the limit of 1000" in _load_error(path, max_pixels=1000).reason
    _assert_rgb(load_image(path, max_pixels=1200), 30, 40)
    _assert_rgb(load_image(path, max_pixels=None), 30, 40)
    assert DEFAULT_MAX_PIXELS >= 40 * 30


def test_raised_limit_lets_the_decoder_run(tmp_path: Path) -> None:
    path = tmp_path / "claims.png"
    path.write_bytes(_crafted_png(2000, 2000))
    assert "over the limit" in _load_error(path, max_pixels=1_000_000).reason
    # Past the check, the decoder runs and finds the data missing.
    assert "over the limit" not in _load_error(path, max_pixels=5_000_000).reason


def test_raised_limit_beyond_pillows_own_hard_limit(tmp_path: Path) -> None:
    # 196 M pixels: Pillow's global check would raise; our max_pixels is the only limit.
    path = tmp_path / "huge_claim.png"
    path.write_bytes(_crafted_png(14000, 14000))
    saved = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "196000000 pixels" in _load_error(path).reason
        assert _load_error(path, max_pixels=200_000_000).reason == "truncated file"
    assert Image.MAX_IMAGE_PIXELS == saved


# ------------------------------------------------------------------------------------------
# unicode paths
# ------------------------------------------------------------------------------------------

def test_unicode_and_space_paths(tmp_path: Path) -> None:
    folder = tmp_path / "kukuřice 1"
    folder.mkdir()
    path = folder / "žito 2.png"
    expected = _gray(path)
    np.testing.assert_array_equal(load_image(str(path)), expected)
    assert discover_images(tmp_path) == [path]
    assert relative_name(path, tmp_path) == "kukuřice 1/žito 2.png"
    assert true_label(path, tmp_path, ["kukuřice 1"]) == "kukuřice 1"


# ------------------------------------------------------------------------------------------
# fuzz: random and mutated bytes load or raise ImageLoadError, nothing else
# ------------------------------------------------------------------------------------------

def _seed_bytes() -> dict[str, bytes]:
    import io
    seeds = {}
    for fmt, suffix in [("PNG", "png"), ("JPEG", "jpg")]:
        buffer = io.BytesIO()
        _noise(12, 10).save(buffer, fmt)
        seeds[suffix] = buffer.getvalue()
    return seeds


SEEDS = _seed_bytes()


@st.composite
def _file_bytes(draw) -> tuple[str, bytes]:
    suffix = draw(st.sampled_from(sorted(SEEDS)))
    if draw(st.booleans()):
        return suffix, draw(st.binary(min_size=0, max_size=600))
    data = bytearray(SEEDS[suffix])
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, len(data) - 1))
        data[position] = draw(st.integers(0, 255))
    cut = draw(st.integers(1, len(data)))
    return suffix, bytes(data[:cut])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sample=_file_bytes())
def test_fuzz_load_or_image_load_error(tmp_path_factory, sample: tuple[str, bytes]) -> None:
    suffix, data = sample
    path = tmp_path_factory.getbasetemp() / f"fuzz.{suffix}"
    path.write_bytes(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            array = load_image(path)
        except ImageLoadError as error:
            assert error.path == path and error.reason
        else:
            assert array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] == 3
            assert array.flags.c_contiguous


# ------------------------------------------------------------------------------------------
# discovery
# ------------------------------------------------------------------------------------------

def _touch(root: Path, *relatives: str) -> None:
    for relative in relatives:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()


def _relatives(paths: list[Path], root: Path) -> list[str]:
    return [relative_name(path, root) for path in paths]


def test_extensions_constant() -> None:
    assert IMAGE_EXTENSIONS == frozenset({"jpg", "jpeg", "jpe", "jfif", "png", "apng", "bmp",
                                          "dib", "tif", "tiff", "webp", "gif", "ppm", "pgm",
                                          "pbm", "pnm", "pfm"})


def test_discovery_natural_sort_hidden_and_extensions(tmp_path: Path) -> None:
    _touch(tmp_path,
           "img10.png", "img2.png", "img1.PNG", "b/x.JpEg", "a10/z.tif", "a2/z.TIFF",
           "a2/sub/deep.webp", "c.bmp", "notes.txt", "model.pt", "noext", "png",
           ".hidden.png", ".leakview/masks/img2.png.png", ".git/x.jpg", "a2/.cache/y.jpg",
           "img2.png.txt")
    found = discover_images(tmp_path)
    assert _relatives(found, tmp_path) == [
        "a2/sub/deep.webp", "a2/z.TIFF", "a10/z.tif", "b/x.JpEg", "c.bmp",
        "img1.PNG", "img2.png", "img10.png"]
    assert all(path.parent.is_relative_to(tmp_path) for path in found)
    assert found[0] == tmp_path / "a2" / "sub" / "deep.webp"


def test_discovery_accepts_str_root_empty_folder_and_hidden_root(tmp_path: Path) -> None:
    assert discover_images(str(tmp_path)) == []
    _touch(tmp_path, ".dataset/a.png")
    assert discover_images(tmp_path / ".dataset") == [tmp_path / ".dataset" / "a.png"]


def test_discovery_bad_root(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        discover_images(tmp_path / "missing")
    (tmp_path / "file.png").touch()
    with pytest.raises(NotADirectoryError, match="not a folder"):
        discover_images(tmp_path / "file.png")


def test_discovery_directory_named_like_image_is_entered_not_listed(tmp_path: Path) -> None:
    _touch(tmp_path, "x.png/inner.png")
    assert _relatives(discover_images(tmp_path), tmp_path) == ["x.png/inner.png"]


def test_discovery_follows_symlinks_without_looping(tmp_path: Path) -> None:
    _touch(tmp_path, "data/a.png", "data/sub/b.png", "elsewhere/c.png")
    (tmp_path / "data" / "sub" / "loop").symlink_to(tmp_path / "data")  # cycle
    (tmp_path / "data" / "self").symlink_to(tmp_path / "data" / "self")  # link to itself
    (tmp_path / "data" / "linked").symlink_to(tmp_path / "elsewhere")
    found = discover_images(tmp_path / "data")  # returns at all: the loops end (pytest-timeout)
    assert _relatives(found, tmp_path / "data") == ["a.png", "linked/c.png", "sub/b.png"]


@where_permissions_hold
def test_discovery_reports_unreadable_folder(tmp_path: Path) -> None:
    _touch(tmp_path, "ok/a.png", "locked/b.png")
    locked = tmp_path / "locked"
    locked.chmod(0)
    errors: list[tuple[Path, str]] = []
    try:
        found = discover_images(tmp_path,
                                on_error=lambda path, reason: errors.append((path, reason)))
        with pytest.raises(PermissionError, match="permission denied"):
            discover_images(locked)
        assert _load_error(locked / "b.png").reason == "permission denied"
    finally:
        locked.chmod(0o755)
    assert _relatives(found, tmp_path) == ["ok/a.png"]
    assert errors == [(locked, "permission denied")]


def _create_empty(path: Path) -> None:
    """Create an empty regular file; mknod is one syscall (much faster than touch on busy disks)."""
    try:
        os.mknod(path)
    except (AttributeError, PermissionError, NotImplementedError):
        path.touch()


@pytest.fixture
def fast_tmp(tmp_path: Path):
    """A scratch folder on tmpfs when there is one: creating 10,000 files on a busy disk can
    take seconds, which would measure the disk rather than the listing."""
    import shutil
    import tempfile
    shm = Path("/dev/shm")
    if not (shm.is_dir() and os.access(shm, os.W_OK)):
        yield tmp_path
        return
    folder = Path(tempfile.mkdtemp(prefix="leakview-test-", dir=shm))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_discovery_ten_thousand_files_fast(fast_tmp: Path, monkeypatch) -> None:
    """Listing touches no file: no open, no stat per file (what made it fast; the timing itself
    is measured in benchmarks/bench_load.py, not asserted here)."""
    for class_index in range(10):
        folder = fast_tmp / f"class{class_index}"
        folder.mkdir()
        for index in range(1000):
            _create_empty(folder / f"img{index}.png")  # empty: any decode attempt would fail
    touched: list[str] = []

    def spy(real):
        def call(path, *args, **kwargs):
            touched.append(os.fspath(path) if not isinstance(path, int) else "")
            return real(path, *args, **kwargs)
        return call

    for name in ("stat", "lstat", "open"):
        monkeypatch.setattr(os, name, spy(getattr(os, name)))
    found = discover_images(fast_tmp)
    monkeypatch.undo()
    assert len(found) == 10_000
    assert [path for path in touched if path.endswith(".png")] == []
    assert len(touched) < 100, len(touched)      # a few per folder (realpath), none per file
    assert _relatives(found[:3], fast_tmp) == ["class0/img0.png", "class0/img1.png",
                                               "class0/img2.png"]
    assert relative_name(found[-1], fast_tmp) == "class9/img999.png"


# ------------------------------------------------------------------------------------------
# names and labels
# ------------------------------------------------------------------------------------------

def test_natural_sort_key() -> None:
    names = ["img10", "Img2", "img2", "img1", "img02", "IMG1", "a", "img", "img1b", "img1a"]
    assert sorted(names, key=natural_sort_key) == [
        "a", "img", "IMG1", "img1", "img1a", "img1b", "Img2", "img02", "img2", "img10"]
    assert natural_sort_key("x" + "9" * 5000) > natural_sort_key("x" + "9" * 4999)
    assert sorted(["b", "B", "a"], key=natural_sort_key) == ["a", "B", "b"]


def test_relative_name(tmp_path: Path) -> None:
    assert relative_name(tmp_path / "a" / "b.png", tmp_path) == "a/b.png"
    assert relative_name(str(tmp_path / "c.png"), str(tmp_path)) == "c.png"
    with pytest.raises(ValueError):
        relative_name(tmp_path.parent / "other.png", tmp_path)


def test_true_label(tmp_path: Path) -> None:
    classes = ["wheat", "barley"]
    assert true_label(tmp_path / "wheat" / "1.png", tmp_path, classes) == "wheat"
    assert true_label(tmp_path / "oats" / "1.png", tmp_path, classes) is None
    assert true_label(tmp_path / "1.png", tmp_path, classes) is None
    assert true_label(tmp_path / "x" / "barley" / "1.png", tmp_path, classes) == "barley"
    wheat_root = tmp_path / "wheat"
    assert true_label(wheat_root / "1.png", wheat_root, classes) is None
