import json
import math

import numpy as np
import pytest
from pycocotools import mask as coco_mask
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from amodal import evaluate as ev

BG = ev.BACKGROUND


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
    enc = lambda m: coco_mask.encode(np.asfortranarray(m.astype(np.uint8)))
    return float(coco_mask.iou([enc(a)], [enc(b)], [0])[0][0])


# --- masks ----------------------------------------------------------------------------------


def test_mask_counts_on_rectangles_by_hand_and_against_pycocotools():
    pred = rect((20, 30), 2, 3, 12, 13)  # 10 x 10 = 100
    gt = rect((20, 30), 7, 8, 17, 23)  # 10 x 15 = 150, overlap rows 7..11, cols 8..12 = 25
    counts = ev.mask_counts(pred, gt)
    assert counts == {"intersection": 25, "union": 225, "pred_pixels": 100, "gt_pixels": 150}
    assert ev.iou(counts) == pytest.approx(25 / 225)
    assert ev.iou(counts) == pytest.approx(coco_iou(pred, gt))


def test_iou_matches_pycocotools_on_random_masks():
    rng = np.random.default_rng(3)
    for _ in range(5):
        a, b = rng.random((2, 40, 50)) > 0.6
        assert ev.iou(ev.mask_counts(a, b)) == pytest.approx(coco_iou(a, b))


def test_iou_of_two_empty_masks_is_none_and_shape_mismatch_raises():
    empty = np.zeros((5, 5), bool)
    assert ev.iou(ev.mask_counts(empty, empty)) is None
    with pytest.raises(ValueError):
        ev.mask_counts(empty, np.zeros((5, 6), bool))


# --- frames ---------------------------------------------------------------------------------


def test_composite_blends_over_the_background():
    rgba = np.array([[[200, 10, 50, 0], [200, 10, 50, 255], [200, 10, 50, 51]]], np.uint8)
    out = ev.composite(rgba, (100, 100, 100))
    assert np.allclose(out[0, 0], [100, 100, 100])  # transparent shows the background
    assert np.allclose(out[0, 1], [200, 10, 50])
    assert np.allclose(out[0, 2], [120, 82, 90])  # alpha 0.2


def test_union_frame_with_prediction_past_the_top_left():
    image = ((0, 0), (100, 80))  # H=100, W=80
    pred = ((-10, -5), (30, 20))  # x=-10, y=-5, h=30, w=20
    origin, shape = ev.union_frame(image, pred)
    assert origin == (-10, -5)
    assert shape == (105, 90)
    # Boxes entirely inside another leave the frame as it is.
    assert ev.union_frame(image, ((5, 5), (10, 10))) == ((0, 0), (100, 80))


def test_paste_with_negative_offset_clips_and_places_exactly():
    rgba = np.zeros((4, 6, 4), np.uint8)
    rgba[..., 0] = np.arange(24).reshape(4, 6)
    rgba[..., 3] = 255
    # Into the image frame: the first 2 columns and first row fall off the top-left.
    canvas = ev.paste(rgba, (-2, -1), (0, 0), (5, 5))
    assert canvas.shape == (5, 5, 4)
    assert np.array_equal(canvas[:3, :4], rgba[1:, 2:])
    assert not canvas[3:].any() and not canvas[:, 4:].any()
    # Into a frame starting at the prediction's own origin: nothing is lost.
    full = ev.paste(rgba, (-2, -1), (-2, -1), (4, 6))
    assert np.array_equal(full, rgba)
    # Completely outside the frame: an empty, transparent canvas.
    assert not ev.paste(rgba, (50, 50), (0, 0), (5, 5)).any()


def test_amodal_iou_counts_parts_past_the_border():
    whole = np.zeros((10, 10, 4), np.uint8)
    whole[..., 3] = 255
    pred = whole[:, :5].copy()  # only the right half is missing
    counts = ev.amodal_counts(pred, (-3, -3), whole, (-3, -3))
    assert counts == {"intersection": 50, "union": 100, "pred_pixels": 50, "gt_pixels": 100}


# --- hidden region --------------------------------------------------------------------------


def scene(offset=(-6, -4), shift=(0, 0)):
    """A 40x50 whole object at `offset` in a 48x64 image; its right part is occluded.

    `shift` (dx, dy) moves the object and pads the visible mask by the same amount at the
    top-left: a pure translation of the whole scene (padding is not visible, as before).
    """
    whole = textured_rgba(40, 50)
    amodal = ev.alpha_mask(ev.paste(whole, offset, (0, 0), (48, 64)))
    visible = amodal & ~rect((48, 64), 0, 25, 48, 64)
    dx, dy = shift
    visible = np.pad(visible, ((dy, 0), (dx, 0)))
    return whole, (offset[0] + dx, offset[1] + dy), visible


def test_identical_prediction_scores_capped_psnr_and_ssim_one():
    whole, offset, visible = scene()
    q = ev.hidden_region_quality(whole, offset, whole, offset, visible)
    # Hidden = past the top/left border (rows/cols with negative coords) + occluded columns.
    in_gt = ev.paste(visible, (0, 0), offset, whole.shape[:2])
    assert q["hidden_pixels"] == 40 * 50 - int(in_gt.sum())
    assert q["hidden_pixels"] > 0
    assert q["sse"] == 0
    assert q["psnr"] == ev.PSNR_CAP
    assert q["ssim"] == pytest.approx(1.0, abs=1e-9)
    json.dumps(q)  # no inf/nan-type surprises in the record


def test_constant_error_gives_textbook_psnr_equal_to_skimage():
    whole, offset, visible = scene()
    e = 7
    pred = whole.copy()
    pred[..., :3] += e  # texture stays within [20, 243], so no clipping
    q = ev.hidden_region_quality(pred, offset, whole, offset, visible)
    expected = 20 * math.log10(255 / e)
    assert q["psnr"] == pytest.approx(expected, abs=1e-6)
    assert q["sse"] == pytest.approx(q["hidden_pixels"] * 3 * e**2)

    hidden = ev.alpha_mask(whole) & ~ev.paste(visible, (0, 0), offset, whole.shape[:2])
    reference = peak_signal_noise_ratio(
        whole[..., :3][hidden], pred[..., :3][hidden], data_range=255
    )
    assert q["psnr"] == pytest.approx(reference, abs=1e-6)
    assert q["ssim"] < 1.0


def test_hidden_ssim_crop_equals_ssim_over_a_large_frame():
    # The padded crop must give the same per-pixel SSIM as scoring the whole scene at once.
    whole, offset, visible = scene()
    rng = np.random.default_rng(2)
    pred = whole.copy()
    pred[..., :3] = np.clip(whole[..., :3].astype(int) + rng.integers(-40, 40, (40, 50, 3)), 0, 255)
    pred_offset = (offset[0] - 3, offset[1] + 2)
    q = ev.hidden_region_quality(pred, pred_offset, whole, offset, visible)

    boxes = [((0, 0), visible.shape), (offset, (40, 50)), (pred_offset, (40, 50))]
    origin, shape = ev.union_frame(*boxes)
    origin, shape = (origin[0] - 20, origin[1] - 20), (shape[0] + 40, shape[1] + 40)
    gt_big = ev.composite(ev.paste(whole, offset, origin, shape))
    pred_big = ev.composite(ev.paste(pred, pred_offset, origin, shape))
    amodal = ev.alpha_mask(ev.paste(whole, offset, origin, shape))
    hidden = amodal & ~ev.paste(visible, (0, 0), origin, shape)
    _, full = structural_similarity(gt_big, pred_big, channel_axis=-1, data_range=255, full=True)
    assert int(hidden.sum()) == q["hidden_pixels"]
    assert q["ssim_sum"] == pytest.approx(float(full.mean(axis=-1)[hidden].sum()), rel=1e-9)
    assert q["sse"] == pytest.approx(float(((gt_big - pred_big)[hidden] ** 2).sum()))


def test_transparent_hidden_region_is_penalised():
    whole, offset, visible = scene()
    holey = whole.copy()
    hidden = ev.alpha_mask(whole) & ~ev.paste(visible, (0, 0), offset, whole.shape[:2])
    holey[hidden, 3] = 0  # the prediction gives up on the hidden part
    good = ev.hidden_region_quality(whole, offset, whole, offset, visible)
    bad = ev.hidden_region_quality(holey, offset, whole, offset, visible)
    assert bad["sse"] > 0
    assert bad["psnr"] < good["psnr"]
    assert bad["ssim"] < good["ssim"] - 0.1


def test_hidden_quality_is_translation_invariant():
    whole, offset, visible = scene()
    rng = np.random.default_rng(1)
    pred = np.clip(whole.astype(int) + rng.integers(-30, 30, whole.shape), 0, 255).astype(np.uint8)
    pred[..., 3] = 255
    pred_offset = (offset[0] + 2, offset[1] - 1)  # slightly misplaced too
    base = ev.hidden_region_quality(pred, pred_offset, whole, offset, visible)

    for shift in [(9, 5), (30, 0), (0, 17)]:
        w2, o2, v2 = scene(shift=shift)
        p2 = (pred_offset[0] + shift[0], pred_offset[1] + shift[1])
        moved = ev.hidden_region_quality(pred, p2, w2, o2, v2)
        assert moved["hidden_pixels"] == base["hidden_pixels"]
        assert moved["sse"] == pytest.approx(base["sse"])
        assert moved["psnr"] == pytest.approx(base["psnr"])
        assert moved["ssim_sum"] == pytest.approx(base["ssim_sum"])


def test_no_hidden_pixels_gives_no_psnr():
    whole = textured_rgba(10, 10)
    visible = np.ones((20, 20), bool)
    q = ev.hidden_region_quality(whole, (2, 2), whole, (2, 2), visible)
    assert q["hidden_pixels"] == 0 and q["psnr"] is None and q["ssim"] is None


def test_visible_consistency_rewards_keeping_the_input():
    whole, offset, visible = scene()
    image = ev.paste(whole, offset, (0, 0), visible.shape)[..., :3]
    same = ev.visible_consistency(image, visible, whole, offset)
    assert same["visible_pixels"] == int(visible.sum())
    assert same["ssim"] == pytest.approx(1.0, abs=1e-9)
    other = ev.visible_consistency(image, visible, textured_rgba(40, 50, seed=9), offset)
    assert other["ssim"] < 0.5


# --- order and matching ---------------------------------------------------------------------


def test_order_counts_on_constructed_case():
    candidates = ["a", "b", "c", "d", "e"]
    truth = ["a", "b"]  # a and b occlude the target
    predicted = ["a", "c", "d", "z"]  # z is not a candidate and must be ignored
    counts = ev.order_counts(predicted, truth, candidates + ["a"])  # duplicates count once
    assert counts == {"tp": 1, "fp": 2, "fn": 1, "tn": 1, "pairs": 5}
    assert ev.order_accuracy(counts) == pytest.approx(2 / 5)


def test_match_segments_recovers_a_shuffled_stack():
    shape = (30, 40)
    gt = [rect(shape, 0, 0, 10, 10), rect(shape, 12, 5, 25, 20), rect(shape, 3, 25, 28, 38)]
    order = [2, 0, 1]
    segments = np.stack([gt[i] for i in order])
    segments[1, 10, 0:10] = True  # a slightly wrong segment still matches its object
    noise = rect(shape, 26, 0, 30, 4)  # overlaps nothing
    segments = np.concatenate([segments, noise[None]])
    assert ev.match_segments(segments, gt) == [2, 0, 1, None]
    assert ev.match_segments(segments[:0], gt) == []
    assert ev.match_segments(segments, []) == [None] * 4


def test_match_segments_respects_min_iou():
    shape = (10, 10)
    gt = [rect(shape, 0, 0, 10, 10)]
    half = rect(shape, 0, 0, 10, 5)[None]  # IoU 0.5 exactly
    assert ev.match_segments(half, gt, min_iou=0.5) == [0]
    assert ev.match_segments(half, gt, min_iou=0.6) == [None]


# --- records and aggregation ----------------------------------------------------------------


def test_instance_record_with_and_without_ground_truth():
    whole, offset, visible = scene()
    image = ev.paste(whole, offset, (0, 0), visible.shape)[..., :3]
    amodal = ev.alpha_mask(ev.paste(whole, offset, (0, 0), visible.shape))
    gt = ev.GroundTruth(visible, amodal, whole, offset)
    order = ev.OrderInfo(["a"], ["a"], ["a", "b"])
    rec = ev.instance_record(image, visible, whole, offset, gt=gt, order=order)
    assert rec["status"] == "ok" and rec["has_ground_truth"]
    m = rec["metrics"]
    assert m["visible_iou"] == m["amodal_iou"] == m["amodal_iou_in_frame"] == 1.0
    assert m["hidden_psnr"] == ev.PSNR_CAP and m["order_accuracy"] == 1.0
    assert rec["clip_score"]["missing"] and rec["lpips"]["missing"]
    json.dumps(rec)

    bare = ev.instance_record(image, visible, whole, offset)
    assert bare["visible"] is None and bare["hidden"] is None and bare["order"] is None
    assert bare["metrics"]["amodal_iou"] is None
    # The paper's model metrics are reference-free: without weights they are missing, never None.
    assert bare["lpips"]["missing"] and bare["feature_similarity"]["missing"]
    assert ev.is_missing(bare["clip_score"])  # reference-free but weights absent
    assert bare["metrics"]["visible_ssim"] == pytest.approx(1.0, abs=1e-9)


def counts(i, u):
    return {"intersection": i, "union": u, "pred_pixels": i, "gt_pixels": u}


def record(amodal, hidden=None, clip=None):
    rec = ev._empty_record("ok", None)
    rec["amodal"] = amodal
    rec["hidden"] = hidden
    rec["clip_score"] = clip if clip is not None else ev.missing("no CLIP weights")
    return rec


def test_aggregate_pooled_iou_differs_from_mean_iou():
    # A small object scored perfectly and a large one scored badly.
    records = [record(counts(10, 10)), record(counts(10, 90)), ev.failed_record("no mask")]
    summary = ev.aggregate(records)
    amodal = summary["metrics"]["amodal_iou"]
    assert amodal["mean"] == pytest.approx((1.0 + 10 / 90) / 2)
    assert amodal["pooled"] == pytest.approx(20 / 100)
    assert amodal["mean"] != pytest.approx(amodal["pooled"])
    assert amodal["n"] == 2
    assert summary["n"] == 3 and summary["failures"] == 1
    assert summary["failure_rate"] == pytest.approx(1 / 3)
    # Missing weights stay missing with their reason, never become a number.
    assert summary["metrics"]["clip_score"] == {"value": None, "missing": "no CLIP weights"}
    # No ground truth anywhere: a GT metric has no value rather than a made-up one.
    assert summary["metrics"]["visible_iou"] == {"mean": None, "pooled": None, "n": 0}
    json.dumps(summary)


def test_aggregate_pools_psnr_and_ssim_from_raw_sums():
    # Constant errors of 2 and 4 grey levels over 100 and 300 hidden pixels.
    h1 = {"hidden_pixels": 100, "sse": 100 * 3 * 4.0, "psnr": 20 * math.log10(255 / 2),
          "ssim_sum": 90.0, "ssim": 0.9}
    h2 = {"hidden_pixels": 300, "sse": 300 * 3 * 16.0, "psnr": 20 * math.log10(255 / 4),
          "ssim_sum": 150.0, "ssim": 0.5}
    summary = ev.aggregate([record(None, h1), record(None, h2)])
    psnr = summary["metrics"]["hidden_psnr"]
    assert psnr["mean"] == pytest.approx((h1["psnr"] + h2["psnr"]) / 2)
    pooled_mse = (h1["sse"] + h2["sse"]) / (3 * 400)  # = 13
    assert psnr["pooled"] == pytest.approx(10 * math.log10(255**2 / pooled_mse))
    ssim = summary["metrics"]["hidden_ssim"]
    assert ssim["mean"] == pytest.approx(0.7)
    assert ssim["pooled"] == pytest.approx(240 / 400)


def test_aggregate_model_metric_with_values_is_averaged():
    records = [record(None, clip={"value": 30.0}), record(None, clip={"value": 20.0})]
    clip = ev.aggregate(records)["metrics"]["clip_score"]
    assert clip["mean"] == pytest.approx(25.0) and clip["n"] == 2


def test_every_metric_is_defined():
    summary = ev.aggregate([record(counts(1, 2))])
    names = set(summary["metrics"]) | {"failure_rate"}
    assert names == set(ev.METRIC_DEFINITIONS)
    for text in ev.METRIC_DEFINITIONS.values():
        assert text and "{" not in text  # every placeholder was filled in
