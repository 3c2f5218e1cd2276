"""Stage `complete`: reconstruct the whole object inside the seed's crop, pass by pass.

The pass loop follows the seed (Ao et al., after PD-MC): pass 0 puts the visible object on a
clean wallpaper and inpaints the occluders and the area outside the image, with the mask
dilated 5x5 three times; later passes dilate 3x3 once and stay inside pass 0's mask; after
each pass the backend reports what still occludes the object, and the loop stops when nothing
does and no crop side is touched, when the mask is empty, or at the pass limit.

A backend is any object with `run_pass(state) -> PassResult` and a `single_pass` flag (True
when one pass predicts the whole shape); the `classical` backend here needs no weights.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import cv2
import numpy as np

from .geometry import Region, crop_region, extract, frame_mask, sides_touched


@dataclass
class PassInput:
    index: int
    image: np.ndarray  # (h, w, 3) uint8 crop fed to the backend
    mask: np.ndarray  # (h, w) bool: where the backend may paint (dilated)
    visible: np.ndarray  # (h, w) bool: the target's visible pixels in the crop
    allowed: np.ndarray  # (h, w) bool: occluders and outside-the-image, undilated
    frame: np.ndarray  # (h, w) bool: inside the image
    sides: set[str]  # image sides the visible object touches
    prompt: str


@dataclass
class PassResult:
    completion: np.ndarray  # (h, w, 3) uint8
    amodal: np.ndarray  # (h, w) bool
    still_occluding: np.ndarray  # (h, w) bool: what the backend sees occluding after this pass
    info: dict = field(default_factory=dict)  # backend-specific notes for complete.json


@dataclass
class Completion:
    status: str  # completed | not_occluded | invalid_query
    region: Region | None
    completion: np.ndarray | None
    amodal: np.ndarray | None
    passes: list[dict] = field(default_factory=list)
    iterations: list[dict] = field(default_factory=list)  # per pass: arrays to save
    stop_reason: str = ""
    sides: set[str] = field(default_factory=set)

    def record(self, backend: str, prompt: str) -> dict:
        return {
            "status": self.status,
            "backend": backend,
            "prompt": prompt,
            "passes": len(self.iterations),
            "stop_reason": self.stop_reason,
            "crop": None if self.region is None else self.region.as_dict(),
            "sides_touched": sorted(self.sides),
            "pass_log": self.passes,
        }


def fit_wallpaper(wallpaper: np.ndarray, shape) -> np.ndarray:
    """The clean background resized to the crop (the seed instead skips crops larger than it)."""
    h, w = shape
    return cv2.resize(wallpaper, (w, h), interpolation=cv2.INTER_AREA if h * w < wallpaper.shape[0] * wallpaper.shape[1] else cv2.INTER_LINEAR)


def _dilate_square(mask: np.ndarray, size: int, iterations: int) -> np.ndarray:
    return cv2.dilate(mask.astype(np.uint8), np.ones((size, size), np.uint8), iterations=iterations) > 0


def complete(image, visible, occluders, prompt: str, spec: dict, wallpaper: np.ndarray, backend) -> Completion:
    """Run the pass loop for one instance. `occluders` is the aggregated occluder mask (H, W)."""
    if not visible.any():
        return Completion("invalid_query", None, None, None, stop_reason="empty_visible_mask")
    sides = sides_touched(visible, spec["border_gap"])
    if not occluders.any() and not sides:
        return Completion("not_occluded", None, None, None, stop_reason="nothing_occludes")
    region, sides = crop_region(visible, spec["canvas_scale"], spec["crop_buffer"], spec["border_pad"], spec["border_gap"])
    crop_image = extract(image, region, 255)
    crop_visible = extract(visible, region, False)
    crop_occluders = extract(occluders, region, False)
    frame = frame_mask(image.shape, region)
    outside = ~frame

    result = Completion("completed", region, crop_image, crop_visible.copy(), sides=sides)
    first_mask = None
    current = crop_image
    for index in range(spec["max_passes"]):
        mask = crop_occluders | outside
        if first_mask is None:
            first_mask = mask.copy()
        else:
            mask &= first_mask
        if not mask.any():
            result.stop_reason = "mask_empty"
            break
        dilated = _dilate_square(mask, 5, 3) if index == 0 else _dilate_square(mask, 3, 1)
        if index == 0:
            pass_image = np.where(crop_visible[..., None], crop_image, fit_wallpaper(wallpaper, region.shape))
        else:
            pass_image = current
        state = PassInput(index, pass_image.astype(np.uint8), dilated, crop_visible, mask, frame, sides, prompt)
        out = backend.run_pass(state)
        # The amodal mask only grows: a later pass refines what is still hidden, it does not
        # take back what an earlier pass found.
        current, result.completion = out.completion, out.completion
        result.amodal = result.amodal | out.amodal
        touched = _crop_sides_touched(result.amodal, spec["border_gap"])
        result.iterations.append({"input": pass_image, "mask": dilated, "completion": out.completion,
                                  "amodal_mask": result.amodal, "occluder_mask": out.still_occluding})
        result.passes.append({"pass": index, "mask_pixels": int(dilated.sum()), "amodal_pixels": int(result.amodal.sum()),
                              "still_occluding_pixels": int(out.still_occluding.sum()), "crop_sides_touched": sorted(touched),
                              **out.info})
        if not out.still_occluding.any() and not touched:
            result.stop_reason = "nothing_occludes"
            break
        if backend.single_pass:
            # The crop is fixed for all passes (as in the seed), so a backend that already
            # predicted the whole shape cannot gain from another pass.
            result.stop_reason = "reached_crop_side"
            break
        # As the seed: what still occludes, plus a strip along each crop side the object reaches.
        crop_occluders = out.still_occluding.copy()
        outside = np.zeros_like(outside)
        for side in touched:
            crop_occluders |= _side_strip(crop_occluders.shape, side, 5)
    else:
        result.stop_reason = "pass_limit"
    return result


def _crop_sides_touched(mask: np.ndarray, gap: int) -> set[str]:
    return sides_touched(mask, gap) if mask.any() else set()


def _side_strip(shape, side: str, width: int) -> np.ndarray:
    strip = np.zeros(shape, dtype=bool)
    {"top": strip[:width, :], "bottom": strip[-width:, :], "left": strip[:, :width], "right": strip[:, -width:]}[side][...] = True
    return strip


# ---------------------------------------------------------------- classical backend


def convex_hull_mask(mask: np.ndarray) -> np.ndarray:
    points = cv2.findNonZero(mask.astype(np.uint8))
    hull = np.zeros(mask.shape, dtype=np.uint8)
    if points is not None:
        cv2.fillConvexPoly(hull, cv2.convexHull(points), 1)
    return hull > 0


def true_contour_points(visible: np.ndarray, allowed: np.ndarray, clearance: int = 2) -> np.ndarray:
    """(N, 2) x, y points of the visible object's outline that are its own edge: outline pixels
    next to an occluder or to the image border are where the object was cut, not where it ends."""
    contours, _ = cv2.findContours(visible.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return np.zeros((0, 2), dtype=np.int32)
    points = np.concatenate([c.reshape(-1, 2) for c in contours])
    size = 2 * clearance + 1
    near_cut = cv2.dilate(allowed.astype(np.uint8), np.ones((size, size), np.uint8)) > 0
    return points[~near_cut[points[:, 1], points[:, 0]]]


def ellipse_mask(points: np.ndarray, shape) -> np.ndarray | None:
    """The least-squares ellipse through the points, filled; None when it cannot be fitted."""
    if len(points) < 5:
        return None
    (cx, cy), (width, height), angle = cv2.fitEllipseAMS(points.astype(np.float32))
    if not np.all(np.isfinite([cx, cy, width, height, angle])) or min(width, height) < 1:
        return None
    # Far-off or enormous fits (a nearly straight outline) are no shape prior at all.
    limit = 4 * max(shape)
    if abs(cx) > limit or abs(cy) > limit or max(width, height) > limit:
        return None
    mask = np.zeros(shape, dtype=np.uint8)
    cv2.ellipse(mask, ((float(cx), float(cy)), (float(width), float(height)), float(angle)), 1, thickness=-1)
    return mask > 0


def predict_amodal(visible: np.ndarray, allowed: np.ndarray, max_area_ratio: float = 4.0):
    """Visible pixels plus a shape prior wherever the object could hide (behind occluders or
    outside the image). The prior is the ellipse fitted to the object's own outline (so a cut
    shape is continued past the cut, also past the image border) joined with the convex hull
    of the visible pixels; when the ellipse would make the object more than `max_area_ratio`
    times its visible area, only the hull is used. Returns (mask, which prior was used)."""
    hull = convex_hull_mask(visible)
    ellipse = ellipse_mask(true_contour_points(visible, allowed), visible.shape)
    if ellipse is not None:
        amodal = visible | ((ellipse | hull) & allowed)
        if amodal.sum() <= max_area_ratio * visible.sum():
            return amodal, "ellipse"
    return visible | (hull & allowed), "hull"


class ClassicalBackend:
    """Amodal shape from geometry, appearance from OpenCV inpainting of the visible object's pixels."""

    METHODS = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}
    single_pass = True

    def __init__(self, spec: dict):
        params = spec["classical"]
        if params["method"] not in self.METHODS:
            raise ValueError(f"complete.classical.method must be one of {sorted(self.METHODS)}, got {params['method']!r}")
        self.method = self.METHODS[params["method"]]
        self.radius = params["radius"]
        self.max_area_ratio = params["max_area_ratio"]
        self.size = spec["size"]

    def run_pass(self, state: PassInput) -> PassResult:
        amodal, prior = predict_amodal(state.visible, state.allowed, self.max_area_ratio)
        hidden = amodal & ~state.visible
        completion = state.image.copy()
        if hidden.any():
            completion[hidden] = self._fill(state.image, state.visible)[hidden]
        return PassResult(completion, amodal, np.zeros_like(amodal), {"shape_prior": prior})

    def _fill(self, image: np.ndarray, visible: np.ndarray) -> np.ndarray:
        """Everything but the visible object is unknown, so only object colours propagate."""
        h, w = visible.shape
        scale = min(1.0, self.size / max(h, w))
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        known = cv2.resize(visible.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST)
        unknown = (known == 0).astype(np.uint8)
        filled = cv2.inpaint(small, unknown, self.radius, self.method)
        return cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)


def make_backend(spec: dict):
    if spec["backend"] == "classical":
        return ClassicalBackend(spec)
    if spec["backend"] == "diffusers":
        raise NotImplementedError(
            "complete backend 'diffusers' is not part of this build yet; use complete.backend: classical"
        )
    raise ValueError(f"unknown complete backend {spec['backend']!r}")


# ---------------------------------------------------------------- files


@lru_cache(maxsize=4)
def _read_wallpaper(path: str) -> np.ndarray:
    """The wallpaper, read once per job (a shard's instances share it); read-only, as it is shared."""
    from . import io

    wallpaper = io.read_rgb(path)
    wallpaper.flags.writeable = False
    return wallpaper


def run_complete(spec, image_path, visible_path, ground_path, occluders_path, prompt_path, wallpaper_path, instance):
    from . import InstanceError, io

    image = io.read_instance_image(image_path, instance)
    visible = io.read_mask(visible_path)
    occluders = io.read_mask(occluders_path)
    prompt = io.read_json(prompt_path)["prompt"]
    ground = io.read_json(ground_path)
    try:
        wallpaper = _read_wallpaper(str(wallpaper_path))
    except OSError as error:
        raise InstanceError(instance, wallpaper_path, f"clean wallpaper cannot be read ({error}); set config 'wallpaper'") from None
    if ground["status"] != "ok":
        result = Completion(ground["status"], None, None, None, stop_reason=ground["reason"])
    else:
        result = complete(image, visible, occluders, prompt, spec, wallpaper, make_backend(spec))
    return result, result.record(spec["backend"], prompt)


def write_completion(result: Completion, record: dict, *, record_path, completion_path, amodal_path, iterations_dir) -> None:
    """Every pass's files, then the final completion; with no completion the image files are
    1x1 placeholders and the record's status says why."""
    from pathlib import Path

    from . import io

    Path(iterations_dir).mkdir(parents=True, exist_ok=True)
    for index, arrays in enumerate(result.iterations):
        folder = Path(iterations_dir) / str(index)
        io.write_image(folder / "input.png", arrays["input"])
        io.write_mask(folder / "mask.png", arrays["mask"])
        io.write_image(folder / "completion.png", arrays["completion"])
        io.write_mask(folder / "amodal_mask.png", arrays["amodal_mask"])
        io.write_mask(folder / "occluder_mask.png", arrays["occluder_mask"])
    if result.completion is None:
        io.write_image(completion_path, np.zeros((1, 1, 3), np.uint8))
        io.write_mask(amodal_path, np.zeros((1, 1), bool))
    else:
        io.write_image(completion_path, result.completion)
        io.write_mask(amodal_path, result.amodal)
    io.write_json(record_path, record)
