import numpy as np
from skimage.morphology import disk, erosion

from amodal.stages.segment import background_segments, with_background

SPEC = {"background": {"enabled": True, "erode_radius": 2, "min_area": 100}}


def rect(shape, y0, y1, x0, x1):
    mask = np.zeros(shape, dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def test_background_is_the_eroded_complement_split_by_objects():
    shape = (60, 100)
    wall = rect(shape, 0, 60, 48, 52)  # splits the image into a left and a right part
    regions = background_segments([wall], shape, erode_radius=2, min_area=100)
    expected = erosion((~wall).astype(np.uint8), disk(2)) > 0
    assert len(regions) == 2
    np.testing.assert_array_equal(regions[0] | regions[1], expected)
    assert not (regions[0] & regions[1]).any()


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
