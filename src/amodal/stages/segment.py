"""Stage `segment`: where is everything else (other objects and background regions)?"""

from __future__ import annotations

import cv2
import numpy as np

from amodal.imaging.segments import Segments
from amodal.models.cache import ModelCache


def background_regions(
    masks: list[np.ndarray], shape, erode_radius: int = 2, min_area: float = 100
) -> tuple[np.ndarray, int]:
    """The seed's background regions: the complement of all masks, eroded with a disk, split
    into external contours whose area exceeds min_area. Returns (int32 label map, R): label
    r = 1..R is the r-th kept contour's region in findContours' order, 0 is none.

    Unlike the seed, which fills each contour, a region keeps its holes: a background that
    surrounds an object must not contain it, or it would overlap the very object it is behind.
    The regions are disjoint, so one label map holds them all: memory is one frame whatever
    their number, and the time one pass over the frame.
    """
    from skimage.morphology import disk, erosion  # 0.4 s to import; only jobs that segment pay it

    covered = np.zeros(shape, dtype=bool)
    for mask in masks:
        covered |= mask
    free = (~covered).astype(np.uint8)
    del covered
    if erode_radius > 0:
        free = erosion(free, disk(erode_radius))
    count, components = cv2.connectedComponents(free, connectivity=8, ltype=cv2.CV_32S)
    contours, _ = cv2.findContours(free, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    del free
    label_of = np.zeros(count, np.int32)  # component -> region label (0: not a region)
    kept = 0
    for contour in contours:
        if cv2.contourArea(contour) > min_area:
            x, y = contour[0, 0]
            kept += 1
            label_of[components[y, x]] = kept  # the component this outline bounds
    return label_of[components], kept


def with_background(objects: list[dict], object_masks: list[np.ndarray], visible: np.ndarray, spec: dict):
    """Append background segments (complement of the target and every object) to an object list:
    (Segments, records)."""
    records = [dict(r, id=i, kind="object") for i, r in enumerate(objects)]
    stack = np.stack(object_masks) if object_masks else np.zeros((0,) + visible.shape, dtype=bool)
    background = spec["background"]
    regions = None
    if background["enabled"]:
        regions, count = background_regions(
            list(object_masks) + [visible], visible.shape, background["erode_radius"], background["min_area"]
        )
        for number in range(count):
            records.append({"id": len(records), "label": f"background_{number}", "score": 1.0, "kind": "background"})
    return Segments(stack, regions), records


def segment_oracle(truth, visible: np.ndarray, spec: dict):
    """Ground-truth visible masks of every object except the target, then background segments."""
    objects, masks = [], []
    for index, (mask, category) in enumerate(zip(truth.object_masks, truth.object_categories)):
        if index == 0 or not mask.any():
            continue
        objects.append({"label": category.replace("_", " "), "score": 1.0, "gt_index": index})
        masks.append(mask)
    segments, records = with_background(objects, masks, visible, spec)
    return segments, {"backend": "oracle", "segments": records}


def mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boolean masks (0 when both are empty)."""
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 0.0


def strongest(detections: list, limit: int | None) -> list:
    """The `limit` highest-scoring detections in their original order (all when limit is None)."""
    if limit is None or len(detections) <= limit:
        return detections
    keep = set(sorted(range(len(detections)), key=lambda i: -detections[i].score)[:limit])
    return [d for i, d in enumerate(detections) if i in keep]


def detect_and_segment(image: np.ndarray, labels: list[str], params: dict, models: ModelCache | None):
    """GroundingDINO boxes for all labels in one caption (the seed's ". ".join), one SAM mask per
    box, every box decoded together on one image embedding. Returns ((N, H, W) masks, records,
    caption)."""
    return detect_and_segment_many([image], [labels], params, models)[0]


def detect_and_segment_many(
    images: list[np.ndarray], label_lists: list[list[str]], params: dict, models: ModelCache | None
):
    """`detect_and_segment` for each (image, labels) pair: GroundingDINO image by image
    (`detect_many`), then SAM with the images embedded in batches (`segment_detections`)."""
    return segment_detections(images, detect_many(images, label_lists, params, models), params, models)


def detect_many(images: list[np.ndarray], label_lists: list[list[str]], params: dict, models: ModelCache | None):
    """For each (image, labels) pair, GroundingDINO's boxes for all labels in one caption (the
    `max_boxes` strongest) and that caption: [(detections, caption)]; no labels, no call."""
    from amodal.models.grounding_dino import caption_for

    models = models or ModelCache()

    found = []
    for image, labels in zip(images, label_lists):
        labels = [label for label in labels if label and label.strip()]
        if not labels:
            found.append(([], ""))
            continue
        caption = caption_for(labels)
        grounder = models.grounder(
            params["detector"], params["text_encoder"], params["box_threshold"], params["text_threshold"]
        )
        found.append((strongest(grounder.detect(image, caption), params.get("max_boxes")), caption))
    return found


def segment_detections(images: list[np.ndarray], found: list, params: dict, models: ModelCache | None):
    """One SAM mask per detected box (`detect_many`'s output), the images embedded in batches
    (`BoxSegmenter.segment_many`): [((N, H, W) masks, records, caption)]."""
    boxes = [np.array([d.box_xyxy for d in detections], dtype=np.float32).reshape(-1, 4) for detections, _ in found]
    if any(len(b) for b in boxes):
        segmented = (models or ModelCache()).sam_segmenter(params["sam"]).segment_many(images, boxes)
    else:  # nothing detected: SAM is not loaded
        from amodal.models.sam import no_masks

        segmented = [no_masks(image) for image in images]
    out = []
    for (detections, caption), (masks, ious) in zip(found, segmented):
        records = [
            {
                "label": d.phrase,
                "score": float(d.score),
                "sam_iou": float(iou),
                "box_xyxy": [float(v) for v in d.box_xyxy],
            }
            for d, iou in zip(detections, ious)
        ]
        out.append((masks, records, caption))
    return out


def segment_grounded_sam(
    image: np.ndarray, visible: np.ndarray, tags: list[str], spec: dict, models: ModelCache | None
):
    """Every tag detected and segmented (`detect_and_segment`), then background segments as for
    `oracle`.

    A detected mask that overlaps the target's visible mask by `target_iou` or more is the
    target itself and is dropped. Boxes whose phrase is 'background' (the seed keeps that tag
    in its caption) become background segments."""
    params = spec["grounded_sam"]
    labels = [t for t in tags if params["include_background_tag"] or t != "background"]
    masks, detected, caption = detect_and_segment(image, labels, params, models)
    objects, backgrounds = [], []
    for record, mask in zip(detected, masks):
        if not mask.any() or mask_iou(mask, visible) >= params["target_iou"]:
            continue
        (backgrounds if record["label"] == "background" else objects).append((record, mask))
    segments, records = with_background([r for r, _ in objects], [m for _, m in objects], visible, spec)
    extra = [m & ~visible for _, m in backgrounds]
    for (record, _), mask in zip(backgrounds, extra):
        records.append(dict(record, id=len(records), label=f"background_detected_{len(records)}", kind="background"))
    if extra:  # after the background regions, in segment order
        segments = Segments(np.concatenate([segments.masks, np.stack(extra)]), segments.regions, len(objects))
    return segments, {"backend": "grounded_sam", "caption": caption, "detections": len(detected), "segments": records}


def run_segment(
    spec: dict, visible_path, gt_path, instance: str, image_path=None, tags_path=None, models: ModelCache | None = None
):
    from amodal.imaging import io
    from amodal.datasets.truth import load_truth

    if spec["backend"] == "grounded_sam":
        image = io.read_instance_image(image_path, instance)
        return segment_grounded_sam(image, io.read_mask(visible_path), io.read_json(tags_path)["tags"], spec, models)
    if spec["backend"] != "oracle":
        raise ValueError(f"unknown segment backend {spec['backend']!r}")
    return segment_oracle(load_truth(gt_path, instance), io.read_mask(visible_path), spec)
