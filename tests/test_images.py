"""Every kind of image file an instance may point at becomes the same upright 8-bit RGB working
image, or that instance's error naming the file. Expected pixels are written by hand or come
from numpy's own rotations, never from the reader."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from amodal.errors import InstanceError
from amodal.imaging.io import read_instance_image, read_rgb


def _pattern() -> np.ndarray:
    """3 rows x 4 columns of distinct colours: any flip or rotation is visible."""
    a = np.zeros((3, 4, 3), np.uint8)
    a[..., 0] = np.arange(12).reshape(3, 4) * 20
    a[..., 1] = 7
    a[..., 2] = 255 - np.arange(12).reshape(3, 4) * 10
    return a


# EXIF orientation -> what turns the stored pixels into the displayed ones (TIFF/EXIF spec)
ORIENTATIONS = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: np.rot90(a, 2),
    4: lambda a: a[::-1],
    5: lambda a: np.transpose(a, (1, 0, 2)),
    6: lambda a: np.rot90(a, -1),  # stored rotated 90 degrees anticlockwise: turn clockwise
    7: lambda a: np.rot90(a, 2).transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),
}


@pytest.mark.parametrize("orientation", sorted(ORIENTATIONS))
def test_exif_orientation_is_applied(tmp_path, orientation):
    stored = _pattern()
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "photo.png"
    Image.fromarray(stored).save(path, exif=exif)
    assert np.array_equal(read_rgb(path), ORIENTATIONS[orientation](stored))


def test_sixteen_bit_grey_png_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 257, 257 * 100], [257 * 200, 65535, 128]], np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    with Image.open(path) as im:
        assert im.mode.startswith("I")  # PIL keeps the 16 bits
    out = read_rgb(path)
    expected = np.array([[0, 1, 100], [200, 255, 0]], np.uint8)  # v / 257 rounded; 128/257 -> 0
    assert out.dtype == np.uint8 and out.shape == (2, 3, 3)
    assert np.array_equal(out[..., 0], expected) and np.array_equal(out[..., 2], expected)


def test_float_images_in_unit_range_are_stretched(tmp_path):
    values = np.array([[0.0, 0.5, 1.0]], np.float32)
    path = tmp_path / "float.tiff"
    Image.fromarray(values, mode="F").save(path)
    assert read_rgb(path)[0, :, 1].tolist() == [0, 128, 255]


def test_alpha_is_dropped_and_the_stored_colour_kept(tmp_path):
    rgba = np.array([[[10, 20, 30, 0], [40, 50, 60, 255]]], np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    assert read_rgb(tmp_path / "a.png").tolist() == [[[10, 20, 30], [40, 50, 60]]]
    la = np.array([[[90, 0], [200, 128]]], np.uint8)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    assert read_rgb(tmp_path / "la.png").tolist() == [[[90] * 3, [200] * 3]]


def test_palette_grey_and_binary_images(tmp_path):
    palette = Image.new("P", (2, 1))
    palette.putpalette([255, 0, 0, 0, 0, 255] + [0] * 762)
    palette.putpixel((1, 0), 1)
    palette.save(tmp_path / "p.png")
    assert read_rgb(tmp_path / "p.png").tolist() == [[[255, 0, 0], [0, 0, 255]]]
    palette.info["transparency"] = 0
    palette.save(tmp_path / "pt.png", transparency=0)
    assert read_rgb(tmp_path / "pt.png").tolist() == [[[255, 0, 0], [0, 0, 255]]]
    Image.fromarray(np.array([[0, 77]], np.uint8)).save(tmp_path / "l.jpg", quality=100)
    grey = read_rgb(tmp_path / "l.jpg")
    assert grey.shape == (1, 2, 3) and np.abs(grey[0, :, 0].astype(int) - [0, 77]).max() <= 2
    Image.fromarray(np.array([[True, False]])).save(tmp_path / "b.png")
    assert read_rgb(tmp_path / "b.png").tolist() == [[[255] * 3, [0] * 3]]


@pytest.mark.parametrize("mode", ["CMYK", "YCbCr", "I", "I;16", "L", "1"])
def test_every_mode_gives_three_uint8_channels(tmp_path, mode):
    image = Image.new(mode, (5, 3))
    path = tmp_path / ("x.tiff" if mode != "YCbCr" else "x.jpg")
    image.save(path)
    out = read_rgb(path)
    assert out.dtype == np.uint8 and out.shape == (3, 5, 3)
    if mode != "YCbCr":  # all-zero YCbCr is a colour, not black or white
        assert (out == (255 if mode == "CMYK" else 0)).all()  # no ink is white; a zero grey level is black


def test_a_file_named_jpg_that_is_a_png_is_read_by_its_content(tmp_path):
    Image.fromarray(_pattern()).save(tmp_path / "really_png.jpg", format="PNG")
    assert np.array_equal(read_rgb(tmp_path / "really_png.jpg"), _pattern())


def test_sizes_from_one_pixel_to_tens_of_megapixels(tmp_path):
    Image.new("RGB", (1, 1), (5, 6, 7)).save(tmp_path / "dot.png")
    assert read_rgb(tmp_path / "dot.png").tolist() == [[[5, 6, 7]]]
    Image.new("L", (6000, 4000), 3).save(tmp_path / "big.png")  # 24 megapixels
    big = read_rgb(tmp_path / "big.png")
    assert big.shape == (4000, 6000, 3) and int(big[3999, 5999, 2]) == 3


@pytest.mark.parametrize(
    "content,reason",
    [
        (b"just some text, not an image", "cannot be read"),
        (b"", "cannot be read"),
    ],
)
def test_non_images_are_the_instances_error_naming_the_file(tmp_path, content, reason):
    path = tmp_path / "photo.jpg"
    path.write_bytes(content)
    with pytest.raises(InstanceError) as raised:
        read_instance_image(path, "inst_7")
    assert "inst_7" in str(raised.value) and str(path) in str(raised.value) and reason in str(raised.value)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_truncated_files_are_the_instances_error(tmp_path, fmt):
    noise = np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    whole = tmp_path / "whole.img"
    Image.fromarray(noise).save(whole, format=fmt)
    cut = tmp_path / "cut.img"
    cut.write_bytes(whole.read_bytes()[: len(whole.read_bytes()) // 2])
    with pytest.raises(InstanceError, match="cannot be read"):
        read_instance_image(cut, "inst_cut")


def test_an_image_beyond_pils_safety_limit_is_the_instances_error(tmp_path, monkeypatch):
    Image.new("L", (100, 100)).save(tmp_path / "bomb.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 100x100 is more than twice the limit
    with pytest.raises(InstanceError, match="too large"):
        read_instance_image(tmp_path / "bomb.png", "inst_bomb")


def test_a_missing_file_is_the_instances_error(tmp_path):
    with pytest.raises(InstanceError, match="not found"):
        read_instance_image(tmp_path / "nope.png", "inst_gone")


def _zlib_header(png: bytes) -> bytes:
    """The first two bytes of the first IDAT chunk: the zlib stream's CMF and FLG (RFC 1950)."""
    at = png.index(b"IDAT") + 4
    return png[at : at + 2]


def test_images_are_written_at_the_fastest_zlib_level_with_their_pixels_kept(tmp_path):
    from amodal.imaging.io import write_image

    rng = np.random.default_rng(0)
    for channels in (3, 4):
        pixels = rng.integers(0, 256, (40, 50, channels), dtype=np.uint8)
        path = tmp_path / f"image{channels}.png"
        write_image(path, pixels)
        # RFC 1950: FLG's two top bits are FLEVEL, 0 = fastest; 0x78 0x01 is level 1's header
        assert _zlib_header(path.read_bytes()) == b"\x78\x01"
        with Image.open(path) as im:
            np.testing.assert_array_equal(np.asarray(im), pixels)
    # level 0 has the same header and stores the bytes as they are: a flat image must shrink
    flat = np.full((40, 50, 3), 77, np.uint8)
    write_image(tmp_path / "flat.png", flat)
    assert (tmp_path / "flat.png").stat().st_size < flat.nbytes // 10
