"""Mask metrics: visible and amodal IoU, kept as pixel counts.

A record keeps intersection, union and both areas, so a dataset's IoU can be the mean over
instances or pooled over all pixels (sum of intersections / sum of unions).
"""

from __future__ import annotations

import numpy as np

from amodal.imaging.frames import Offset, Region, alpha_mask, paste


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
    frame = Region.at(pred_offset, np.shape(pred_rgba)).union(Region.at(gt_offset, np.shape(gt_rgba)))
    pred = alpha_mask(paste(pred_rgba, pred_offset, frame))
    gt = alpha_mask(paste(gt_rgba, gt_offset, frame))
    return mask_counts(pred, gt)


def amodal_in_frame_counts(pred_rgba, pred_offset: Offset, gt_amodal: np.ndarray) -> dict:
    """Amodal mask counts with the prediction clipped to the image frame of `gt_amodal`."""
    pred = alpha_mask(paste(pred_rgba, pred_offset, np.asarray(gt_amodal).shape))
    return mask_counts(pred, gt_amodal)
