import numpy as np

from amodal.stages.segment import background_segments, with_background

SPEC = {"background": {"enabled": True, "erode_radius": 2, "min_area": 100}}


def rect(shape, y0, y1, x0, x1):
    mask = np.zeros(shape, dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


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
    stack, records = with_background([{"label": "car", "score": 1.0, "gt_index": 1}], [other], visible, SPEC)
    assert [r["kind"] for r in records] == ["object", "background"]
    assert [r["id"] for r in records] == [0, 1]
    assert stack.shape == (2, 60, 100)
    assert not (stack[1] & (visible | other)).any()
    disabled = {"background": dict(SPEC["background"], enabled=False)}
    stack, records = with_background([{"label": "car", "score": 1.0}], [other], visible, disabled)
    assert len(records) == 1 and stack.shape[0] == 1


def test_max_boxes_keeps_the_highest_scoring_detections_in_their_order():
    from types import SimpleNamespace

    from amodal.stages.segment import strongest

    found = [SimpleNamespace(score=s, phrase=p) for s, p in [(0.4, "a"), (0.9, "b"), (0.5, "c"), (0.9, "d")]]
    assert [d.phrase for d in strongest(found, 2)] == ["b", "d"]
    assert [d.phrase for d in strongest(found, 3)] == ["b", "c", "d"]
    assert strongest(found, None) == found and strongest(found, 10) == found
