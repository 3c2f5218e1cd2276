"""Where the objects of a scene go: drawing a target and its other objects from the cutouts,
scaling them, and rejection-sampling positions until the border, hidden-fraction, occluder and
object-behind rules hold. Every random draw of a scene after its background is made here, in a
fixed order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from amodal.imaging.frames import Region, paste
from amodal.synthetic.params import (
    BEHIND_SIZE,
    BORDER_FRACTION,
    MARGIN,
    MASK_THRESHOLD,
    MIN_BEHIND_COVERED,
    MIN_BEHIND_VISIBLE,
    MIN_OCCLUDER_IN_FRAME,
    MIN_OCCLUDER_SHARE,
    OCCLUDER_SIZE,
    PLACEMENT_TRIES,
    SceneParams,
)
from amodal.synthetic.rendering import scale_cutout, visible_masks
from amodal.synthetic.sources import Cutout


@dataclass
class Placed:
    """A scaled cutout at an image position (x, y) of its top-left corner (may be negative)."""

    cutout: Cutout
    scale: float
    rgba: np.ndarray
    offset: tuple[int, int]

    @property
    def mask(self) -> np.ndarray:
        return self.rgba[..., 3] > MASK_THRESHOLD


@dataclass
class Arrangement:
    """The placed objects of one scene, with their in-frame masks (bool, image size)."""

    target: Placed
    occluders: list[Placed]
    amodal: np.ndarray  # the target's
    masks: list[np.ndarray]  # the occluders', in index order
    behind: list[Placed]
    behind_masks: list[np.ndarray]


def arrange(
    rng: np.random.Generator, cutouts: list[Cutout], params: SceneParams, border_cut: bool
) -> Arrangement | None:
    """One object combination (target, occluders, objects behind) and its placement, or None
    when no placement of it passed."""
    size = params.image_size
    target, others = _draw_objects(rng, cutouts, params.occluders)
    target_scale = rng.uniform(*params.target_size) * size / target.longer_side
    placed_target = Placed(target, float(target_scale), scale_cutout(target.rgba, target_scale), (0, 0))
    placed_occluders = []
    for occluder in others:
        ratio = rng.uniform(*OCCLUDER_SIZE)
        occ_scale = ratio * target_scale * target.longer_side / occluder.longer_side
        placed_occluders.append(Placed(occluder, float(occ_scale), scale_cutout(occluder.rgba, occ_scale), (0, 0)))
    found = _place_objects(rng, placed_target, placed_occluders, size, border_cut, params.hidden_fraction)
    if found is None:
        return None
    # Objects behind come last, so a fixed count of 0 draws nothing more from rng.
    placed_behind = _add_behind(rng, cutouts, params.behind, size, *found)
    if placed_behind is None:
        return None
    return Arrangement(*found, *placed_behind)


def _draw_objects(rng: np.random.Generator, cutouts: list[Cutout], occluders) -> tuple[Cutout, list[Cutout]]:
    """A target and its occluders, the occluders of other categories where there are enough."""
    target = cutouts[int(rng.integers(len(cutouts)))]
    count = int(rng.integers(occluders[0], occluders[1] + 1))
    return target, _pick_others(rng, cutouts, target, count)


def _pick_others(rng: np.random.Generator, cutouts: list[Cutout], target: Cutout, count: int) -> list[Cutout]:
    """`count` cutouts other than the target, of other categories where there are enough."""
    pool = [c for c in cutouts if c.category != target.category]
    if len(pool) < count:
        pool += [c for c in cutouts if c.category == target.category and c.file != target.file]
    if not pool:
        pool = [target]
    picks = rng.choice(len(pool), size=count, replace=len(pool) < count)
    return [pool[int(k)] for k in picks]


def _place_target(rng: np.random.Generator, target: Placed, box: Region, size: int, border_cut: bool):
    """An offset for the target: fully inside with MARGIN, or cut by one side; None if impossible."""
    if not border_cut:
        x = _inside_position(rng, box.x0, box.x1, size)
        y = _inside_position(rng, box.y0, box.y1, size)
        return None if x is None or y is None else (x, y)

    mask = target.mask
    total = int(mask.sum())
    side = ("left", "right", "top", "bottom")[int(rng.integers(4))]
    axis_sums = mask.sum(axis=0) if side in ("left", "right") else mask.sum(axis=1)
    far = side in ("right", "bottom")
    if far:
        axis_sums = axis_sums[::-1]
    # outside[k]: mask pixels beyond the side when k array rows/columns stick out of it.
    outside = np.concatenate([[0], np.cumsum(axis_sums)])
    fraction = outside / total
    valid = np.nonzero((fraction >= BORDER_FRACTION[0]) & (fraction <= BORDER_FRACTION[1]))[0]
    if valid.size == 0:
        return None
    k = int(valid[int(rng.integers(valid.size))])
    length = axis_sums.size
    cut = size - length + k if far else -k
    if side in ("left", "right"):
        y = _inside_position(rng, box.y0, box.y1, size)
        return None if y is None else (cut, y)
    x = _inside_position(rng, box.x0, box.x1, size)
    return None if x is None else (x, cut)


def _inside_position(rng: np.random.Generator, lo: int, hi: int, size: int):
    """A position keeping the span [lo, hi) of the array at least MARGIN px inside [0, size)."""
    first, last = MARGIN - lo, size - MARGIN - hi
    if first > last:
        return None
    return int(rng.integers(first, last + 1))


def _place_objects(rng, target: Placed, occluders: list[Placed], size: int, border_cut: bool, hidden_range):
    """Rejection-sample placements until the border, hidden-fraction and occluder checks pass.

    Sets the offsets of `target` and `occluders`; returns (target, occluders, amodal, occluder
    masks in frame) or None when no placement passed within PLACEMENT_TRIES.
    """
    shape = (size, size)
    target_mask = target.mask
    target_local = np.argwhere(target_mask)  # shifted per try: cheaper than searching the frame
    target_total = len(target_local)
    box = Region.bounding(target.rgba[..., 3])  # the target's alpha > 0 pixels
    occluder_masks = [o.mask for o in occluders]
    occluder_points = [np.argwhere(m) for m in occluder_masks]
    for _ in range(PLACEMENT_TRIES):
        offset = _place_target(rng, target, box, size, border_cut)
        if offset is None:
            continue
        target.offset = offset
        target_points = target_local + (offset[1], offset[0])
        if border_cut:
            target_points = target_points[((target_points >= 0) & (target_points < size)).all(axis=1)]
        area = len(target_points)
        # Check the border contract on the actual in-frame area, whatever the file's margins.
        outside = (target_total - area) / target_total
        if (border_cut and not BORDER_FRACTION[0] <= outside <= BORDER_FRACTION[1]) or (not border_cut and outside):
            continue
        masks = _pin_onto_target(rng, occluders, occluder_masks, occluder_points, target_points, shape)
        if masks is None:
            continue
        amodal = paste(target_mask, offset, shape)
        if any((v & amodal).sum() < MIN_OCCLUDER_SHARE * area for v in visible_masks(masks)):
            continue
        hidden = int((amodal & np.logical_or.reduce(masks)).sum())
        if hidden_range[0] <= hidden / area <= hidden_range[1]:
            return target, occluders, amodal, masks
    return None


def _pin_onto_target(rng, objects, masks, points, target_points, shape):
    """Place each object (occluder or object behind) so a random pixel of it lands on a random
    in-frame target pixel.

    Pinning guarantees overlap with the target; returns the in-frame masks, or None when an
    object would be mostly outside the frame.
    """
    placed = []
    for occ, mask, occ_points in zip(objects, masks, points):
        ty, tx = target_points[int(rng.integers(len(target_points)))]
        oy, ox = occ_points[int(rng.integers(len(occ_points)))]
        occ.offset = (int(tx - ox), int(ty - oy))
        in_frame = paste(mask, occ.offset, shape)
        if in_frame.sum() < MIN_OCCLUDER_IN_FRAME * len(occ_points):
            return None
        placed.append(in_frame)
    return placed


def _add_behind(rng, cutouts, behind, size: int, target: Placed, occluders, amodal, masks):
    """Objects pasted behind the placed target and occluders: (placed, in-frame masks) or None.

    Each is pinned onto the target like an occluder, then kept only if the target hides at
    least MIN_BEHIND_COVERED of it and MIN_BEHIND_VISIBLE of it still shows in the picture.
    """
    low, high = behind
    # A fixed count draws nothing, so behind=(0, 0) leaves the scene exactly as without this step.
    count = low if low == high else int(rng.integers(low, high + 1))
    if count == 0:
        return [], []
    placed = []
    for cutout in _pick_others(rng, cutouts, target.cutout, count):
        ratio = rng.uniform(*BEHIND_SIZE)
        scale = ratio * target.scale * target.cutout.longer_side / cutout.longer_side
        placed.append(Placed(cutout, float(scale), scale_cutout(cutout.rgba, scale), (0, 0)))
    own_masks = [b.mask for b in placed]
    own_points = [np.argwhere(m) for m in own_masks]
    target_points = np.argwhere(amodal)
    in_front = amodal | np.logical_or.reduce(masks)
    for _ in range(PLACEMENT_TRIES):
        behind_masks = _pin_onto_target(rng, placed, own_masks, own_points, target_points, amodal.shape)
        if behind_masks is not None and _behind_ok(behind_masks, amodal, in_front):
            return placed, behind_masks
    return None


def _behind_ok(behind_masks: list[np.ndarray], amodal: np.ndarray, in_front: np.ndarray) -> bool:
    """Whether each object behind is partly hidden by the target and still mostly seen.

    `in_front` is everything drawn after the objects behind (target and occluders); objects
    behind are drawn in list order, so a later one may hide an earlier one too.
    """
    visible = visible_masks([*behind_masks, in_front])[:-1]
    for mask, seen in zip(behind_masks, visible):
        area = int(mask.sum())
        if (mask & amodal).sum() < MIN_BEHIND_COVERED * area or seen.sum() < MIN_BEHIND_VISIBLE * area:
            return False
    return True
