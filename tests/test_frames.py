"""amodal.imaging.frames: placing arrays in frames and compositing, on hand-worked cases."""

import numpy as np
import pytest

from amodal.imaging.frames import (
    alpha_mask,
    composite,
    crop,
    over,
    padded_box_frame,
    paste,
    square,
    union_frame,
    window,
)
from amodal.imaging.geometry import Region


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


def test_union_frame_with_prediction_past_the_top_left():
    image = ((0, 0), (100, 80))  # H=100, W=80
    pred = ((-10, -5), (30, 20))  # x=-10, y=-5, h=30, w=20
    origin, shape = union_frame(image, pred)
    assert origin == (-10, -5)
    assert shape == (105, 90)
    # Boxes entirely inside another leave the frame as it is.
    assert union_frame(image, ((5, 5), (10, 10))) == ((0, 0), (100, 80))
    with pytest.raises(ValueError):
        union_frame()


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
    assert np.array_equal(paste(rgba, (-2, -1), (4, 6), (-2, -1)), rgba)
    # Completely outside the frame: an empty, transparent canvas.
    assert not paste(rgba, (50, 50), (5, 5)).any()
    assert window(rgba.shape, (50, 50), (5, 5)) is None


def test_paste_into_a_frame_elsewhere_with_a_fill():
    mask = np.ones((2, 3), bool)
    # frame of 4x4 whose top-left is image pixel (x=1, y=-1); the mask sits at image (2, 0)
    out = paste(mask, (2, 0), (4, 4), (1, -1), fill=False)
    expected = np.zeros((4, 4), bool)
    expected[1:3, 1:4] = True
    np.testing.assert_array_equal(out, expected)
    grey = paste(np.zeros((1, 1), np.uint8), (0, 0), (2, 2), fill=7)
    assert grey.tolist() == [[0, 7], [7, 7]]


def test_crop_is_the_region_of_the_image_frame():
    image = np.arange(12, dtype=np.uint8).reshape(3, 4)
    out = crop(image, Region(-1, 2, 2, 6), fill=99)
    expected = np.array([[99, 99, 99, 99], [2, 3, 99, 99], [6, 7, 99, 99]], dtype=np.uint8)
    np.testing.assert_array_equal(out, expected)


def test_padded_box_frame_and_alpha_mask():
    mask = np.zeros((10, 10), bool)
    mask[2:5, 3:9] = True
    assert padded_box_frame(mask, (100, 50), 2) == ((101, 50), (7, 10))
    assert padded_box_frame(np.zeros((3, 3), bool), (0, 0), 1) is None
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
