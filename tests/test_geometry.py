"""The seed's canvas/crop/border machinery on constructed masks, numbers worked out by hand."""

import numpy as np
import pytest

from amodal.imaging.frames import Region
from amodal.imaging.geometry import crop_region, frame_mask, sides_touched


def rect(shape, y0, y1, x0, x1):
    mask = np.zeros(shape, dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


@pytest.mark.parametrize(
    "box, expected",
    [
        ((20, 40, 20, 40), set()),
        ((11, 40, 20, 40), set()),  # first row 11 is more than 10 px from the top
        ((10, 40, 20, 40), {"top"}),  # the seed tests <= gap
        ((20, 90, 20, 40), set()),  # last row 89 < 100 - 10
        ((20, 91, 20, 40), {"bottom"}),  # last row 90 >= 100 - 10
        ((20, 40, 0, 100), {"left", "right"}),
    ],
)
def test_sides_touched_follows_the_seed_gap_rule(box, expected):
    y0, y1, x0, x1 = box
    assert sides_touched(rect((100, 100), y0, y1, x0, x1), gap=10) == expected


def test_crop_region_inside_the_image():
    # Image 100 x 200; canvas 600 x 1200 with the image at rows 250.., cols 500..
    visible = rect((100, 200), 40, 60, 80, 120)
    region, sides = crop_region(visible, scale=6, buffer=60, pad=150, gap=10)
    # canvas box rows 290..309, cols 580..619 (inclusive); +-60 gives rows 230:369, cols 520:679;
    # square 159: rows grow by 20 on both sides (10 + 10) -> 220:379.
    assert sides == set()
    assert region == Region(220 - 250, 520 - 500, 379 - 250, 679 - 500)
    assert region.shape == (159, 159)


def test_crop_region_pads_the_touched_side_and_squares_around_it():
    visible = rect((100, 200), 40, 60, 185, 200)  # touches the right side
    region, sides = crop_region(visible, scale=6, buffer=60, pad=150, gap=10)
    # cols 685..699 -> 625:759, +150 right -> 909; width 284. Rows 230:369 (139) grow by 145:
    # floor 72 up, ceil 73 down -> 158:442.
    assert sides == {"right"}
    assert region == Region(158 - 250, 625 - 500, 442 - 250, 909 - 500)
    assert region.shape == (284, 284)


def test_crop_region_grows_towards_a_touched_side_only():
    visible = rect((100, 200), 0, 60, 80, 100)  # touches the top
    region, sides = crop_region(visible, scale=6, buffer=60, pad=150, gap=10)
    # rows 250..309 -> 190:369, -150 top -> 40:369 (329); cols 580..599 -> 520:659 (139),
    # grows by 190 split 95/95 -> 425:754.
    assert sides == {"top"}
    assert region == Region(40 - 250, 425 - 500, 369 - 250, 754 - 500)


def test_crop_region_is_clipped_to_the_canvas():
    visible = rect((20, 20), 0, 20, 0, 20)  # whole image: every side touched
    region, _ = crop_region(visible, scale=6, buffer=60, pad=150, gap=10)
    # canvas 120 x 120 with the image at 50..69: the crop is the whole canvas.
    assert region == Region(-50, -50, 70, 70)


def test_crop_region_rejects_an_empty_mask():
    with pytest.raises(ValueError, match="empty"):
        crop_region(np.zeros((10, 10), bool))


def test_frame_mask_marks_the_region_inside_the_image():
    # Image 3 x 4; the region's rows -1..1 and columns 2..5: its first row lies above the
    # image, its last two columns right of it.
    expected = [[False, False, False, False], [True, True, False, False], [True, True, False, False]]
    assert frame_mask((3, 4, 3), Region(-1, 2, 2, 6)).tolist() == expected
    assert frame_mask((3, 4), Region(5, 0, 7, 2)).tolist() == [[False, False]] * 2  # wholly below
