"""The size-bounded working image: oversized photos become upright, scaled working copies that
every stage reads, and the result's placement is given in the photo's own coordinates.
Expected sizes and placements are worked by hand."""

import json

import numpy as np
from PIL import Image

from amodal.datasets.cache import load_dataset_cached
from amodal.imaging.io import read_rgb
from amodal.datasets.working import source_placement, upright_size, working_size


def test_working_size_by_hand():
    assert working_size((3000, 6000), 6000) == (3000, 6000)  # within the bound
    assert working_size((3000, 6000), 4096) == (2048, 4096)
    assert working_size((3000, 6000), 2048) == (1024, 2048)
    assert working_size((300, 200), 100) == (100, 67)  # 200 * 100 / 300 = 66.7
    assert working_size((300, 200), None) == (300, 200)


def _photo(path, height, width, orientation=None):
    """A photo with a red top-left corner block as stored."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[: height // 4, : width // 4] = (255, 0, 0)
    exif = Image.Exif()
    if orientation:
        exif[0x0112] = orientation
    Image.fromarray(pixels).save(path, exif=exif)
    return path


def _dataset(tmp_path, max_side):
    images = tmp_path / "images"
    images.mkdir()
    _photo(images / "big.png", 300, 200)
    _photo(images / "turned.png", 200, 400, orientation=6)  # shown as 400 high, 200 wide
    _photo(images / "small.png", 50, 60)
    entries = [{"filename": name, "labels": ["thing"]} for name in ("big.png", "turned.png", "small.png")]
    (tmp_path / "ann.json").write_text(json.dumps({"annotations": entries}))
    spec = {"format": "seed", "annotations": str(tmp_path / "ann.json"), "images": str(images), "max_side": max_side}
    return images, spec


def test_oversized_photos_run_on_upright_scaled_copies_and_small_ones_as_they_are(tmp_path):
    images, spec = _dataset(tmp_path, 100)
    table = load_dataset_cached("mine", spec, tmp_path / "results").set_index("id")
    assert table.loc["small", "image"] == str(images / "small.png") and table.loc["small", "source_image"] == ""
    for name, shape in (("big", (100, 67, 3)), ("turned", (100, 50, 3))):
        assert table.loc[name, "source_image"] == str(images / f"{name}.png")
        assert "/.cache/working/mine/" in table.loc[name, "image"]
        assert read_rgb(table.loc[name, "image"]).shape == shape
    # orientation 6 turns the stored top-left corner to the top-right: the red block is there
    turned = read_rgb(table.loc["turned", "image"])
    assert tuple(turned[2, -3]) == (255, 0, 0) and tuple(turned[2, 2]) == (0, 0, 0)
    # a second load reuses the copies and gives the same table
    again = load_dataset_cached("mine", spec, tmp_path / "results").set_index("id")
    assert again.equals(table)


def test_without_a_bound_every_photo_is_used_at_full_size(tmp_path):
    images, spec = _dataset(tmp_path, None)
    table = load_dataset_cached("mine", spec, tmp_path / "results")
    assert list(table["image"]) == [str(images / n) for n in ("big.png", "turned.png", "small.png")]
    assert (table["source_image"] == "").all()


def test_a_placement_in_the_photos_own_coordinates_by_hand(tmp_path):
    photo = _photo(tmp_path / "p.png", 300, 200)
    assert upright_size(photo) == (300, 200)
    placed = source_placement({"offset_xy": [10, 20], "size_hw": [30, 40]}, str(photo), (100, 67))
    # x scale 200 / 67 = 2.985, y scale 300 / 100 = 3
    assert placed["offset_xy"] == [29, 60] and placed["size_hw_in_source"] == [90, 119]
    assert placed["size_hw"] == [300, 200] and placed["image"] == str(photo)
    assert source_placement({"offset_xy": None, "size_hw": None}, str(photo), (100, 67)) is None
    assert source_placement({"offset_xy": [1, 1], "size_hw": [1, 1]}, "", (100, 67)) is None
