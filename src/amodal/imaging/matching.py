"""Matching predicted segments to ground-truth objects, by IoU (pycocotools).

Shared by the order stage (its `oracle` backend reads the true order through each segment's
object) and the evaluate stage (order accuracy is judged on the segments that stand for a
ground-truth object), so neither stage reaches into the other.
"""

from __future__ import annotations

import numpy as np
from pycocotools import mask as coco_mask


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


def segment_matches(segments: np.ndarray, records: list[dict], object_masks) -> list:
    """Each segment's ground-truth object: its own gt_index when it has one (oracle segments),
    else the best IoU match."""
    if all("gt_index" in r or r.get("kind") == "background" for r in records):
        return [r.get("gt_index") for r in records]
    return match_segments(segments, object_masks)
