"""Matching predicted segments to ground-truth objects, by IoU (pycocotools).

Shared by the order stage (its `oracle` backend reads the true order through each segment's
object) and the evaluate stage (order accuracy is judged on the segments that stand for a
ground-truth object), so neither stage reaches into the other.
"""

from __future__ import annotations

import numpy as np
from pycocotools import mask as coco_mask

from amodal.imaging.segments import Segments


def match_segments(segments, gt_masks, min_iou: float = 0.5) -> list[int | None]:
    """Index of each segment's best-overlapping GT object, or None when its IoU < min_iou.
    `segments`: Segments or a (K, H, W) stack."""
    segments = Segments.of(segments)
    gt_stack = np.asarray(gt_masks, dtype=bool)
    if len(segments) == 0:
        return []
    if len(gt_stack) == 0:
        return [None] * len(segments)
    ious = segment_ious(segments, gt_stack)
    best = ious.argmax(axis=1)
    return [int(j) if ious[i, j] >= min_iou else None for i, j in enumerate(best)]


def segment_ious(segments: Segments, gt_stack: np.ndarray) -> np.ndarray:
    """(segments, GT objects) IoU: pycocotools' over RLE for the stacked masks; for the label
    map's regions, pixel counts from one histogram per GT object (the same ratio of integers)."""
    ious = np.zeros((len(segments), len(gt_stack)))
    if len(segments.masks):
        stacked = coco_mask.iou(_rle(segments.masks), _rle(gt_stack), [0] * len(gt_stack))
        stacked = np.asarray(stacked, dtype=np.float64).reshape(len(segments.masks), len(gt_stack))
        at = segments.regions_at
        ious[:at] = stacked[:at]
        ious[at + segments.n_regions :] = stacked[at:]
    if segments.n_regions:
        rows = slice(segments.regions_at, segments.regions_at + segments.n_regions)
        areas = segments.region_counts()
        for j, gt in enumerate(gt_stack):
            inside = segments.region_counts(gt)
            union = areas + int(gt.sum()) - inside
            ious[rows, j] = np.divide(inside, union, out=np.zeros(len(union)), where=union > 0)
    return ious


def _rle(stack: np.ndarray) -> list:
    # pycocotools wants (H, W, N) uint8 in Fortran order.
    return coco_mask.encode(np.asfortranarray(np.transpose(stack, (1, 2, 0)).astype(np.uint8)))


def segment_matches(segments, records: list[dict], object_masks) -> list:
    """Each segment's ground-truth object: its own gt_index when it has one (oracle segments),
    else the best IoU match."""
    if all("gt_index" in r or r.get("kind") == "background" for r in records):
        return [r.get("gt_index") for r in records]
    return match_segments(segments, object_masks)
