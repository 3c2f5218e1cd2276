"""amodal.imaging.frames: the box type, placing arrays in frames and compositing, on hand-worked
cases."""

import dataclasses

import numpy as np
import pytest

from amodal.imaging.frames import (
    Region,
    alpha_mask,
    composite,
    crop,
    over,
    paste,
    square,
    window,
)


def test_region_at_an_origin_and_its_views():
    # top-left pixel x=3, y=-2; 4 rows, 5 columns -> rows -2..1, columns 3..7
    box = Region.at((3, -2), (4, 5, 3))  # channels of an array's shape are ignored
    assert box == Region(y0=-2, x0=3, y1=2, x1=8)
    assert box.origin == (3, -2) and box.shape == (4, 5)
    assert box.xyxy == (3, -2, 8, 2)
    inside = Region(1, 2, 3, 4)
    assert inside.slices == (slice(1, 3), slice(2, 4))
    assert np.arange(20).reshape(4, 5)[inside.slices].tolist() == [[7, 8], [12, 13]]


def test_region_as_dict_keeps_the_record_form_and_reads_back():
    box = Region(-30, 0, 60, 60)
    assert list(box.as_dict().items()) == [("y0", -30), ("x0", 0), ("y1", 60), ("x1", 60)]
    assert Region(**box.as_dict()) == box
    with pytest.raises(dataclasses.FrozenInstanceError):
        box.y0 = 0
    assert len({Region(0, 0, 1, 1), Region(0, 0, 1, 1)}) == 1


def test_region_bounding_a_mask_placed_elsewhere():
    mask = np.zeros((10, 10), bool)
    mask[2:5, 3:9] = True  # rows 2..4, columns 3..8
    assert Region.bounding(mask) == Region(2, 3, 5, 9)  # end-exclusive
    # the mask's top-left at x=100, y=50: rows 52..54, columns 103..108
    assert Region.bounding(mask, (100, 50)) == Region(52, 103, 55, 109)
    assert Region.bounding(np.zeros((3, 3), bool)) is None
    single = np.zeros((4, 4), np.uint8)
    single[3, 0] = 7
    assert Region.bounding(single) == Region(3, 0, 4, 1)


def test_region_grown_relative_and_clipped():
    box = Region(52, 103, 55, 109)
    grown = box.grown(2)
    assert grown == Region(50, 101, 57, 111) and grown.origin == (101, 50) and grown.shape == (7, 10)
    # the same pixels seen from a frame whose top-left is x=100, y=50
    assert box.relative_to((100, 50)) == Region(2, 3, 5, 9)
    assert Region(-1, 2, 2, 6).within((3, 4)) == Region(0, 2, 2, 4)
    assert Region(-1, 2, 2, 6).within((3, 4, 3)) == Region(0, 2, 2, 4)
    assert Region(3, 0, 5, 2).within((3, 4)) is None  # below the last row


def test_region_union_with_prediction_past_the_top_left():
    image = Region.at((0, 0), (100, 80))  # H=100, W=80
    pred = Region.at((-10, -5), (30, 20))  # x=-10, y=-5, h=30, w=20
    frame = image.union(pred)
    assert frame == Region(-5, -10, 100, 80)
    assert frame.origin == (-10, -5) and frame.shape == (105, 90)
    # Boxes entirely inside another leave the frame as it is.
    assert image.union(Region.at((5, 5), (10, 10))) == image
    assert Region.union(Region(0, 0, 1, 1), Region(4, 6, 5, 7), Region(-2, 3, 0, 4)) == Region(-2, 0, 5, 7)


def test_region_intersection_is_half_open():
    assert Region(0, 0, 4, 4).intersection(Region(2, 3, 6, 9)) == Region(2, 3, 4, 4)
    assert Region(0, 0, 2, 2).intersection(Region(2, 0, 4, 2)) is None  # rows 0..1 and 2..3 only touch
    assert Region(0, 0, 2, 2).intersection(Region(0, 2, 2, 4)) is None
    assert Region(-5, -5, 5, 5).intersection(Region(1, 1, 2, 2)) == Region(1, 1, 2, 2)


def test_composite_blends_over_the_background():
    rgba = np.array([[[200, 10, 50, 0], [200, 10, 50, 255], [200, 10, 50, 51]]], np.uint8)
    out = composite(rgba, (100, 100, 100))
    assert np.allclose(out[0, 0], [100, 100, 100])  # transparent shows the background
    assert np.allclose(out[0, 1], [200, 10, 50])
    assert np.allclose(out[0, 2], [120, 82, 90])  # alpha 0.2
    assert out.dtype == np.float64


def test_over_an_image_keeps_its_dtype_and_is_exact_at_the_ends():
    under = np.full((1, 3, 3), 40.0, np.float32)
    rgba = np.array([[[250, 0, 100, 255], [250, 0, 100, 0], [250, 0, 100, 102]]], np.uint8)
    out = over(rgba, under, np.float32)
    assert out.dtype == np.float32
    assert out[0, 0].tolist() == [250, 0, 100] and out[0, 1].tolist() == [40, 40, 40]
    assert np.allclose(out[0, 2], [0.4 * 250 + 0.6 * 40, 0.6 * 40, 0.4 * 100 + 0.6 * 40])


def test_paste_with_negative_offset_clips_and_places_exactly():
    rgba = np.zeros((4, 6, 4), np.uint8)
    rgba[..., 0] = np.arange(24).reshape(4, 6)
    rgba[..., 3] = 255
    # Into the image frame: the first 2 columns and first row fall off the top-left.
    canvas = paste(rgba, (-2, -1), (5, 5))
    assert canvas.shape == (5, 5, 4)
    assert np.array_equal(canvas[:3, :4], rgba[1:, 2:])
    assert not canvas[3:].any() and not canvas[:, 4:].any()
    # Into a frame starting at the prediction's own origin: nothing is lost.
    assert np.array_equal(paste(rgba, (-2, -1), Region.at((-2, -1), (4, 6))), rgba)
    # Completely outside the frame: an empty, transparent canvas.
    assert not paste(rgba, (50, 50), (5, 5)).any()
    assert window(rgba.shape, (50, 50), (5, 5)) is None


def test_paste_into_a_frame_elsewhere_with_a_fill():
    mask = np.ones((2, 3), bool)
    # frame of 4x4 whose top-left is image pixel (x=1, y=-1); the mask sits at image (2, 0)
    out = paste(mask, (2, 0), Region.at((1, -1), (4, 4)), fill=False)
    expected = np.zeros((4, 4), bool)
    expected[1:3, 1:4] = True
    np.testing.assert_array_equal(out, expected)
    # image rows 0..1, columns 2..4: frame rows 1..2, columns 1..3; the whole mask
    assert window(mask.shape, (2, 0), Region.at((1, -1), (4, 4))) == (
        (slice(1, 3), slice(1, 4)),
        (slice(0, 2), slice(0, 3)),
    )
    grey = paste(np.zeros((1, 1), np.uint8), (0, 0), (2, 2), fill=7)
    assert grey.tolist() == [[0, 7], [7, 7]]


def test_crop_is_the_region_of_the_image_frame():
    image = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = crop(image, Region(-1, 2, 2, 6), fill=99)
    expected = np.array([[99, 99, 99, 99], [2, 3, 99, 99], [6, 7, 99, 99]], dtype=np.uint8)
    np.testing.assert_array_equal(out, expected)


def test_alpha_mask_is_above_the_threshold():
    rgba = np.zeros((1, 3, 4), np.uint8)
    rgba[0, :, 3] = [127, 128, 255]
    assert alpha_mask(rgba).tolist() == [[False, True, True]]


def test_square_centres_on_the_colour():
    tall = np.full((3, 1, 3), 9, np.uint8)
    out = square(tall, (1, 2, 3))
    assert out.shape == (3, 3, 3)
    assert out[:, 1].tolist() == [[9, 9, 9]] * 3
    assert out[:, 0].tolist() == [[1, 2, 3]] * 3 and out[:, 2].tolist() == [[1, 2, 3]] * 3
    wide = np.zeros((1, 4, 3))
    out = square(wide, (5, 5, 5))
    assert out.shape == (4, 4, 3) and out[1].sum() == 0 and out[0].sum() == 60  # odd split: extra row below
    assert out[2:].min() == 5
