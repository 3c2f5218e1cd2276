"""The metric families of amodal.metrics on constructed cases, against pycocotools and
scikit-image (masks, appearance, order) and by hand."""

import json
import math

import numpy as np
import pytest
from pycocotools import mask as coco_mask
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from amodal.imaging.frames import Region, alpha_mask, composite, paste
from amodal.imaging.matching import match_segments
from amodal.metrics.appearance import hidden_region_quality, visible_consistency
from amodal.metrics.definitions import BACKGROUND, PSNR_CAP
from amodal.metrics.masks import amodal_counts, iou, mask_counts
from amodal.metrics.order import order_accuracy, order_counts


def rect(shape, y0, x0, y1, x1):
    mask = np.zeros(shape, dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def textured_rgba(h, w, seed=0):
    """An opaque object with texture, so SSIM and PSNR see real structure."""
    rng = np.random.default_rng(seed)
    rgba = np.empty((h, w, 4), dtype=np.uint8)
    rgba[..., :3] = rng.integers(20, 236, size=(h, w, 3))
    rgba[..., 3] = 255
    return rgba


def coco_iou(a, b):
    def enc(m):
        return coco_mask.encode(np.asfortranarray(m.astype(np.uint8)))

    return float(coco_mask.iou([enc(a)], [enc(b)], [0])[0][0])


# --- masks ----------------------------------------------------------------------------------


def test_mask_counts_on_rectangles_by_hand_and_against_pycocotools():
    pred = rect((20, 30), 2, 3, 12, 13)  # 10 x 10 = 100
    gt = rect((20, 30), 7, 8, 17, 23)  # 10 x 15 = 150, overlap rows 7..11, cols 8..12 = 25
    counts = mask_counts(pred, gt)
    assert counts == {"intersection": 25, "union": 225, "pred_pixels": 100, "gt_pixels": 150}
    assert iou(counts) == pytest.approx(25 / 225)
    assert iou(counts) == pytest.approx(coco_iou(pred, gt))


def test_iou_matches_pycocotools_on_random_masks():
    rng = np.random.default_rng(3)
    for _ in range(5):
        a, b = rng.random((2, 40, 50)) > 0.6
        assert iou(mask_counts(a, b)) == pytest.approx(coco_iou(a, b))


def test_iou_of_two_empty_masks_is_none_and_shape_mismatch_raises():
    empty = np.zeros((5, 5), bool)
    assert iou(mask_counts(empty, empty)) is None
    with pytest.raises(ValueError):
        mask_counts(empty, np.zeros((5, 6), bool))


# --- amodal masks ---------------------------------------------------------------------------


def test_amodal_iou_counts_parts_past_the_border():
    whole = np.zeros((10, 10, 4), np.uint8)
    whole[..., 3] = 255
    pred = whole[:, :5].copy()  # only the right half is missing
    counts = amodal_counts(pred, (-3, -3), whole, (-3, -3))
    assert counts == {"intersection": 50, "union": 100, "pred_pixels": 50, "gt_pixels": 100}


# --- hidden region --------------------------------------------------------------------------


def scene(offset=(-6, -4), shift=(0, 0)):
    """A 40x50 whole object at `offset` in a 48x64 image; its right part is occluded.

    `shift` (dx, dy) moves the object and pads the visible mask by the same amount at the
    top-left: a pure translation of the whole scene (padding is not visible, as before).
    """
    whole = textured_rgba(40, 50)
    amodal = alpha_mask(paste(whole, offset, (48, 64)))
    visible = amodal & ~rect((48, 64), 0, 25, 48, 64)
    dx, dy = shift
    visible = np.pad(visible, ((dy, 0), (dx, 0)))
    return whole, (offset[0] + dx, offset[1] + dy), visible


def test_identical_prediction_scores_capped_psnr_and_ssim_one():
    whole, offset, visible = scene()
    q = hidden_region_quality(whole, offset, whole, offset, visible)
    # Hidden = past the top/left border (rows/cols with negative coords) + occluded columns.
    in_gt = paste(visible, (0, 0), Region.at(offset, whole.shape))
    assert q["hidden_pixels"] == 40 * 50 - int(in_gt.sum())
    assert q["hidden_pixels"] > 0
    assert q["sse"] == 0
    assert q["psnr"] == PSNR_CAP
    assert q["ssim"] == pytest.approx(1.0, abs=1e-9)
    json.dumps(q)  # no inf/nan-type surprises in the record


def test_constant_error_gives_textbook_psnr_equal_to_skimage():
    whole, offset, visible = scene()
    e = 7
    pred = whole.copy()
    pred[..., :3] += e  # texture stays within [20, 243], so no clipping
    q = hidden_region_quality(pred, offset, whole, offset, visible)
    expected = 20 * math.log10(255 / e)
    assert q["psnr"] == pytest.approx(expected, abs=1e-6)
    assert q["sse"] == pytest.approx(q["hidden_pixels"] * 3 * e**2)

    hidden = alpha_mask(whole) & ~paste(visible, (0, 0), Region.at(offset, whole.shape))
    reference = peak_signal_noise_ratio(whole[..., :3][hidden], pred[..., :3][hidden], data_range=255)
    assert q["psnr"] == pytest.approx(reference, abs=1e-6)
    assert q["ssim"] < 1.0


def test_hidden_ssim_crop_equals_ssim_over_a_large_frame():
    # The padded crop must give the same per-pixel SSIM as scoring the whole scene at once.
    whole, offset, visible = scene()
    rng = np.random.default_rng(2)
    pred = whole.copy()
    pred[..., :3] = np.clip(whole[..., :3].astype(int) + rng.integers(-40, 40, (40, 50, 3)), 0, 255)
    pred_offset = (offset[0] - 3, offset[1] + 2)
    q = hidden_region_quality(pred, pred_offset, whole, offset, visible)

    boxes = [Region.at((0, 0), visible.shape), Region.at(offset, (40, 50)), Region.at(pred_offset, (40, 50))]
    frame = Region.union(*boxes).grown(20)
    gt_big = composite(paste(whole, offset, frame), BACKGROUND)
    pred_big = composite(paste(pred, pred_offset, frame), BACKGROUND)
    amodal = alpha_mask(paste(whole, offset, frame))
    hidden = amodal & ~paste(visible, (0, 0), frame)
    _, full = structural_similarity(gt_big, pred_big, channel_axis=-1, data_range=255, full=True)
    assert int(hidden.sum()) == q["hidden_pixels"]
    assert q["ssim_sum"] == pytest.approx(float(full.mean(axis=-1)[hidden].sum()), rel=1e-9)
    assert q["sse"] == pytest.approx(float(((gt_big - pred_big)[hidden] ** 2).sum()))


def test_transparent_hidden_region_is_penalised():
    whole, offset, visible = scene()
    holey = whole.copy()
    hidden = alpha_mask(whole) & ~paste(visible, (0, 0), Region.at(offset, whole.shape))
    holey[hidden, 3] = 0  # the prediction gives up on the hidden part
    good = hidden_region_quality(whole, offset, whole, offset, visible)
    bad = hidden_region_quality(holey, offset, whole, offset, visible)
    assert bad["sse"] > 0
    assert bad["psnr"] < good["psnr"]
    assert bad["ssim"] < good["ssim"] - 0.1


def test_hidden_quality_is_translation_invariant():
    whole, offset, visible = scene()
    rng = np.random.default_rng(1)
    pred = np.clip(whole.astype(int) + rng.integers(-30, 30, whole.shape), 0, 255).astype(np.uint8)
    pred[..., 3] = 255
    pred_offset = (offset[0] + 2, offset[1] - 1)  # slightly misplaced too
    base = hidden_region_quality(pred, pred_offset, whole, offset, visible)

    for shift in [(9, 5), (30, 0), (0, 17)]:
        w2, o2, v2 = scene(shift=shift)
        p2 = (pred_offset[0] + shift[0], pred_offset[1] + shift[1])
        moved = hidden_region_quality(pred, p2, w2, o2, v2)
        assert moved["hidden_pixels"] == base["hidden_pixels"]
        assert moved["sse"] == pytest.approx(base["sse"])
        assert moved["psnr"] == pytest.approx(base["psnr"])
        assert moved["ssim_sum"] == pytest.approx(base["ssim_sum"])


def test_no_hidden_pixels_gives_no_psnr():
    whole = textured_rgba(10, 10)
    visible = np.ones((20, 20), bool)
    q = hidden_region_quality(whole, (2, 2), whole, (2, 2), visible)
    assert q["hidden_pixels"] == 0 and q["psnr"] is None and q["ssim"] is None


def test_visible_consistency_rewards_keeping_the_input():
    whole, offset, visible = scene()
    image = paste(whole, offset, visible.shape)[..., :3]
    same = visible_consistency(image, visible, whole, offset)
    assert same["visible_pixels"] == int(visible.sum())
    assert same["ssim"] == pytest.approx(1.0, abs=1e-9)
    assert same["changed_pixels"] == 0  # copied: SSIM 1 by construction
    other = visible_consistency(image, visible, textured_rgba(40, 50, seed=9), offset)
    assert other["ssim"] < 0.5


def test_visible_consistency_counts_changed_pixels_and_equals_skimage_on_the_masked_box():
    # A 30x40 photo; the visible object is rows 5..14, cols 10..29; the output (placed at its own
    # offset) repaints 7 of its pixels and everything around the object.
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (30, 40, 3)).astype(np.uint8)
    visible = np.zeros((30, 40), bool)
    visible[5:15, 10:30] = True
    output = np.zeros((14, 24, 4), np.uint8)  # placed at x=8, y=3: covers rows 3..16, cols 8..31
    output[..., 3] = 255
    output[..., :3] = rng.integers(0, 256, (14, 24, 3))
    output[2:12, 2:22, :3] = image[5:15, 10:30]
    output[4, 5:12, 0] ^= 1  # 7 visible pixels change by one grey level
    found = visible_consistency(image, visible, output, (8, 3), (10, 20, 30))
    assert found["visible_pixels"] == 200 and found["changed_pixels"] == 7

    # by hand: the box rows 5..14, cols 10..29 padded by 7, everything outside the mask flat
    source = np.empty((24, 34, 3))
    source[...] = (10, 20, 30)
    result = source.copy()
    source[7:17, 7:27] = image[5:15, 10:30]
    result[7:17, 7:27] = output[2:12, 2:22, :3]
    _, full = structural_similarity(source, result, channel_axis=-1, data_range=255, full=True)
    scored = full.mean(axis=-1)[7:17, 7:27]
    assert found["ssim_sum"] == pytest.approx(float(scored.sum()), rel=1e-12)
    assert found["ssim"] < 1.0


# --- order and matching ---------------------------------------------------------------------


def test_order_counts_on_constructed_case():
    candidates = ["a", "b", "c", "d", "e"]
    truth = ["a", "b"]  # a and b occlude the target
    predicted = ["a", "c", "d", "z"]  # z is not a candidate and must be ignored
    counts = order_counts(predicted, truth, candidates + ["a"])  # duplicates count once
    assert counts == {"tp": 1, "fp": 2, "fn": 1, "tn": 1, "pairs": 5}
    assert order_accuracy(counts) == pytest.approx(2 / 5)


def test_match_segments_recovers_a_shuffled_stack():
    shape = (30, 40)
    gt = [rect(shape, 0, 0, 10, 10), rect(shape, 12, 5, 25, 20), rect(shape, 3, 25, 28, 38)]
    order = [2, 0, 1]
    segments = np.stack([gt[i] for i in order])
    segments[1, 10, 0:10] = True  # a slightly wrong segment still matches its object
    noise = rect(shape, 26, 0, 30, 4)  # overlaps nothing
    segments = np.concatenate([segments, noise[None]])
    assert match_segments(segments, gt) == [2, 0, 1, None]
    assert match_segments(segments[:0], gt) == []
    assert match_segments(segments, []) == [None] * 4


def test_match_segments_respects_min_iou():
    shape = (10, 10)
    gt = [rect(shape, 0, 0, 10, 10)]
    half = rect(shape, 0, 0, 10, 5)[None]  # IoU 0.5 exactly
    assert match_segments(half, gt, min_iou=0.5) == [0]
    assert match_segments(half, gt, min_iou=0.6) == [None]
