"""Stage `rgba`: the deliverable, visible pixels blended over the completed ones, cropped to the object.

Backend `blend` follows the seed's recipe (visible cut from the 5x5-eroded mask, its edge shrunk by 10 px,
then blended over the completion with a 5-px transition), except that the transition really
feathers: in the seed's code the distance weights are 0 inside the visible mask and the
blended values are written to a temporary copy, so its transition is a hard cut. Backend
`as_is` delivers the completion as it is (another method's output, scored unchanged).
"""

from __future__ import annotations

import cv2
import numpy as np

from amodal.imaging.frames import Region, crop


def visible_weight(visible: np.ndarray, erode: int = 5, shrink: int = 10, transition: int = 5) -> np.ndarray:
    """Weight of the original pixels: 0 outside the (eroded, shrunk) visible mask, rising to 1
    over `transition` px inside it."""
    core = visible.astype(np.uint8)
    if erode > 1:
        core = cv2.erode(core, np.ones((erode, erode), np.uint8))
    if shrink > 0:
        core = cv2.erode(core, np.ones((2 * shrink + 1, 2 * shrink + 1), np.uint8), borderType=cv2.BORDER_REPLICATE)
    if transition <= 0:
        return core.astype(np.float32)
    distance = cv2.distanceTransform(core, cv2.DIST_L2, 5)
    return np.clip(distance / transition, 0.0, 1.0).astype(np.float32)


def compose(image, visible, completion, amodal, region: Region, spec: dict):
    """RGBA cropped to the object and its placement (x, y) in image coordinates.

    `completion` and `amodal` are in `region`'s frame; with no completion (nothing occluded)
    pass the image and the visible mask cut to the region.
    """
    crop_image = crop(image, region, 0)
    crop_visible = crop(visible, region, False)
    weight = visible_weight(crop_visible, spec["erode"], spec["shrink"], spec["transition"])[..., None]
    rgb = weight * crop_image.astype(np.float32) + (1.0 - weight) * completion.astype(np.float32)
    alpha = amodal | crop_visible
    rgba = np.dstack([np.clip(np.rint(rgb), 0, 255).astype(np.uint8), alpha.astype(np.uint8) * 255])
    box = Region.bounding(alpha)
    if box is None:
        return None, None
    return rgba[box.slices], (region.x0 + box.x0, region.y0 + box.y0)


def cut_out(pixels, mask, region: Region):
    """The completion as it is, cropped to its object, and its placement (x, y) in image
    coordinates; (None, None) when there is no object. `pixels` (in `region`'s frame, as `mask`)
    is RGB, whose alpha is then `mask`, or RGBA carrying its own alpha (another method's output:
    kept exactly, soft edges included, cropped to its non-transparent pixels)."""
    pixels = np.asarray(pixels, np.uint8)
    if pixels.shape[-1] == 4:
        rgba, present = pixels, pixels[..., 3] > 0
    else:
        rgba = np.dstack([pixels, np.asarray(mask, bool).astype(np.uint8) * 255])
        present = np.asarray(mask, bool)
    box = Region.bounding(present)
    if box is None:
        return None, None
    return rgba[box.slices], (region.x0 + box.x0, region.y0 + box.y0)


def deliverable(image, visible, status: str, completion, amodal, region: Region | None, spec: dict):
    """(RGBA, offset) for a completion of the given status, or (None, None) when there is none:
    a completion that found nothing occluding delivers the visible object as it is. Backend
    `blend` puts the input's visible pixels over the completion (the seed's recipe); `as_is`
    delivers the completion's own pixels inside its amodal mask (or with its own alpha, when the
    completion is RGBA), nothing of the input pasted over them (a method scored as it made its
    output: complete `external`, docs/external.md)."""
    as_is = spec.get("backend", "blend") == "as_is"
    if status == "completed":
        if as_is:
            return cut_out(completion, amodal, region)
        return compose(image, visible, np.asarray(completion)[..., :3], amodal, region, spec)
    if status == "not_occluded":
        whole = Region.at((0, 0), image.shape)
        return cut_out(image, visible, whole) if as_is else compose(image, visible, image, visible, whole, spec)
    return None, None


def no_result_kind(completion_status: str, visible: np.ndarray) -> str:
    """Why there is nothing to deliver, as a failure kind of the tables
    (`amodal.metrics.definitions.FAILURE_KINDS`)."""
    if completion_status == "invalid_query":
        return "grounding_failure" if visible.any() else "empty_mask"
    return "no_output"


def _read_with_alpha(path) -> np.ndarray:
    """The completion as RGBA when its file has an alpha channel, else as RGB."""
    from PIL import Image

    from amodal.imaging import io

    with Image.open(path) as im:
        if im.mode in ("RGBA", "LA"):
            return np.asarray(im.convert("RGBA")).copy()
    return io.read_rgb(path)


def run_rgba(spec: dict, image_path, visible_path, complete_path, completion_path, amodal_path):
    """The RGBA and its placement record; an instance with no completion gets a 1x1 transparent
    image and status 'failed'."""
    from amodal.imaging import io

    image = io.read_rgb(image_path)
    visible = io.read_mask(visible_path)
    record = io.read_json(complete_path)
    status = record["status"]
    if status == "completed":
        # as_is keeps an alpha the completion carries (an external method's own, soft edges included)
        read = _read_with_alpha if spec.get("backend", "blend") == "as_is" else io.read_rgb
        completion, amodal, region = read(completion_path), io.read_mask(amodal_path), Region(**record["crop"])
    else:
        completion = amodal = region = None
    rgba, offset = deliverable(image, visible, status, completion, amodal, region, spec)
    if rgba is None:
        reason = f"no completion: complete stage status {status!r} ({record.get('stop_reason', '')})"
        return np.zeros((1, 1, 4), np.uint8), {
            "status": "failed",
            "reason": reason,
            "failure": no_result_kind(status, visible),
            "offset_xy": None,
            "size_hw": None,
            "completion_status": status,
        }
    return rgba, {
        "status": "ok",
        "reason": "",
        "offset_xy": list(offset),
        "size_hw": list(rgba.shape[:2]),
        "completion_status": status,
    }
