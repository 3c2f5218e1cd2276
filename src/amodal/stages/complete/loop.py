"""The seed's iterative completion loop, over a list of instances.

After Ao et al. (and PD-MC): every instance is cropped from a canvas 6x the image around its
visible mask; pass 0 puts the visible object on a clean wallpaper and inpaints the occluders
and everything outside the image, with the mask dilated 5x5 three times; later passes dilate
3x3 once and stay inside pass 0's mask; after each pass the backend reports what still
occludes the object, and an instance stops when nothing does and no crop side is touched, when
its mask is empty, or at the pass limit. Each pass hands the backend every instance still
running at once (`run_passes`), so a model backend can batch them; an instance that stops
leaves the batch. Nothing here reads or writes files or knows which inpainter runs.

Settings that follow the seed or not (documented in docs/design.md; `paper.yaml` sets the
seed's): `seed_pass_count` (the seed checks its limit after counting, so a limit of 3 allows 4
passes), `output_when_not_occluded` and `output_when_first_mask_empty` (the seed writes no
output in those cases; ours keeps the visible object as the result).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from amodal.imaging.frames import Region, crop
from amodal.imaging.geometry import crop_region, frame_mask, sides_touched


@dataclass
class LoopInstance:
    id: str
    image: np.ndarray  # (H, W, 3) uint8
    visible: np.ndarray  # (H, W) bool
    occluders: np.ndarray  # (H, W) bool: the aggregated occluder mask
    prompt: str


@dataclass
class PassInput:
    instance: str
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
    status: str  # completed | not_occluded | no_output | invalid_query | failed
    region: Region | None
    completion: np.ndarray | None
    amodal: np.ndarray | None
    passes: list[dict] = field(default_factory=list)
    iterations: list[dict] = field(default_factory=list)  # per pass: arrays to save
    stop_reason: str = ""
    sides: set[str] = field(default_factory=set)
    reason: str = ""  # why, when status is "failed"

    def record(self, backend: str, prompt: str) -> dict:
        return {
            "status": self.status,
            **({"reason": self.reason} if self.reason else {}),
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
    return cv2.resize(
        wallpaper,
        (w, h),
        interpolation=cv2.INTER_AREA if h * w < wallpaper.shape[0] * wallpaper.shape[1] else cv2.INTER_LINEAR,
    )


def _dilate_square(mask: np.ndarray, size: int, iterations: int) -> np.ndarray:
    return cv2.dilate(mask.astype(np.uint8), np.ones((size, size), np.uint8), iterations=iterations) > 0


def _crop_sides_touched(mask: np.ndarray, gap: int) -> set[str]:
    return sides_touched(mask, gap) if mask.any() else set()


def _side_strip(shape, side: str, width: int) -> np.ndarray:
    strip = np.zeros(shape, dtype=bool)
    {"top": strip[:width, :], "bottom": strip[-width:, :], "left": strip[:, :width], "right": strip[:, -width:]}[side][
        ...
    ] = True
    return strip


@dataclass
class _Running:
    """One instance inside the loop: its crop and what the passes have made of it."""

    source: LoopInstance
    result: Completion
    crop_image: np.ndarray
    crop_visible: np.ndarray
    crop_occluders: np.ndarray
    frame: np.ndarray
    outside: np.ndarray
    current: np.ndarray
    first_mask: np.ndarray | None = None


def _start(instance: LoopInstance, spec: dict) -> Completion | _Running:
    """The instance's crop, or its final Completion when there is nothing to complete."""
    visible = instance.visible
    if not visible.any():
        return Completion("invalid_query", None, None, None, stop_reason="empty_visible_mask")
    sides = sides_touched(visible, spec["border_gap"])
    if not instance.occluders.any() and not sides:
        status = "not_occluded" if spec.get("output_when_not_occluded", True) else "no_output"
        return Completion(status, None, None, None, stop_reason="nothing_occludes")
    region, sides = crop_region(
        visible, spec["canvas_scale"], spec["crop_buffer"], spec["border_pad"], spec["border_gap"]
    )
    crop_image = crop(instance.image, region, 255)
    crop_visible = crop(visible, region, False)
    frame = frame_mask(instance.image.shape, region)
    return _Running(
        instance,
        Completion("completed", region, crop_image, crop_visible.copy(), sides=sides),
        crop_image,
        crop_visible,
        crop(instance.occluders, region, False),
        frame,
        ~frame,
        crop_image,
    )


def _pass_input(run: _Running, index: int, spec: dict, wallpaper: np.ndarray) -> PassInput | None:
    """This pass's input, or None (and the run stopped) when its mask is empty."""
    mask = run.crop_occluders | run.outside
    if run.first_mask is None:
        run.first_mask = mask.copy()
    else:
        mask &= run.first_mask
    if not mask.any():
        run.result.stop_reason = "mask_empty"
        if index == 0 and not spec.get("output_when_first_mask_empty", True):
            run.result.status = "no_output"
        return None
    dilated = _dilate_square(mask, 5, 3) if index == 0 else _dilate_square(mask, 3, 1)
    if index == 0:
        pass_image = np.where(
            run.crop_visible[..., None], run.crop_image, fit_wallpaper(wallpaper, run.result.region.shape)
        )
    else:
        pass_image = run.current
    return PassInput(
        run.source.id,
        index,
        pass_image.astype(np.uint8),
        dilated,
        run.crop_visible,
        mask,
        run.frame,
        run.result.sides,
        run.source.prompt,
    )


def _finish_pass(run: _Running, state: PassInput, out: PassResult, spec: dict, single_pass: bool) -> bool:
    """Record the pass; True when the instance goes on to another pass."""
    result = run.result
    # The amodal mask only grows: a later pass refines what is still hidden, it does not take
    # back what an earlier pass found.
    run.current, result.completion = out.completion, out.completion
    result.amodal = result.amodal | out.amodal
    touched = _crop_sides_touched(result.amodal, spec["border_gap"])
    result.iterations.append(
        {
            "input": state.image,
            "mask": state.mask,
            "completion": out.completion,
            "amodal_mask": result.amodal,
            "occluder_mask": out.still_occluding,
        }
    )
    result.passes.append(
        {
            "pass": state.index,
            "mask_pixels": int(state.mask.sum()),
            "amodal_pixels": int(result.amodal.sum()),
            "still_occluding_pixels": int(out.still_occluding.sum()),
            "crop_sides_touched": sorted(touched),
            **out.info,
        }
    )
    if not out.still_occluding.any() and not touched:
        if not spec.get("stop_early", True):
            return True  # `stop_early: false` (benchmarks): the same region is painted again
        result.stop_reason = "nothing_occludes"
        return False
    if single_pass:
        # The crop is fixed for all passes (as in the seed), so a backend that already
        # predicted the whole shape cannot gain from another pass.
        result.stop_reason = "reached_crop_side"
        return False
    # As the seed: what still occludes, plus a strip along each crop side the object reaches.
    run.crop_occluders = out.still_occluding.copy()
    run.outside = np.zeros_like(run.outside)
    for side in touched:
        run.crop_occluders |= _side_strip(run.crop_occluders.shape, side, 5)
    return True


def _failed(run: _Running, state: PassInput, out) -> bool:
    """True (and the instance failed, without output) when the backend could not run its pass."""
    if isinstance(out, PassResult):
        return False
    result = run.result
    result.status, result.completion, result.amodal = "failed", None, None
    result.stop_reason = "backend_failed"
    result.reason = f"instance '{run.source.id}': pass {state.index}: {getattr(out, 'reason', out)}"
    return True


def run_loop(instances: list[LoopInstance], spec: dict, wallpaper: np.ndarray, backend) -> list[Completion]:
    """Complete every instance; each pass hands the backend all instances still running."""
    started = [_start(instance, spec) for instance in instances]
    running = [run for run in started if isinstance(run, _Running)]
    passes = spec["max_passes"] + (1 if spec.get("seed_pass_count", False) else 0)
    for index in range(passes):
        states = [(run, _pass_input(run, index, spec, wallpaper)) for run in running]
        states = [(run, state) for run, state in states if state is not None]
        if not states:
            running = []
            break
        outs = backend.run_passes([state for _, state in states])
        running = [
            run
            for (run, state), out in zip(states, outs)
            if not _failed(run, state, out) and _finish_pass(run, state, out, spec, backend.single_pass)
        ]
    for run in running:
        run.result.stop_reason = "pass_limit"
    return [run.result if isinstance(run, _Running) else run for run in started]
