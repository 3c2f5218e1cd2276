"""Segments held as a stack of overlapping masks plus one label map of disjoint regions: every
consumer (order, matching, InstaOrder's inputs) gives what it gave on full-frame masks."""

import cv2
import numpy as np
import pytest
import torch
from pycocotools import mask as coco_mask

from amodal.imaging import io
from amodal.imaging.matching import match_segments, segment_ious
from amodal.imaging.segments import Segments
from amodal.models.instaorder import OrderPredictor, build_instaorder
from amodal.stages.order import depth_order_from_nearness, geometric_order, junction_evidence, occluder_mask

SHAPE = (60, 80)


def rect(y0, y1, x0, x1, shape=SHAPE):
    mask = np.zeros(shape, dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def three_regions_between_two_masks():
    """Masks a (rows 0-9, cols 0-19) and b (rows 50-59, all cols); regions 1, 2, 3 at three
    rectangles; regions_at 1: segment order a, r1, r2, r3, b."""
    a, b = rect(0, 10, 0, 20), rect(50, 60, 0, 80)
    regions = np.zeros(SHAPE, np.int32)
    regions[20:30, 0:10] = 1  # 100 px
    regions[20:25, 40:80] = 2  # 200 px
    regions[35:45, 70:75] = 3  # 50 px
    return Segments(np.stack([a, b]), regions, regions_at=1), [
        a,
        rect(20, 30, 0, 10),
        rect(20, 25, 40, 80),
        rect(35, 45, 70, 75),
        b,
    ]


def test_segment_order_masks_windows_and_areas_by_hand():
    segments, frames = three_regions_between_two_masks()
    assert len(segments) == 5 and segments.n_regions == 3
    for i, frame in enumerate(frames):
        np.testing.assert_array_equal(segments.mask(i), frame)
    np.testing.assert_array_equal(segments.stacked(), np.stack(frames))
    assert segments.areas().tolist() == [200, 100, 200, 50, 800]
    # region 2 (segment 2): rows 20..24, cols 40..79; grown by 3: rows 17..27, cols 37..79 (clipped)
    window, crop = segments.window(2, margin=3)
    assert window == (slice(17, 28), slice(37, 80))
    assert crop.shape == (11, 43) and crop.sum() == 200 and crop[3:8, 3:].all()
    window, crop = segments.window(0, margin=5)  # mask a: rows 0..9, cols 0..19 -> 0..14, 0..24
    assert window == (slice(0, 15), slice(0, 25)) and crop.sum() == 200
    probe = rect(0, 60, 5, 45)  # cols 5..44
    assert segments.intersections(probe).tolist() == [150, 50, 25, 0, 400]
    np.testing.assert_array_equal(segments.union([1, 4]), frames[1] | frames[4])
    with pytest.raises(IndexError):
        segments.mask(5)


def test_a_gap_in_the_labels_is_refused():
    regions = np.zeros(SHAPE, np.int32)
    regions[0:5, 0:5] = 2
    with pytest.raises(ValueError, match="without a gap"):
        Segments(np.zeros((0,) + SHAPE, bool), regions)


def test_the_file_round_trips_and_an_old_stack_reads_as_segments(tmp_path):
    segments, frames = three_regions_between_two_masks()
    io.write_segments(tmp_path / "segments.npz", segments)
    back = io.read_segments(tmp_path / "segments.npz")
    np.testing.assert_array_equal(back.stacked(), np.stack(frames))
    assert back.regions_at == 1 and back.n_regions == 3
    np.savez_compressed(tmp_path / "old.npz", masks=np.stack(frames))  # written before the label map
    np.testing.assert_array_equal(io.read_segments(tmp_path / "old.npz").stacked(), np.stack(frames))


def test_resized_inputs_equal_each_mask_resized_by_opencv():
    segments, frames = three_regions_between_two_masks()
    small = segments.resized(range(5), 32)
    for i, frame in enumerate(frames):
        expected = cv2.resize(frame.astype(np.float32), (32, 32), interpolation=cv2.INTER_NEAREST)
        np.testing.assert_array_equal(small[i], expected)


def test_matching_regions_gives_pycocotools_ious():
    segments, frames = three_regions_between_two_masks()
    truth = np.stack([rect(20, 30, 0, 12), rect(18, 26, 40, 80), rect(0, 10, 0, 10), rect(50, 60, 0, 80)])
    ious = np.asarray(
        coco_mask.iou(
            coco_mask.encode(np.asfortranarray(np.stack(frames, -1).astype(np.uint8))),
            coco_mask.encode(np.asfortranarray(np.stack(truth, -1).astype(np.uint8))),
            [0] * 4,
        )
    )
    np.testing.assert_array_equal(segment_ious(segments, truth), ious)  # exactly: a ratio of the same integers
    expected = [int(j) if ious[i, j] >= 0.5 else None for i, j in enumerate(ious.argmax(1))]
    assert match_segments(segments, truth) == expected == [2, 0, 1, None, 3]


def grid_scene():
    """A target disk at the top border beside an occluding bar, and the background around them cut into small
    regions by a grid of walls: dozens of regions touch the target."""
    yy, xx = np.mgrid[:120, :160]
    target = (yy - 22) ** 2 + (xx - 70) ** 2 <= 30**2  # cut by the top border: junctions there are void
    bar = (yy >= 20) & (yy < 100) & (xx >= 85) & (xx < 110)
    target &= ~bar
    walls = ((yy % 14) >= 11) | ((xx % 14) >= 11)
    free = ~(target | bar | walls)
    count, labels = cv2.connectedComponents(free.astype(np.uint8), connectivity=8)
    return target, bar, Segments(bar[None], labels.astype(np.int32)), [bar] + [labels == r for r in range(1, count)]


def test_geometric_order_on_windows_equals_the_junction_cue_over_the_whole_frame():
    target, bar, segments, frames = grid_scene()
    spec = {"geometric": {"radius": 9, "contact": 3, "margin": 0.08}}
    records = [{"label": f"s{i}"} for i in range(len(frames))]
    order = geometric_order(target, segments, records, spec)
    near = cv2.dilate(target.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))) > 0
    touching = [i for i, frame in enumerate(frames) if (near & frame).any()]
    assert [p["segment"] for p in order["pairs"]] == touching and len(touching) > 10
    judged = 0
    for pair in order["pairs"]:
        evidence = junction_evidence(frames[pair["segment"]], target, radius=9, contact=3)
        assert pair["evidence"] == evidence
        if evidence["junction_pixels"]:
            judged += 1
            difference = evidence["fraction_a"] - evidence["fraction_b"]
            assert (pair["occludes_target"], pair["target_occludes"]) == (difference > 0.08, -difference > 0.08)
        else:
            assert not pair["occludes_target"] and not pair["target_occludes"]
    assert judged > 10
    assert 0 in order["occluders"]  # the bar cuts the disk
    np.testing.assert_array_equal(
        occluder_mask(segments, order["occluders"], target),
        np.any([frames[i] for i in order["occluders"]], axis=0) & ~target,
    )


def test_depth_order_on_windows_equals_the_border_medians_over_the_whole_frame():
    target, bar, segments, frames = grid_scene()
    spec = {"depth": {"contact": 3, "band": 4, "margin": 0.05}}
    nearness = np.random.default_rng(3).random(target.shape).astype(np.float32)
    records = [{"label": f"s{i}"} for i in range(len(frames))]
    order = depth_order_from_nearness(nearness, target, segments, records, spec)

    def dilate(mask, radius):
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        return cv2.dilate(mask.astype(np.uint8), kernel) > 0

    expected = {}
    for i, frame in enumerate(frames):  # the definition, over the whole frame
        if not (dilate(target, 3) & frame).any():
            continue
        seg_side, tar_side = frame & dilate(target, 4) & ~target, target & dilate(frame, 4)
        if seg_side.any() and tar_side.any():
            expected[i] = float(np.median(nearness[seg_side]) - np.median(nearness[tar_side]))
    assert len(expected) > 10
    assert {p["segment"]: p["nearness_difference"] for p in order["pairs"]} == expected
    low, high = np.percentile(nearness, [5, 95])
    for pair in order["pairs"]:
        difference = expected[pair["segment"]]
        assert pair["occludes_target"] == (difference > 0.05 * (high - low))
        assert pair["target_occludes"] == (-difference > 0.05 * (high - low))
    assert any(p["occludes_target"] for p in order["pairs"]) and any(p["target_occludes"] for p in order["pairs"])


def test_instaorder_batches_of_regions_equal_one_batch_of_full_frames():
    torch.manual_seed(0)
    target, bar, segments, frames = grid_scene()
    image = np.random.default_rng(0).integers(0, 256, target.shape + (3,), dtype=np.uint8)
    model = build_instaorder((1, 1, 1, 1))
    front, behind = OrderPredictor(model, size=48, pairs_per_batch=7).both_ways(image, target, segments)
    whole_front, whole_behind = OrderPredictor(model, size=48, pairs_per_batch=10_000).both_ways(
        image, target, np.stack(frames)
    )
    assert front.shape == (len(frames),)
    assert np.ptp(front) > 1e-3 and np.ptp(behind) > 1e-3  # the pairs differ: the comparison says something
    assert not np.allclose(front, behind)  # the two directions are not the same numbers
    np.testing.assert_allclose(front, whole_front, atol=1e-5)
    np.testing.assert_allclose(behind, whole_behind, atol=1e-5)
