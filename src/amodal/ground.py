"""Stage `ground`: where is the queried object visible?"""

from __future__ import annotations

import numpy as np

from .geometry import bbox


def check_query(mask: np.ndarray, score: float, min_score: float, min_area_fraction: float) -> tuple[str, str]:
    """The seed's validity test: a query is completed only if score >= min_score and the
    visible mask covers at least min_area_fraction of the image. Returns (status, reason)."""
    if score < min_score:
        return "invalid_query", f"grounding score {score:.3f} is below {min_score}"
    fraction = float(mask.mean()) if mask.size else 0.0
    if fraction < min_area_fraction:
        return "invalid_query", f"visible mask covers {fraction:.4f} of the image, below {min_area_fraction}"
    return "ok", ""


def ground_record(mask: np.ndarray, score: float, backend: str, spec: dict) -> dict:
    status, reason = check_query(mask, score, spec["min_score"], spec["min_area_fraction"])
    box = bbox(mask)
    return {
        "backend": backend,
        "score": float(score),
        "box_xyxy": None if box is None else [box[1], box[0], box[3], box[2]],
        "area": int(mask.sum()),
        "status": status,
        "reason": reason,
    }


def ground_oracle(truth, spec: dict) -> tuple[np.ndarray, dict]:
    """The ground-truth visible mask, with score 1."""
    mask = truth.visible.copy()
    return mask, ground_record(mask, 1.0, "oracle", spec)


def ground_grounded_sam(image: np.ndarray, query: str, spec: dict, models: dict | None) -> tuple[np.ndarray, dict]:
    """The best-scoring GroundingDINO box for the query, segmented by SAM, then the seed's validity test.
    No box at all gives an empty mask with score 0 (an invalid query, not a failure)."""
    from .models import loaded

    params = spec["grounded_sam"]
    if not query.strip():
        mask = np.zeros(image.shape[:2], dtype=bool)
        record = dict(ground_record(mask, 0.0, "grounded_sam", spec), phrase="", detections=0)
        return mask, dict(record, status="invalid_query", reason="the query is empty")
    grounder = loaded.grounder(params["detector"], params["text_encoder"], models,
                               params["box_threshold"], params["text_threshold"])
    detections = grounder.detect(image, query)
    if not detections:
        mask = np.zeros(image.shape[:2], dtype=bool)
        return mask, dict(ground_record(mask, 0.0, "grounded_sam", spec), phrase="", detections=0)
    best = max(detections, key=lambda d: d.score)  # the first of equal scores
    masks, iou = loaded.sam_segmenter(params["sam"], models).segment(image, np.array([best.box_xyxy], dtype=np.float32))
    mask = masks[0]
    record = ground_record(mask, best.score, "grounded_sam", spec)
    return mask, dict(record, phrase=best.phrase, detections=len(detections), sam_iou=float(iou[0]),
                      detector_box_xyxy=[float(v) for v in best.box_xyxy])


def run_ground(spec: dict, image_path, gt_path, instance: str, query: str = "", models: dict | None = None):
    """Load what the backend needs, check it, and ground the query."""
    from . import InstanceError, io
    from .truth import load_truth

    image = io.read_instance_image(image_path, instance)
    if spec["backend"] == "grounded_sam":
        return ground_grounded_sam(image, query, spec, models)
    if spec["backend"] != "oracle":
        raise ValueError(f"unknown ground backend {spec['backend']!r}")
    truth = load_truth(gt_path, instance)
    if truth.visible.shape != image.shape[:2]:
        raise InstanceError(instance, gt_path, f"ground truth is {truth.visible.shape}, image is {image.shape[:2]}")
    return ground_oracle(truth, spec)

