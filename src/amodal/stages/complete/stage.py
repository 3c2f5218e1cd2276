"""Stage `complete`: its backends and file I/O; the seed's pass loop is `amodal.stages.complete.loop`.

A backend has `run_passes(states) -> results` (one PassInput per instance still running) and a
`single_pass` flag (True when one pass predicts the whole shape). The `classical` backend here
needs no weights; `diffusers` (amodal.stages.complete.diffusion) inpaints and re-segments every pass.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from amodal.stages.complete.loop import Completion, LoopInstance, PassInput, PassResult, run_loop


def complete(image, visible, occluders, prompt: str, spec: dict, wallpaper: np.ndarray, backend) -> Completion:
    """The seed's loop for one instance (see `amodal.stages.complete.loop.run_loop`)."""
    return run_loop([LoopInstance("instance", image, visible, occluders, prompt)], spec, wallpaper, backend)[0]


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
            raise ValueError(
                f"complete.classical.method must be one of {sorted(self.METHODS)}, got {params['method']!r}"
            )
        self.method = self.METHODS[params["method"]]
        self.radius = params["radius"]
        self.max_area_ratio = params["max_area_ratio"]
        self.size = spec["size"]

    def run_passes(self, states: list[PassInput]) -> list[PassResult]:
        return [self.run_pass(state) for state in states]

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


def make_backend(spec: dict, context: dict | None = None):
    """The backend of `spec`; `diffusers` also needs the job's context: the experiment's segment
    and order specs, each instance's tags and the run's models config."""
    if spec["backend"] == "classical":
        return ClassicalBackend(spec)
    if spec["backend"] == "diffusers":
        from amodal.stages.complete.diffusion import DiffusersBackend

        context = context or {}
        return DiffusersBackend(
            spec, context["segment"], context["order"], context.get("tags", {}), context.get("models")
        )
    raise ValueError(f"unknown complete backend {spec['backend']!r}")


# ---------------------------------------------------------------- files


@lru_cache(maxsize=4)
def _read_wallpaper(path: str) -> np.ndarray:
    """The wallpaper, read once per job (a shard's instances share it); read-only, as it is shared."""
    from amodal.imaging import io

    wallpaper = io.read_rgb(path)
    wallpaper.flags.writeable = False
    return wallpaper


def prepare_complete(
    spec, image_path, visible_path, ground_path, occluders_path, prompt_path, wallpaper_path, instance
):
    """One instance's loop input, or its final Completion when its query was invalid; with the
    prompt and the wallpaper. Bad files raise this instance's InstanceError."""
    from amodal.errors import InstanceError
    from amodal.imaging import io

    image = io.read_instance_image(image_path, instance)
    visible = io.read_mask(visible_path)
    occluders = io.read_mask(occluders_path)
    prompt = io.read_json(prompt_path)["prompt"]
    ground = io.read_json(ground_path)
    try:
        wallpaper = _read_wallpaper(str(wallpaper_path))
    except OSError as error:
        raise InstanceError(
            instance, wallpaper_path, f"clean wallpaper cannot be read ({error}); set config 'wallpaper'"
        ) from None
    if ground["status"] != "ok":
        return Completion(ground["status"], None, None, None, stop_reason=ground["reason"]), prompt, wallpaper
    return LoopInstance(instance, image, visible, occluders, prompt), prompt, wallpaper


def complete_prepared(prepared: list, spec: dict, wallpaper, context: dict | None = None) -> list[Completion]:
    """Run the loop once over every prepared LoopInstance (others are already final)."""
    running = [p for p in prepared if isinstance(p, LoopInstance)]
    done = iter(run_loop(running, spec, wallpaper, make_backend(spec, context)) if running else [])
    return [next(done) if isinstance(p, LoopInstance) else p for p in prepared]


def write_completion(
    result: Completion, record: dict, *, record_path, completion_path, amodal_path, iterations_dir
) -> None:
    """Every pass's files, then the final completion; with no completion the image files are
    1x1 placeholders and the record's status says why."""
    from pathlib import Path

    from amodal.imaging import io
    from amodal.plan import layout

    Path(iterations_dir).mkdir(parents=True, exist_ok=True)
    for index, arrays in enumerate(result.iterations):
        files = layout.pass_files(iterations_dir, index)
        io.write_image(files["input"], arrays["input"])
        io.write_mask(files["mask"], arrays["mask"])
        io.write_image(files["completion"], arrays["completion"])
        io.write_mask(files["amodal_mask"], arrays["amodal_mask"])
        io.write_mask(files["occluder_mask"], arrays["occluder_mask"])
    if result.completion is None:
        io.write_image(completion_path, np.zeros((1, 1, 3), np.uint8))
        io.write_mask(amodal_path, np.zeros((1, 1), bool))
    else:
        io.write_image(completion_path, result.completion)
        io.write_mask(amodal_path, result.amodal)
    io.write_json(record_path, record)
