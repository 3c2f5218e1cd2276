"""Scoring of amodal completions: per-instance raw quantities and their dataset aggregation.

Coordinates
-----------
Offsets and frame origins are (x, y) in image pixels: the position of an array's top-left
pixel. Shapes are numpy order (h, w). A prediction is an RGBA crop plus its offset; the
offset may be negative, and the crop may extend past the image, because the object does.

Per-instance record (what `instance_record` returns and `aggregate` consumes)
------------------------------------------------------------------------------
    {
      "status": "ok" | "failed",
      "reason": None | str,                    # why the instance failed
      "has_ground_truth": bool,
      "visible":          mask_counts | None,  # predicted vs GT visible mask, image frame
      "amodal":           mask_counts | None,  # amodal masks in a frame holding both whole boxes
      "amodal_in_frame":  mask_counts | None,  # amodal masks clipped to the image frame
      "hidden":           hidden_region_quality | None,
      "visible_consistency": visible_consistency | None,
      "order":            order_counts | None,
      "clip_score" | "lpips" | "feature_similarity": {"value": float} | missing(reason) | None,
      "metrics": {metric name: float | None | missing(reason)},   # ratios, for convenience
    }

A GT-dependent entry is None when the instance has no ground truth; an entry whose model
weights are absent is `missing(reason)`. The raw counts (intersections, unions, pixel counts,
sums of squared errors, sums of SSIM) let `aggregate` give both the mean over instances and
the pooled dataset value without rerunning anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
from pycocotools import mask as coco_mask

# Flat colour behind every composite (a mid grey-brown). Both sides of a comparison use it,
# so a prediction that leaves the object transparent shows up as an error, not as a hole.
BACKGROUND: tuple[int, int, int] = (124, 116, 104)

# skimage's SSIM uses a 7x7 window; padding every crop by this much keeps the scored pixels
# away from the crop border, where the filter would see reflected pixels instead of context.
SSIM_PAD = 7

# PSNR is infinite for a perfect match, and infinity is not valid JSON: report this instead.
PSNR_CAP = 100.0

ALPHA_THRESHOLD = 127

MODEL_METRICS = ("clip_score", "lpips", "feature_similarity")
# The paper's model-based metrics are all reference-free, so none of them waits for ground truth.
GT_MODEL_METRICS: tuple[str, ...] = ()
NO_WEIGHTS = "model weights not available in this environment"

Offset = tuple[int, int]
Shape = tuple[int, int]

METRIC_DEFINITIONS: dict[str, str] = {
    "visible_iou": (
        "IoU of the grounding stage's visible mask with the GT visible mask, in the image frame; "
        "pooled = sum of intersections / sum of unions."
    ),
    "amodal_iou": (
        "IoU of the predicted amodal mask (alpha > 127, placed at its offset) with the GT amodal "
        "mask (whole-object alpha > 127), in a frame containing both, so parts past the image "
        "border count; pooled = sum of intersections / sum of unions."
    ),
    "amodal_iou_in_frame": (
        "Same as amodal_iou but both masks clipped to the image frame."
    ),
    "hidden_psnr": (
        "PSNR (skimage, data_range 255) over the hidden pixels (GT amodal minus GT visible, also "
        f"past the border), prediction and GT whole object composited on RGB {BACKGROUND}; capped "
        f"at {PSNR_CAP:g} dB; pooled from the total squared error over all hidden pixels."
    ),
    "hidden_ssim": (
        "Mean of skimage's SSIM map (7x7 window, data_range 255, averaged over RGB) over the "
        "hidden pixels, computed on the hidden region's bounding box padded by "
        f"{SSIM_PAD} px, both images composited on RGB {BACKGROUND}; "
        "pooled = sum of SSIM over all hidden pixels / their count."
    ),
    "visible_ssim": (
        "Reference-free: mean SSIM map over the predicted visible pixels between the input photo "
        f"and the output, each restricted to those pixels on RGB {BACKGROUND}, on the visible "
        f"mask's bounding box padded by {SSIM_PAD} px; pooled = sum of SSIM / sum of pixels."
    ),
    "order_accuracy": (
        "Fraction of candidate neighbour objects whose 'occludes the target' decision matches the "
        "GT; pooled = correct decisions / decisions over the dataset."
    ),
    "clip_score": (
        "Reference-free (paper): CLIP similarity between the predicted whole object composited on "
        f"RGB {BACKGROUND} and the text 'a photo of a <query>'; reported missing while the CLIP "
        "weights are absent."
    ),
    "lpips": (
        "Reference-free (paper): LPIPS distance between the visible part of the input and the same "
        f"pixels of the output, both composited on RGB {BACKGROUND}; lower is better; reported "
        "missing while the LPIPS weights are absent."
    ),
    "feature_similarity": (
        "Reference-free (paper): cosine similarity of image-encoder features of the visible part of "
        "the input and the same pixels of the output; reported missing while the encoder weights "
        "are absent."
    ),
    "failure_rate": (
        "Failed instances / all instances; every other metric is averaged over the instances that "
        "did not fail."
    ),
}


# --- frames and compositing -------------------------------------------------------------


def paste(
    rgba: np.ndarray, offset: Offset, frame_origin: Offset, frame_shape: Shape
) -> np.ndarray:
    """`rgba` placed at `offset` on a transparent canvas whose top-left is `frame_origin`.

    Parts of `rgba` outside the canvas are cut off; works for any number of channels.
    """
    rgba = np.asarray(rgba)
    canvas = np.zeros(tuple(frame_shape) + rgba.shape[2:], dtype=rgba.dtype)
    # Position of the array inside the canvas, then clip both ranges to the canvas.
    x = int(offset[0]) - int(frame_origin[0])
    y = int(offset[1]) - int(frame_origin[1])
    h, w = rgba.shape[:2]
    y0, y1 = max(y, 0), min(y + h, frame_shape[0])
    x0, x1 = max(x, 0), min(x + w, frame_shape[1])
    if y0 < y1 and x0 < x1:
        canvas[y0:y1, x0:x1] = rgba[y0 - y : y1 - y, x0 - x : x1 - x]
    return canvas


def union_frame(*placed: tuple[Offset, Shape]) -> tuple[Offset, Shape]:
    """Smallest frame (origin (x, y), shape (h, w)) containing every (offset, (h, w)) box.

    Pass the image frame as ((0, 0), (H, W)) to include it.
    """
    if not placed:
        raise ValueError("union_frame needs at least one box")
    x0 = min(int(offset[0]) for offset, _ in placed)
    y0 = min(int(offset[1]) for offset, _ in placed)
    x1 = max(int(offset[0]) + int(shape[1]) for offset, shape in placed)
    y1 = max(int(offset[1]) + int(shape[0]) for offset, shape in placed)
    return (x0, y0), (y1 - y0, x1 - x0)


def alpha_mask(rgba: np.ndarray) -> np.ndarray:
    return np.asarray(rgba)[..., 3] > ALPHA_THRESHOLD


def composite(rgba: np.ndarray, background: Sequence[int] = BACKGROUND) -> np.ndarray:
    """RGBA over a flat colour, as float64 RGB in [0, 255] (no rounding, so errors stay exact)."""
    rgba = np.asarray(rgba, dtype=np.float64)
    alpha = rgba[..., 3:4] / 255.0
    return rgba[..., :3] * alpha + np.asarray(background, dtype=np.float64) * (1.0 - alpha)


def _placed_box(array: np.ndarray, offset: Offset) -> tuple[Offset, Shape]:
    return (int(offset[0]), int(offset[1])), tuple(np.asarray(array).shape[:2])


def _padded_box_frame(mask: np.ndarray, origin: Offset, pad: int) -> tuple[Offset, Shape] | None:
    """Frame around the mask's bounding box, padded by `pad`; None for an empty mask."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return None
    x0 = int(xs.min()) + int(origin[0]) - pad
    y0 = int(ys.min()) + int(origin[1]) - pad
    h = int(ys.max() - ys.min()) + 1 + 2 * pad
    w = int(xs.max() - xs.min()) + 1 + 2 * pad
    return (x0, y0), (h, w)


def _ssim_map(reference: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM of two float RGB images, averaged over the channels."""
    from skimage.metrics import structural_similarity  # imports scipy.stats: 0.5 s, only where scored

    _, full = structural_similarity(reference, test, channel_axis=-1, data_range=255, full=True)
    return full.mean(axis=-1)


# --- masks --------------------------------------------------------------------------------


def mask_counts(pred: np.ndarray, gt: np.ndarray) -> dict:
    pred = np.asarray(pred, dtype=bool)
    gt = np.asarray(gt, dtype=bool)
    if pred.shape != gt.shape:
        raise ValueError(f"mask shapes differ: {pred.shape} vs {gt.shape}")
    return {
        "intersection": int(np.count_nonzero(pred & gt)),
        "union": int(np.count_nonzero(pred | gt)),
        "pred_pixels": int(np.count_nonzero(pred)),
        "gt_pixels": int(np.count_nonzero(gt)),
    }


def iou(counts: dict | None) -> float | None:
    """Intersection over union; None when both masks are empty (nothing to score)."""
    if counts is None or counts["union"] == 0:
        return None
    return counts["intersection"] / counts["union"]


def amodal_counts(pred_rgba, pred_offset: Offset, gt_rgba, gt_offset: Offset) -> dict:
    """Amodal mask counts in a frame holding both objects, so parts past the image border count."""
    origin, shape = union_frame(
        _placed_box(pred_rgba, pred_offset), _placed_box(gt_rgba, gt_offset)
    )
    pred = alpha_mask(paste(pred_rgba, pred_offset, origin, shape))
    gt = alpha_mask(paste(gt_rgba, gt_offset, origin, shape))
    return mask_counts(pred, gt)


def match_segments(segments: np.ndarray, gt_masks, min_iou: float = 0.5) -> list[int | None]:
    """Index of each segment's best-overlapping GT object, or None when its IoU < min_iou."""
    segments = np.asarray(segments, dtype=bool)
    gt_stack = np.asarray(gt_masks, dtype=bool)
    if len(segments) == 0:
        return []
    if len(gt_stack) == 0:
        return [None] * len(segments)
    ious = coco_mask.iou(_rle(segments), _rle(gt_stack), [0] * len(gt_stack))
    ious = np.asarray(ious, dtype=np.float64).reshape(len(segments), len(gt_stack))
    best = ious.argmax(axis=1)
    return [int(j) if ious[i, j] >= min_iou else None for i, j in enumerate(best)]


def _rle(stack: np.ndarray) -> list:
    # pycocotools wants (H, W, N) uint8 in Fortran order.
    return coco_mask.encode(np.asfortranarray(np.transpose(stack, (1, 2, 0)).astype(np.uint8)))


# --- appearance ---------------------------------------------------------------------------


def hidden_region_quality(
    pred_rgba: np.ndarray,
    pred_offset: Offset,
    gt_rgba: np.ndarray,
    gt_offset: Offset,
    visible_mask: np.ndarray,
    background: Sequence[int] = BACKGROUND,
) -> dict:
    """Appearance error over the hidden part of the object (GT amodal minus GT visible)."""
    gt_rgba = np.asarray(gt_rgba)
    # The hidden region is found in the GT whole object's own frame, so parts of the object
    # past the image border (where nothing is visible) count as hidden.
    visible = np.asarray(visible_mask, dtype=bool)
    visible_in_gt = paste(visible, (0, 0), gt_offset, gt_rgba.shape[:2])
    hidden = alpha_mask(gt_rgba) & ~visible_in_gt
    hidden_pixels = int(np.count_nonzero(hidden))
    frame = _padded_box_frame(hidden, gt_offset, SSIM_PAD)
    if frame is None:
        return {"hidden_pixels": 0, "sse": 0.0, "psnr": None, "ssim_sum": 0.0, "ssim": None}

    # Scoring only a padded box around the hidden region keeps the cost independent of
    # where the frame lies; everything outside both objects is background on both sides.
    origin, shape = frame
    region = paste(hidden, gt_offset, origin, shape)
    pred = composite(paste(pred_rgba, pred_offset, origin, shape), background)
    gt = composite(paste(gt_rgba, gt_offset, origin, shape), background)

    sse = float(np.sum((pred[region] - gt[region]) ** 2))
    ssim_sum = float(_ssim_map(gt, pred)[region].sum())
    return {
        "hidden_pixels": hidden_pixels,
        "sse": sse,
        "psnr": _psnr(gt[region], pred[region], sse),
        "ssim_sum": ssim_sum,
        "ssim": ssim_sum / hidden_pixels,
    }


def _psnr(reference: np.ndarray, test: np.ndarray, sse: float) -> float:
    if sse == 0:
        return PSNR_CAP  # a perfect match: skimage would return inf, which JSON cannot hold
    from skimage.metrics import peak_signal_noise_ratio

    value = peak_signal_noise_ratio(reference, test, data_range=255)
    return min(float(value), PSNR_CAP)


def psnr_from_sse(sse: float, values: int) -> float | None:
    """PSNR (data range 255) from a total squared error over `values` channel values, capped."""
    if values == 0:
        return None
    if sse == 0:
        return PSNR_CAP
    return min(10.0 * math.log10(255.0**2 / (sse / values)), PSNR_CAP)


def visible_consistency(
    image: np.ndarray,
    visible_mask: np.ndarray,
    pred_rgba: np.ndarray,
    pred_offset: Offset,
    background: Sequence[int] = BACKGROUND,
) -> dict:
    """Reference-free: does the output keep the visible part of the input unchanged?"""
    visible = np.asarray(visible_mask, dtype=bool)
    visible_pixels = int(np.count_nonzero(visible))
    frame = _padded_box_frame(visible, (0, 0), SSIM_PAD)
    if frame is None:
        return {"visible_pixels": 0, "ssim_sum": 0.0, "ssim": None}

    origin, shape = frame
    region = paste(visible, (0, 0), origin, shape)
    opaque = np.full(visible.shape, 255, np.uint8)
    image_rgba = np.dstack([np.asarray(image, dtype=np.uint8), opaque])
    source = composite(paste(image_rgba, (0, 0), origin, shape), background)
    output = composite(paste(pred_rgba, pred_offset, origin, shape), background)
    # Both sides keep only the visible pixels: the output's completed hidden part next to the
    # visible region must not count against it, and the input has no such part to compare.
    flat = np.asarray(background, dtype=np.float64)
    source[~region] = flat
    output[~region] = flat
    ssim_sum = float(_ssim_map(source, output)[region].sum())
    return {
        "visible_pixels": visible_pixels,
        "ssim_sum": ssim_sum,
        "ssim": ssim_sum / visible_pixels,
    }


# --- occlusion order ----------------------------------------------------------------------


def order_counts(
    pred_occluder_ids: Iterable, true_occluder_ids: Iterable, candidate_ids: Iterable
) -> dict:
    """Confusion counts of 'candidate occludes the target' over the candidate neighbours."""
    predicted = set(pred_occluder_ids)
    truth = set(true_occluder_ids)
    counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    for candidate in dict.fromkeys(candidate_ids):  # deduplicated, order kept
        said, actual = candidate in predicted, candidate in truth
        key = ("t" if said == actual else "f") + ("p" if said else "n")
        counts[key] += 1
    counts["pairs"] = sum(counts.values())
    return counts


def order_accuracy(counts: dict | None) -> float | None:
    if counts is None or counts["pairs"] == 0:
        return None
    return (counts["tp"] + counts["tn"]) / counts["pairs"]


# --- records --------------------------------------------------------------------------------


def missing(reason: str) -> dict:
    """A metric that could not be computed (e.g. its model weights are absent) and why."""
    return {"value": None, "missing": reason}


def is_missing(entry) -> bool:
    return isinstance(entry, dict) and entry.get("missing") is not None


@dataclass
class GroundTruth:
    """Ground truth of one synthetic instance; masks are (H, W) bool in the image frame."""

    visible_mask: np.ndarray
    amodal_mask: np.ndarray  # in-frame amodal mask
    whole_rgba: np.ndarray  # the whole object, possibly extending past the frame
    whole_offset: Offset


@dataclass
class OrderInfo:
    """Which candidate neighbours the pipeline says occlude the target, and which truly do."""

    predicted_occluders: Sequence
    true_occluders: Sequence
    candidates: Sequence


def instance_record(
    image: np.ndarray,
    pred_visible: np.ndarray,
    pred_rgba: np.ndarray,
    pred_offset: Offset,
    gt: GroundTruth | None = None,
    order: OrderInfo | None = None,
    model_metrics: dict | None = None,
    background: Sequence[int] = BACKGROUND,
) -> dict:
    """Every metric of one successful instance, from arrays (see the module docstring).

    `model_metrics` maps clip_score / lpips / feature_similarity to {"value": x} or
    missing(reason); those not given are missing for lack of weights.
    """
    pred_visible = np.asarray(pred_visible, dtype=bool)
    record = _empty_record("ok", None)
    record["has_ground_truth"] = gt is not None
    record["visible_consistency"] = visible_consistency(
        image, pred_visible, pred_rgba, pred_offset, background
    )
    if gt is not None:
        record["visible"] = mask_counts(pred_visible, gt.visible_mask)
        record["amodal"] = amodal_counts(pred_rgba, pred_offset, gt.whole_rgba, gt.whole_offset)
        in_frame = alpha_mask(paste(pred_rgba, pred_offset, (0, 0), pred_visible.shape))
        record["amodal_in_frame"] = mask_counts(in_frame, gt.amodal_mask)
        record["hidden"] = hidden_region_quality(
            pred_rgba, pred_offset, gt.whole_rgba, gt.whole_offset, gt.visible_mask, background
        )
    if order is not None:
        record["order"] = order_counts(
            order.predicted_occluders, order.true_occluders, order.candidates
        )
    given = model_metrics or {}
    for name in MODEL_METRICS:
        if name in GT_MODEL_METRICS and gt is None:
            continue  # nothing to compare with: None, not a missing-weights entry
        record[name] = given.get(name, missing(NO_WEIGHTS))
    record["metrics"] = _record_ratios(record)
    return record


def failed_record(reason: str) -> dict:
    """Record of an instance whose pipeline failed; it counts only towards the failure rate."""
    return _empty_record("failed", reason)


def _empty_record(status: str, reason: str | None) -> dict:
    record = {
        "status": status,
        "reason": reason,
        "has_ground_truth": False,
        "visible": None,
        "amodal": None,
        "amodal_in_frame": None,
        "hidden": None,
        "visible_consistency": None,
        "order": None,
        "metrics": None,
    }
    record.update({name: None for name in MODEL_METRICS})
    return record


def _record_ratios(record: dict) -> dict:
    hidden = record["hidden"] or {}
    consistency = record["visible_consistency"] or {}
    ratios = {
        "visible_iou": iou(record["visible"]),
        "amodal_iou": iou(record["amodal"]),
        "amodal_iou_in_frame": iou(record["amodal_in_frame"]),
        "hidden_psnr": hidden.get("psnr"),
        "hidden_ssim": hidden.get("ssim"),
        "visible_ssim": consistency.get("ssim"),
        "order_accuracy": order_accuracy(record["order"]),
    }
    for name in MODEL_METRICS:
        entry = record[name]
        ratios[name] = entry if is_missing(entry) else _model_value(entry)
    return ratios


def _model_value(entry) -> float | None:
    if isinstance(entry, dict):
        entry = entry.get("value")
    return None if entry is None else float(entry)


# --- aggregation ----------------------------------------------------------------------------


def aggregate(records: list[dict]) -> dict:
    """Dataset summary: per metric the mean over instances and the pooled value.

    Returns {"n", "failures", "failure_rate", "metrics": {name: {"mean", "pooled", "n"} or
    missing(reason)}}; "n" inside a metric counts the instances that gave it a value. Failed
    instances enter only the failure rate.
    """
    ok = [r for r in records if r.get("status") == "ok"]
    failures = len(records) - len(ok)
    metrics = {
        "visible_iou": _pooled_iou(ok, "visible"),
        "amodal_iou": _pooled_iou(ok, "amodal"),
        "amodal_iou_in_frame": _pooled_iou(ok, "amodal_in_frame"),
        "hidden_psnr": _pooled_psnr(ok),
        "hidden_ssim": _pooled_ssim(ok, "hidden", "hidden_pixels"),
        "visible_ssim": _pooled_ssim(ok, "visible_consistency", "visible_pixels"),
        "order_accuracy": _pooled_order(ok),
    }
    for name in MODEL_METRICS:
        metrics[name] = _model_summary(ok, name)
    return {
        "n": len(records),
        "failures": failures,
        "failure_rate": failures / len(records) if records else None,
        "metrics": metrics,
    }


def _summary(per_instance: list, pooled: float | None) -> dict:
    values = [v for v in per_instance if v is not None]
    mean = float(np.mean(values)) if values else None
    return {"mean": mean, "pooled": pooled, "n": len(values)}


def _entries(records: list[dict], key: str) -> list[dict]:
    return [r[key] for r in records if r.get(key) is not None]


def _pooled_iou(records: list[dict], key: str) -> dict:
    counts = _entries(records, key)
    union = sum(c["union"] for c in counts)
    pooled = sum(c["intersection"] for c in counts) / union if union else None
    return _summary([iou(c) for c in counts], pooled)


def _pooled_psnr(records: list[dict]) -> dict:
    hidden = _entries(records, "hidden")
    sse = sum(h["sse"] for h in hidden)
    values = 3 * sum(h["hidden_pixels"] for h in hidden)  # three channels per pixel
    return _summary([h["psnr"] for h in hidden], psnr_from_sse(sse, values))


def _pooled_ssim(records: list[dict], key: str, pixels_key: str) -> dict:
    entries = _entries(records, key)
    pixels = sum(e[pixels_key] for e in entries)
    pooled = sum(e["ssim_sum"] for e in entries) / pixels if pixels else None
    return _summary([e["ssim"] for e in entries], pooled)


def _pooled_order(records: list[dict]) -> dict:
    counts = _entries(records, "order")
    pairs = sum(c["pairs"] for c in counts)
    pooled = sum(c["tp"] + c["tn"] for c in counts) / pairs if pairs else None
    return _summary([order_accuracy(c) for c in counts], pooled)


def _model_summary(records: list[dict], name: str) -> dict:
    entries = _entries(records, name)
    reasons = sorted({e["missing"] for e in entries if is_missing(e)})
    if reasons:
        # One instance without weights means the column cannot be trusted as a dataset value.
        return missing("; ".join(reasons))
    # No pixel-level pooling exists for embedding scores: pooled is left empty.
    return _summary([_model_value(e) for e in entries], None)


# --- files --------------------------------------------------------------------------------


def run_evaluate(spec: dict, *, image, visible, segments_npz, segments_json, order, rgba,
                 placement, gt, instance: str) -> dict:
    """Load one instance's files and score it (the workflow's evaluate stage)."""
    from . import io
    from .order import segment_matches
    from .truth import load_truth

    placed = io.read_json(placement)
    if placed["status"] != "ok":
        return failed_record(placed["reason"])
    image_rgb = io.read_rgb(image)
    truth = load_truth(gt, instance) if gt else None
    ground_truth = order_info = None
    if truth is not None:
        ground_truth = GroundTruth(truth.visible, truth.amodal_in_frame, truth.whole, truth.whole_offset)
        masks = io.read_mask_stack(segments_npz)
        records = io.read_json(segments_json)["segments"]
        matches = segment_matches(masks, records, truth.object_masks)
        order_record = io.read_json(order)
        # Candidates are the segments that stand for a ground-truth object other than the target
        # (a segment the backend did not consider counts as 'not occluding').
        candidates = [i for i, match in enumerate(matches) if match not in (None, 0)]
        true_occluders = [i for i in candidates if matches[i] in truth.occluders_of(0)]
        order_info = OrderInfo(order_record["occluders"], true_occluders, candidates)
    record = instance_record(
        image_rgb,
        io.read_mask(visible),
        io.read_rgba(rgba),
        tuple(placed["offset_xy"]),
        gt=ground_truth,
        order=order_info,
        background=tuple(spec["background"]),
    )
    record["completion_status"] = placed.get("completion_status")
    return record
