"""Stage `order`: which segments occlude the target?

The record lists the pairs (target, segment i) a backend judged, each with whether the segment
occludes the target and whether the target occludes it; a pair it did not judge is not listed.
(Only the target's pairs are ever judged, so the record grows with the segments, never with
their square: a cluttered photo has tens of thousands of background regions.)
"""

from __future__ import annotations

import cv2
import numpy as np

from amodal.imaging.frames import Region
from amodal.imaging.segments import Segments
from amodal.models.cache import ModelCache


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    return cv2.dilate(mask.astype(np.uint8), kernel) > 0


def _disk_fraction(mask: np.ndarray, radius: int) -> np.ndarray:
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)).astype(np.float32)
    kernel /= kernel.sum()
    return cv2.filter2D(mask.astype(np.float32), -1, kernel, borderType=cv2.BORDER_CONSTANT)


def junction_evidence(a: np.ndarray, b: np.ndarray, radius: int = 9, contact: int = 3) -> dict:
    """T-junction cue for two touching regions.

    Where the contour between two regions meets a third region, the region in front keeps a
    smooth contour and fills about half of a small disk, while the region behind is cut off
    and fills less. The mean disk fractions of a and b over those junction pixels are the
    evidence; junctions within `radius` of the image border say nothing (the frame cuts
    everything there) and are ignored.
    """
    band = (_dilate(a, contact) & b) | (_dilate(b, contact) & a)
    third = ~(a | b)
    interior = np.zeros_like(a)
    interior[radius:-radius, radius:-radius] = True
    junction = band & _dilate(third, contact) & interior
    count = int(junction.sum())
    if count == 0:
        return {"contact_pixels": int(band.sum()), "junction_pixels": 0, "fraction_a": None, "fraction_b": None}
    # Work on the pair's bounding box only: the filters are the cost.
    window = Region.bounding(_dilate(junction, radius + 1)).slices
    fa = _disk_fraction(a[window], radius)[junction[window]].mean()
    fb = _disk_fraction(b[window], radius)[junction[window]].mean()
    return {
        "contact_pixels": int(band.sum()),
        "junction_pixels": count,
        "fraction_a": float(fa),
        "fraction_b": float(fb),
    }


def _order_record(backend: str, n: int, records: list[dict], decided: list[tuple[int, bool, bool, dict]]) -> dict:
    """The order record from the pairs a backend judged: (segment index, it occludes the target,
    the target occludes it, backend-specific fields), in segment order."""
    pairs, occluders = [], []
    for i, seg_front, tar_front, extra in decided:
        pairs.append(
            {
                "segment": i,
                "label": records[i]["label"],
                "occludes_target": bool(seg_front),
                "target_occludes": bool(tar_front),
                **extra,
            }
        )
        if seg_front:
            occluders.append(i)
    return {"backend": backend, "segments": n, "occluders": occluders, "pairs": pairs}


def geometric_order(visible: np.ndarray, segments, records: list[dict], spec: dict) -> dict:
    """Decide, from masks alone, which segments next to the target occlude it.

    Each segment is judged inside its bounding box grown by everything the junction cue looks
    at (two contact widths and the disk), so a pair costs its own window, not the frame; the
    cue's values are those over the whole frame: a window's side is either the image's or farther
    than the disk from every junction, so only the image border voids junctions."""
    params = spec["geometric"]
    segments = Segments.of(segments)
    near_target = _dilate(visible, params["contact"])
    margin = 2 * params["contact"] + params["radius"] + 2
    decided = []
    for i in range(len(segments)):
        window, segment = segments.window(i, margin)
        if not (near_target[window] & segment).any():
            continue
        evidence = junction_evidence(segment, visible[window], params["radius"], params["contact"])
        seg_front = tar_front = False
        if evidence["junction_pixels"] > 0:
            difference = evidence["fraction_a"] - evidence["fraction_b"]
            seg_front = difference > params["margin"]
            tar_front = -difference > params["margin"]
        decided.append((i, seg_front, tar_front, {"evidence": evidence}))
    return _order_record("geometric", len(segments), records, decided)


def instaorder_order(
    image: np.ndarray,
    visible: np.ndarray,
    segments,
    records: list[dict],
    spec: dict,
    models: ModelCache | None,
) -> dict:
    """InstaOrderNet^o,d on the whole image: every segment against the target in both orders, one
    batch; a segment occludes the target when P > threshold (the seed's 0.5)."""
    params = spec["instaorder"]
    predictor = (models or ModelCache()).order_predictor(params["model"], params["input_size"])
    front, behind = predictor.both_ways(image, visible, segments)
    decided = [
        (
            i,
            front[i] > params["threshold"],
            behind[i] > params["threshold"],
            {"p_occludes_target": float(front[i]), "p_target_occludes": float(behind[i])},
        )
        for i in range(len(segments))
    ]
    return _order_record("instaorder", len(segments), records, decided)


def depth_order_from_nearness(
    nearness: np.ndarray, visible: np.ndarray, segments, records: list[dict], spec: dict
) -> dict:
    """Among segments touching the target, the nearer side of their shared border occludes.

    For each segment within `contact` px of the target, compare the median nearness of the
    segment's pixels within `band` px of the target with that of the target's pixels within
    `band` px of the segment; a difference above `margin` times the map's spread (its 95th minus
    5th percentile: relative depth has no unit) puts the nearer one in front. Each segment is
    judged inside its bounding box grown by `band`."""
    params = spec["depth"]
    segments = Segments.of(segments)
    low, high = np.percentile(nearness, [5, 95]) if nearness.size else (0.0, 0.0)
    threshold = params["margin"] * max(float(high - low), 1e-12)
    near_target = _dilate(visible, params["contact"])
    target_band = _dilate(visible, params["band"]) & ~visible
    decided = []
    for i in range(len(segments)):
        window, segment = segments.window(i, params["band"] + 1)
        if not (near_target[window] & segment).any():
            continue
        seg_side = segment & target_band[window]
        tar_side = visible[window] & _dilate(segment, params["band"])
        if not seg_side.any() or not tar_side.any():
            continue
        depth = nearness[window]
        difference = float(np.median(depth[seg_side]) - np.median(depth[tar_side]))
        decided.append(
            (
                i,
                difference > threshold,
                -difference > threshold,
                {"nearness_difference": difference, "threshold": threshold},
            )
        )
    return _order_record("depth", len(segments), records, decided)


def decide_order(
    image: np.ndarray,
    visible: np.ndarray,
    segments,
    records: list[dict],
    spec: dict,
    models: ModelCache | None,
) -> dict:
    """The order record of a backend that needs no ground truth (also used between completion passes)."""
    if spec["backend"] == "geometric":
        return geometric_order(visible, segments, records, spec)
    if spec["backend"] == "instaorder":
        return instaorder_order(image, visible, segments, records, spec, models)
    if spec["backend"] == "depth":
        nearness = (models or ModelCache()).depth_estimator(spec["depth"]["model"]).nearness(image)
        return depth_order_from_nearness(nearness, visible, segments, records, spec)
    raise ValueError(f"order backend {spec['backend']!r} cannot decide without ground truth")


def oracle_order(truth, segments, records: list[dict], matches: list) -> dict:
    """True occlusion of the target, read through each segment's ground-truth object.

    `matches[i]` is segment i's ground-truth object index (or None): taken from the segment
    record's gt_index when the segments are themselves oracle, else matched by IoU.
    """
    truth_occluders = truth.occluders_of(0)
    decided = [
        (i, match in truth_occluders, (0, match) in truth.occludes, {"gt_index": match})
        for i, match in enumerate(matches)
        if match is not None and match != 0
    ]
    return _order_record("oracle", len(segments), records, decided)


def occluder_mask(segments, occluders: list[int], visible: np.ndarray) -> np.ndarray:
    """Union of the occluding segments, never covering the target's own visible pixels (as the seed)."""
    return Segments.of(segments).union(occluders) & ~visible


def run_order(
    spec: dict,
    visible_path,
    masks_path,
    segments_path,
    gt_path,
    instance: str,
    image_path=None,
    models: ModelCache | None = None,
):
    """Returns (order record, aggregated occluder mask)."""
    from amodal.imaging import io

    visible = io.read_mask(visible_path)
    segments = io.read_segments(masks_path)
    records = io.read_json(segments_path)["segments"]
    if spec["backend"] == "geometric":
        record = geometric_order(visible, segments, records, spec)
    elif spec["backend"] in ("instaorder", "depth"):
        record = decide_order(io.read_instance_image(image_path, instance), visible, segments, records, spec, models)
    elif spec["backend"] == "oracle":
        from amodal.imaging.matching import segment_matches
        from amodal.datasets.truth import load_truth

        truth = load_truth(gt_path, instance)
        record = oracle_order(truth, segments, records, segment_matches(segments, records, truth.object_masks))
    else:
        raise ValueError(f"unknown order backend {spec['backend']!r}")
    return record, occluder_mask(segments, record["occluders"], visible)
