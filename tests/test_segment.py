import numpy as np

import cv2
import pytest
from skimage.morphology import disk, erosion

from amodal.stages.segment import background_regions, with_background

SPEC = {"background": {"enabled": True, "erode_radius": 2, "min_area": 100}}


def rect(shape, y0, y1, x0, x1):
    mask = np.zeros(shape, dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def background_segments(masks, shape, erode_radius, min_area):
    """The regions as a list of full-frame masks, from the label map."""
    labels, count = background_regions(masks, shape, erode_radius=erode_radius, min_area=min_area)
    assert labels.dtype == np.int32 and labels.shape == shape
    return [labels == r for r in range(1, count + 1)]


def one_frame_per_contour(masks, shape, erode_radius=2, min_area=100):
    """The former representation, written out plainly: one full-frame mask per external contour
    of area > min_area, the component its first point lies in."""
    free = ~np.any(masks, axis=0)
    free = erosion(free.astype(np.uint8), disk(erode_radius))
    _, components = cv2.connectedComponents(free, connectivity=8)
    contours, _ = cv2.findContours(free, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = []
    for contour in contours:
        if cv2.contourArea(contour) > min_area:
            x, y = contour[0, 0]
            out.append(components == components[y, x])
    return out


def grid_of_cells(side, cell, wall=5):
    """Walls `wall` px wide around free square cells of `cell` px: one background region per cell."""
    y, x = np.mgrid[:side, :side]
    return ((y % (cell + wall)) >= cell) | ((x % (cell + wall)) >= cell)


def test_background_is_the_eroded_complement_split_by_objects():
    shape = (60, 100)
    wall = rect(shape, 0, 60, 30, 34)  # cols 30..33: splits the image into a left and a right part
    block = rect(shape, 20, 24, 60, 64)  # a 4 x 4 object inside the right part
    regions = background_segments([wall, block], shape, erode_radius=2, min_area=100)
    assert len(regions) == 2
    left, right = sorted(regions, key=lambda region: np.nonzero(region)[1].min())
    # disk(2) reaches 2 px along rows and columns and 1 px diagonally; the image border does not
    # erode (skimage reflects there). Left: cols 0..27 of every row, 60 x 28 px.
    assert left.sum() == 1680
    np.testing.assert_array_equal(left, rect(shape, 0, 60, 0, 28))
    # Right: cols 36..99 (60 x 64 px) less the block grown by the disk: its 8 x 8 box (rows 18..25,
    # cols 58..65) without three pixels at each corner, 64 - 12 = 52 px.
    hole = rect(shape, 18, 26, 58, 66)
    for y, x, dy, dx in ((18, 58, 1, 1), (18, 65, 1, -1), (25, 58, -1, 1), (25, 65, -1, -1)):
        hole[y, x] = hole[y + dy, x] = hole[y, x + dx] = False
    assert hole.sum() == 52
    assert right.sum() == 60 * 64 - 52 == 3788
    np.testing.assert_array_equal(right, rect(shape, 0, 60, 36, 100) & ~hole)


def test_small_pockets_are_dropped_and_holes_stay_empty():
    shape = (80, 80)
    ring = rect(shape, 20, 60, 20, 60) & ~rect(shape, 30, 38, 30, 38)  # an 8x8 pocket inside
    regions = background_segments([ring], shape, erode_radius=2, min_area=100)
    # The pocket erodes to 4x4 (area 9 by contour), below 100: only the outer background remains.
    assert len(regions) == 1
    assert not (regions[0] & ring).any()
    assert not regions[0][30:38, 30:38].any()
    assert regions[0][5, 5]


def test_with_background_appends_backgrounds_after_objects():
    shape = (60, 100)
    visible = rect(shape, 10, 30, 10, 30)
    other = rect(shape, 10, 30, 30, 50)
    segments, records = with_background([{"label": "car", "score": 1.0, "gt_index": 1}], [other], visible, SPEC)
    assert [r["kind"] for r in records] == ["object", "background"]
    assert [r["id"] for r in records] == [0, 1]
    assert len(segments) == 2 and segments.shape == (60, 100)
    assert segments.masks.shape == (1, 60, 100) and segments.n_regions == 1  # the region is a label
    np.testing.assert_array_equal(segments.mask(0), other)
    assert not (segments.mask(1) & (visible | other)).any()
    disabled = {"background": dict(SPEC["background"], enabled=False)}
    segments, records = with_background([{"label": "car", "score": 1.0}], [other], visible, disabled)
    assert len(records) == 1 and len(segments) == 1


@pytest.mark.parametrize("cell, wall", [(16, 5), (17, 3), (30, 4)])
def test_the_label_map_holds_exactly_the_regions_one_frame_per_contour_held(cell, wall):
    shape = (200, 230)
    walls = grid_of_cells(230, cell, wall)[:200]
    blob = rect(shape, 40, 90, 50, 140) & ~rect(shape, 55, 75, 70, 120)  # a ring: its hole is a region too
    expected = one_frame_per_contour([walls, blob], shape)
    assert len(expected) > 20
    found = background_segments([walls, blob], shape, erode_radius=2, min_area=100)
    assert len(found) == len(expected)
    for mine, theirs in zip(found, expected):
        np.testing.assert_array_equal(mine, theirs)


def test_thousands_of_background_regions_cost_one_label_map():
    side = 1024
    walls = grid_of_cells(side, 12)  # 1024 / 17 -> 61 cells a side (the last cut to 4 px, too small)
    visible = rect((side, side), 0, 0, 0, 0)
    segments, records = with_background([{"label": "walls", "score": 1.0}], [walls], visible, SPEC)
    # a 12 x 12 cell erodes to 8 x 8 (the walls grow 2 px into it): contour area 7 x 7 = 49 < 100...
    # so cells of 12 px give none; 16 px cells erode to 12 x 12, contour area 121 > 100.
    assert segments.n_regions == 0
    walls = grid_of_cells(side, 16)  # 1024 / 21 -> 48 full cells a side, and a last column/row of 16 px
    segments, records = with_background([{"label": "walls", "score": 1.0}], [walls], visible, SPEC)
    # the image border does not erode: the 49th cell of a row spans cols 1008..1023 (16 px), its
    # eroded part cols 1010..1023, 14 px wide, area 13 x 11 = 143 > 100; so 49 x 49 regions
    assert segments.n_regions == 49 * 49 == 2401
    assert segments.masks.shape == (1, side, side) and segments.regions.dtype == np.int32
    assert len(records) == 1 + 2401 and records[-1]["label"] == "background_2400"


def test_max_boxes_keeps_the_highest_scoring_detections_in_their_order():
    from types import SimpleNamespace

    from amodal.stages.segment import strongest

    found = [SimpleNamespace(score=s, phrase=p) for s, p in [(0.4, "a"), (0.9, "b"), (0.5, "c"), (0.9, "d")]]
    assert [d.phrase for d in strongest(found, 2)] == ["b", "d"]
    assert [d.phrase for d in strongest(found, 3)] == ["b", "c", "d"]
    assert strongest(found, None) == found and strongest(found, 10) == found
