"""Stage `evaluate`: every metric of one instance, as a record of raw quantities.

The metric families live in `amodal.metrics` (masks, appearance, order, model_based) and their
definitions in `amodal.metrics.definitions`; this module reads one instance's files, calls
them, and asks the job's `ModelCache` (`amodal.models.cache`) for the networks the model metrics need.
Dataset aggregation is `amodal.tables.aggregate`.

Per-instance record (`metrics.json`)
------------------------------------
    {
      "status": "ok" | "failed",
      "reason": None | str,                    # why the instance failed
      "failure": None | kind,                  # what failed (definitions.FAILURE_KINDS)
      "has_ground_truth": bool,
      "visible":          mask_counts | None,  # predicted vs GT visible mask, image frame
      "amodal":           mask_counts | None,  # amodal masks in a frame holding both whole boxes
      "amodal_in_frame":  mask_counts | None,  # amodal masks clipped to the image frame
      "hidden":           hidden_region_quality | None,
      "visible_consistency": visible_consistency | None,
      "order":            order_counts | None,
      "clip_score" | "lpips" | "feature_similarity" | "hidden_lpips":
                          {"value": float, ...raw} | missing(reason) | None,
      "models":           {metric: what its network reported: weights, checkpoint, size},
      "metrics":          {metric name: float | None | missing(reason)},   # ratios, for convenience
    }

A GT-dependent entry is None when the instance has no ground truth; a model metric whose
weights are absent (or that the experiment turns off) is `missing(reason)`. The raw counts
(intersections, unions, pixel counts, sums of squared errors and of SSIM, cosines) let the
aggregation give both the mean over instances and the pooled dataset value without rerunning.
"""

from __future__ import annotations

import logging

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from amodal.imaging.frames import Offset
from amodal.metrics import is_missing, missing
from amodal.metrics.appearance import hidden_pair, hidden_region_quality, visible_consistency, visible_pair
from amodal.metrics.definitions import BACKGROUND, GT_MODEL_METRICS, MODEL_METRICS
from amodal.metrics.masks import amodal_counts, amodal_in_frame_counts, iou, mask_counts
from amodal.metrics.order import order_accuracy, order_counts
from amodal.models.cache import ModelCache

NOT_COMPUTED = "not computed (no network was given for it)"


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

    `model_metrics` maps the model metrics' names to their entries (`model_metric_entries`);
    one not given is missing (not computed); a GT one is None without ground truth.
    """
    pred_visible = np.asarray(pred_visible, dtype=bool)
    record = _empty_record("ok", None, None)
    record["has_ground_truth"] = gt is not None
    record["visible_consistency"] = visible_consistency(image, pred_visible, pred_rgba, pred_offset, background)
    if gt is not None:
        record["visible"] = mask_counts(pred_visible, gt.visible_mask)
        record["amodal"] = amodal_counts(pred_rgba, pred_offset, gt.whole_rgba, gt.whole_offset)
        record["amodal_in_frame"] = amodal_in_frame_counts(pred_rgba, pred_offset, gt.amodal_mask)
        record["hidden"] = hidden_region_quality(
            pred_rgba, pred_offset, gt.whole_rgba, gt.whole_offset, gt.visible_mask, background
        )
    if order is not None:
        record["order"] = order_counts(order.predicted_occluders, order.true_occluders, order.candidates)
    given = model_metrics or {}
    for name in MODEL_METRICS:
        if name in GT_MODEL_METRICS and gt is None:
            continue  # nothing to compare with: None, not a missing entry
        record[name] = given.get(name, missing(NOT_COMPUTED))
    record["metrics"] = record_ratios(record)
    return record


def failed_record(reason: str, failure: str = "stage_failure") -> dict:
    """Record of an instance whose pipeline failed; it counts only towards the failure rate.
    `failure` is its kind (`amodal.metrics.definitions.FAILURE_KINDS`); a failed upstream
    record's own kind replaces it (`amodal.run.isolation.run_stage`)."""
    return _empty_record("failed", reason, failure)


def _empty_record(status: str, reason: str | None, failure: str | None) -> dict:
    record = {
        "status": status,
        "reason": reason,
        "failure": failure,
        "has_ground_truth": False,
        "visible": None,
        "amodal": None,
        "amodal_in_frame": None,
        "hidden": None,
        "visible_consistency": None,
        "order": None,
        "models": {},
        "metrics": None,
    }
    record.update({name: None for name in MODEL_METRICS})
    return record


def record_ratios(record: dict) -> dict:
    """Each metric's value for this instance (None: not applicable; missing entries as they are)."""
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
        ratios[name] = entry if is_missing(entry) else model_value(entry)
    return ratios


def model_value(entry) -> float | None:
    if isinstance(entry, dict):
        entry = entry.get("value")
    return None if entry is None else float(entry)


# --- model metrics ----------------------------------------------------------------------------


def model_metric_entries(
    spec: dict, models: ModelCache | None, image, visible, rgba, offset: Offset, query: str, gt: GroundTruth | None
) -> tuple[dict, dict]:
    """(entry of every model metric, what each network reported about itself) for one instance,
    with the networks the evaluate spec names, from the job's `models` cache. A metric whose
    checkpoint is absent or that the spec turns off is missing with the reason."""
    from amodal.datasets.queries import object_name
    from amodal.metrics import model_based
    from amodal.models import cache as loaded

    models = models or ModelCache()
    background = tuple(spec["background"])
    entries, facts = {}, {}
    pair = visible_pair(image, visible, rgba, offset, background, pad=0)
    clip, lpips, features = spec["clip_score"], spec["lpips"], spec["feature_similarity"]

    def clip_network(settings):
        scorer = models.clip_scorer(settings["model"])
        return scorer, {
            "weights": settings["model"],
            "checkpoint": models.checkpoint(settings["model"]).name,
            "input_size": scorer.input_size,
        }

    def feature_network(settings):
        name = settings["model"]
        encoder = models.feature_encoder(name)
        backbone = (
            f"clip {loaded.CLIP_MODELS[name]} image encoder"
            if loaded.FEATURE_MODELS[name] == "clip"
            else encoder.backbone
        )
        return encoder, {
            "weights": name,
            "checkpoint": loaded.checkpoint_label(models.checkpoint(name)),
            "backbone": backbone,
            "input_size": encoder.input_size,
        }

    def lpips_network(settings):
        return models.lpips(settings["model"]), {
            "weights": settings["model"],
            "checkpoint": models.checkpoint(settings["model"]).name,
            "backbone": loaded.LPIPS_MODELS[settings["model"]],
            "size": settings["size"],
        }

    text = clip["template"].format(object_name(query))
    entries["clip_score"] = _model_entry(
        "clip_score", clip, clip_network, facts, lambda scorer: model_based.clip_score(scorer, rgba, text, background)
    )
    entries["feature_similarity"] = _model_entry(
        "feature_similarity",
        features,
        feature_network,
        facts,
        lambda encoder: None if pair is None else model_based.feature_similarity(encoder, pair, background),
    )
    entries["lpips"] = _model_entry(
        "lpips",
        lpips,
        lpips_network,
        facts,
        lambda net: None if pair is None else model_based.lpips(net, pair, background, lpips["size"]),
    )
    if gt is not None:
        hidden = hidden_pair(
            rgba, offset, gt.whole_rgba, gt.whole_offset, gt.visible_mask, background, pad=0, outside_flat=True
        )
        entries["hidden_lpips"] = _model_entry(
            "hidden_lpips",
            lpips,
            lpips_network,
            facts,
            lambda net: None if hidden is None else model_based.lpips(net, hidden, background, lpips["size"]),
        )
    return entries, facts


def _model_entry(metric: str, settings: dict, network, facts: dict, compute):
    from amodal.models import MissingCheckpoint

    if not settings["enabled"]:
        switch = "lpips" if metric == "hidden_lpips" else metric
        return missing(f"turned off (evaluate {switch}.enabled: false)")
    try:
        loaded_network, facts[metric] = network(settings)
    except MissingCheckpoint as error:
        logging.getLogger("amodal").warning("%s: %s", metric, error)  # the path looked at, in the job's log
        return missing(error.portable)
    return compute(loaded_network)


# --- files ------------------------------------------------------------------------------------


def run_evaluate(
    spec: dict,
    *,
    image,
    visible,
    segments_npz,
    segments_json,
    order,
    rgba,
    placement,
    gt,
    instance: str,
    query: str = "",
    models: ModelCache | None = None,
) -> dict:
    """Load one instance's files and score it (the workflow's evaluate stage). `segments_*` and
    `order` are None for an experiment that plans no order stage (its order metric is None)."""
    from amodal.imaging import io
    from amodal.imaging.matching import segment_matches
    from amodal.datasets.truth import load_truth

    placed = io.read_json(placement)
    if placed["status"] != "ok":
        return failed_record(placed["reason"], placed.get("failure") or "no_output")
    image_rgb = io.read_rgb(image)
    visible_mask = io.read_mask(visible)
    pred_rgba, offset = io.read_rgba(rgba), tuple(placed["offset_xy"])
    truth = load_truth(gt, instance) if gt else None
    ground_truth = order_info = None
    if truth is not None:
        ground_truth = GroundTruth(truth.visible, truth.amodal_in_frame, truth.whole, truth.whole_offset)
    if truth is not None and segments_npz and order:  # experiments without an order stage: no order metric
        masks = io.read_segments(segments_npz)
        records = io.read_json(segments_json)["segments"]
        matches = segment_matches(masks, records, truth.object_masks)
        order_record = io.read_json(order)
        # Candidates are the segments that stand for a ground-truth object other than the target
        # (a segment the backend did not consider counts as 'not occluding').
        candidates = [i for i, match in enumerate(matches) if match not in (None, 0)]
        true_occluders = [i for i in candidates if matches[i] in truth.occluders_of(0)]
        order_info = OrderInfo(order_record["occluders"], true_occluders, candidates)
    entries, facts = model_metric_entries(
        spec, models, image_rgb, visible_mask, pred_rgba, offset, query or (truth.query if truth else ""), ground_truth
    )
    record = instance_record(
        image_rgb,
        visible_mask,
        pred_rgba,
        offset,
        gt=ground_truth,
        order=order_info,
        model_metrics=entries,
        background=tuple(spec["background"]),
    )
    record["models"] = facts
    record["completion_status"] = placed.get("completion_status")
    return record
