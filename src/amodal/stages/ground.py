"""Stage `ground`: where is the queried object visible?"""

from __future__ import annotations

import numpy as np

from amodal.imaging.frames import Region
from amodal.models.cache import ModelCache


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
    box = Region.bounding(mask)
    return {
        "backend": backend,
        "score": float(score),
        "box_xyxy": None if box is None else list(box.xyxy),
        "area": int(mask.sum()),
        "status": status,
        "reason": reason,
    }


def ground_oracle(truth, spec: dict) -> tuple[np.ndarray, dict]:
    """The ground-truth visible mask, with score 1."""
    mask = truth.visible.copy()
    return mask, ground_record(mask, 1.0, "oracle", spec)


def ground_grounded_sam(
    image: np.ndarray, query: str, spec: dict, models: ModelCache | None
) -> tuple[np.ndarray, dict]:
    """The best-scoring GroundingDINO box for the query, segmented by SAM, then the seed's validity test.
    No box at all gives an empty mask with score 0 (an invalid query, not a failure)."""
    params, models = spec["grounded_sam"], models or ModelCache()
    if not query.strip():
        mask = np.zeros(image.shape[:2], dtype=bool)
        record = dict(ground_record(mask, 0.0, "grounded_sam", spec), phrase="", detections=0)
        return mask, dict(record, status="invalid_query", reason="the query is empty")
    grounder = models.grounder(
        params["detector"], params["text_encoder"], params["box_threshold"], params["text_threshold"]
    )
    detections = grounder.detect(image, query)
    if not detections:
        mask = np.zeros(image.shape[:2], dtype=bool)
        return mask, dict(ground_record(mask, 0.0, "grounded_sam", spec), phrase="", detections=0)
    best = max(detections, key=lambda d: d.score)  # the first of equal scores
    masks, iou = models.sam_segmenter(params["sam"]).segment(image, np.array([best.box_xyxy], dtype=np.float32))
    mask = masks[0]
    record = ground_record(mask, best.score, "grounded_sam", spec)
    return mask, dict(
        record,
        phrase=best.phrase,
        detections=len(detections),
        sam_iou=float(iou[0]),
        detector_box_xyxy=[float(v) for v in best.box_xyxy],
    )


def ground_lisa(
    image: np.ndarray, query: str, spec: dict, models: ModelCache | None, instance: str
) -> tuple[np.ndarray, dict]:
    """LISA's mask for the query from the LISA Gradio app at `models.lisa.url` (docs/lisa.md),
    then the seed's validity test with score 1, the score the seed gives LISA's mask. LISA runs
    in its own server, so this stage only waits on the network: it is CPU-class (not in
    amodal.declarations) and claims no GPU. A call that gives no usable mask fails this
    instance with status `remote_failed`; the shard's other instances go on."""
    from amodal.errors import RemoteFailure
    from amodal.models import lisa

    params, remote = spec["lisa"], (models or ModelCache()).lisa_settings()
    if not remote["url"]:
        raise ValueError(
            "ground backend lisa needs models.lisa.url in the config: the address of the LISA "
            "Gradio app, e.g. http://127.0.0.1:7860/ (docs/lisa.md)"
        )
    if not query.strip():
        mask = np.zeros(image.shape[:2], dtype=bool)
        return mask, dict(ground_record(mask, 0.0, "lisa", spec), status="invalid_query", reason="the query is empty")
    prompt = params["prompt_template"].format(query)
    try:
        answer = lisa.segment(
            image,
            prompt,
            remote["url"],
            api_name=remote["api_name"],
            timeout_s=remote["timeout_s"],
            attempts=remote["attempts"],
            backoff_s=remote["backoff_s"],
        )
    except lisa.LisaError as error:
        hint = lisa.refusal_hint(prompt) if error.kind == "server_error" else ""
        raise RemoteFailure(
            instance,
            remote["url"],
            f"remote_failed ({error.kind}) calling the LISA app: {error.message}{hint}",
            {"failure": "remote_failed", "remote": {"error": error.kind, "calls": error.calls, "url": remote["url"]}},
        ) from None
    record = ground_record(answer.mask, 1.0, "lisa", spec)
    return answer.mask, dict(
        record,
        lisa={
            "model": params["model"],
            "prompt": prompt,
            "answer": answer.text,
            "calls": answer.calls,
            "url": remote["url"],
        },
    )


def run_ground(spec: dict, image_path, gt_path, instance: str, query: str = "", models: ModelCache | None = None):
    """Load what the backend needs (from the job's `models`), check it, and ground the query."""
    from amodal.errors import InstanceError
    from amodal.imaging import io
    from amodal.datasets.truth import load_truth

    image = io.read_instance_image(image_path, instance)
    if spec["backend"] == "grounded_sam":
        return ground_grounded_sam(image, query, spec, models)
    if spec["backend"] == "lisa":
        return ground_lisa(image, query, spec, models, instance)
    if spec["backend"] != "oracle":
        raise ValueError(f"unknown ground backend {spec['backend']!r}")
    truth = load_truth(gt_path, instance)
    if truth.visible.shape != image.shape[:2]:
        raise InstanceError(instance, gt_path, f"ground truth is {truth.visible.shape}, image is {image.shape[:2]}")
    return ground_oracle(truth, spec)
