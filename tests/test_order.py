"""Geometric occlusion order on constructed scenes where the true order is known."""

import numpy as np
import pytest

from amodal.stages.order import geometric_order, junction_evidence, occluder_mask
from amodal.stages.segment import with_background

SPEC = {"geometric": {"radius": 9, "contact": 3, "margin": 0.08}}
BACKGROUND = {"background": {"enabled": True, "erode_radius": 2, "min_area": 100}}
SHAPE = (140, 180)


def disk(cy, cx, r, shape=SHAPE):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def rect(y0, y1, x0, x1, shape=SHAPE):
    mask = np.zeros(shape, dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def scene(target_in_front: bool):
    target, other = disk(70, 70, 38), rect(25, 115, 90, 150)
    if target_in_front:
        return target, other & ~target
    return target & ~other, other


def segments_for(visible, other):
    return with_background([{"label": "box", "score": 1.0}], [other], visible, BACKGROUND)


@pytest.mark.parametrize("target_in_front", [False, True])
def test_the_region_in_front_wins_the_junctions(target_in_front):
    visible, other = scene(target_in_front)
    evidence = junction_evidence(other, visible, radius=9, contact=3)
    assert evidence["junction_pixels"] > 0
    other_front = evidence["fraction_a"] > evidence["fraction_b"]
    assert other_front is (not target_in_front)


@pytest.mark.parametrize("target_in_front", [False, True])
def test_geometric_order_finds_the_occluder_and_not_the_background(target_in_front):
    visible, other = scene(target_in_front)
    stack, records = segments_for(visible, other)
    order = geometric_order(visible, stack, records, SPEC)
    assert order["occluders"] == ([] if target_in_front else [0])
    box = next(p for p in order["pairs"] if p["segment"] == 0)
    assert box["occludes_target"] is (not target_in_front)
    assert box["target_occludes"] is target_in_front
    background_rows = [p for p in order["pairs"] if records[p["segment"]]["kind"] == "background"]
    assert background_rows and not any(p["occludes_target"] for p in background_rows)


def test_far_segments_are_not_considered():
    visible = disk(40, 40, 20)
    far = rect(100, 130, 140, 170)
    stack = np.stack([far])
    order = geometric_order(visible, stack, [{"label": "far", "kind": "object"}], SPEC)
    assert order["pairs"] == [] and order["occluders"] == []
    assert order["segments"] == 1


def test_occluder_mask_never_covers_the_target():
    visible = rect(10, 30, 10, 30)
    overlapping = rect(20, 40, 20, 40)  # 400 px, 100 of them (rows 20..29, cols 20..29) on the target
    unlisted = rect(0, 10, 100, 120)  # not an occluder: left out
    inside = rect(12, 16, 12, 16)  # an occluder wholly on the target: adds nothing
    mask = occluder_mask(np.stack([overlapping, unlisted, inside]), [0, 2], visible)
    assert mask.shape == SHAPE and mask.sum() == 300
    # an L: rows 20..29 right of the target (cols 30..39) and rows 30..39 below it (cols 20..39)
    np.testing.assert_array_equal(mask, rect(20, 30, 30, 40) | rect(30, 40, 20, 40))
    assert not occluder_mask(np.stack([overlapping]), [], visible).any()
