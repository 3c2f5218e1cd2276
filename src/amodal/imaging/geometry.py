"""Mask geometry shared by the stages: boxes, border contact, the seed's canvas and crop."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from amodal.imaging.frames import crop

SIDES = ("top", "bottom", "left", "right")


def bbox(mask: np.ndarray):
    """(y0, x0, y1, x1) of the non-zero pixels, end-exclusive; None for an empty mask."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return None
    return int(ys.min()), int(xs.min()), int(ys.max()) + 1, int(xs.max()) + 1


def sides_touched(mask: np.ndarray, gap: int = 10) -> set[str]:
    """Image sides the mask comes within `gap` pixels of (the seed's border-touch test)."""
    box = bbox(mask)
    if box is None:
        return set()
    y0, x0, y1, x1 = box
    h, w = mask.shape
    touched = set()
    if y0 <= gap:
        touched.add("top")
    if y1 - 1 >= h - gap:
        touched.add("bottom")
    if x0 <= gap:
        touched.add("left")
    if x1 - 1 >= w - gap:
        touched.add("right")
    return touched


@dataclass(frozen=True)
class Region:
    """A rectangle in image coordinates, end-exclusive; may reach past the image on any side."""

    y0: int
    x0: int
    y1: int
    x1: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.y1 - self.y0, self.x1 - self.x0

    def as_dict(self) -> dict:
        return {"y0": self.y0, "x0": self.x0, "y1": self.y1, "x1": self.x1}


def crop_region(visible: np.ndarray, scale: float = 6, buffer: int = 60, pad: int = 150, gap: int = 10):
    """The seed's inpainting crop: the visible mask's box on a canvas `scale` times the image
    (image centred), grown by `buffer`, padded by `pad` on the image sides the object touches,
    made square by growing towards the touched side (or both sides), clipped to the canvas.

    Returns (Region in image coordinates, sides touched). Raises ValueError on an empty mask.
    """
    box = bbox(visible)
    if box is None:
        raise ValueError("empty visible mask: no crop region")
    h, w = visible.shape
    canvas_h, canvas_w = int(h * scale), int(w * scale)
    oy, ox = canvas_h // 2 - h // 2, canvas_w // 2 - w // 2
    # The seed works with inclusive maxima, then slices [min:max) — kept so crops match it.
    ymin, xmin, ymax, xmax = box[0] + oy, box[1] + ox, box[2] - 1 + oy, box[3] - 1 + ox
    r0, r1 = max(0, ymin - buffer), min(canvas_h, ymax + buffer)
    c0, c1 = max(0, xmin - buffer), min(canvas_w, xmax + buffer)
    sides = sides_touched(visible, gap)
    r0 -= pad if "top" in sides else 0
    r1 += pad if "bottom" in sides else 0
    c0 -= pad if "left" in sides else 0
    c1 += pad if "right" in sides else 0
    size = max(r1 - r0, c1 - c0)
    c0, c1 = _grow_to(c0, c1, size, "left" in sides, "right" in sides)
    r0, r1 = _grow_to(r0, r1, size, "top" in sides, "bottom" in sides)
    r0, r1 = max(0, r0), min(canvas_h, r1)
    c0, c1 = max(0, c0), min(canvas_w, c1)
    return Region(r0 - oy, c0 - ox, r1 - oy, c1 - ox), sides


def _grow_to(lo: int, hi: int, size: int, low_side: bool, high_side: bool) -> tuple[int, int]:
    diff = size - (hi - lo)
    if diff <= 0:
        return lo, hi
    if low_side:
        return lo - diff, hi
    if high_side:
        return lo, hi + diff
    return lo - math.floor(diff / 2), hi + math.ceil(diff / 2)


def frame_mask(image_shape, region: Region) -> np.ndarray:
    """True where the region lies inside the image."""
    return crop(np.ones(image_shape[:2], dtype=bool), region, False)
