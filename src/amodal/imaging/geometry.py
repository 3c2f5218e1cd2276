"""Mask geometry shared by the stages: border contact, the seed's canvas and crop, built on
`frames.Region` (the library's one box type; this module imports only `frames`)."""

from __future__ import annotations

import math

import numpy as np

from amodal.imaging.frames import Region, crop

SIDES = ("top", "bottom", "left", "right")


def sides_touched(mask: np.ndarray, gap: int = 10) -> set[str]:
    """Image sides the mask comes within `gap` pixels of (the seed's border-touch test)."""
    box = Region.bounding(mask)
    if box is None:
        return set()
    h, w = mask.shape
    touched = set()
    if box.y0 <= gap:
        touched.add("top")
    if box.y1 - 1 >= h - gap:
        touched.add("bottom")
    if box.x0 <= gap:
        touched.add("left")
    if box.x1 - 1 >= w - gap:
        touched.add("right")
    return touched


def crop_region(visible: np.ndarray, scale: float = 6, buffer: int = 60, pad: int = 150, gap: int = 10):
    """The seed's inpainting crop: the visible mask's box on a canvas `scale` times the image
    (image centred), grown by `buffer`, padded by `pad` on the image sides the object touches,
    made square by growing towards the touched side (or both sides), clipped to the canvas.

    Returns (Region in image coordinates, sides touched). Raises ValueError on an empty mask.
    """
    h, w = visible.shape
    canvas_h, canvas_w = int(h * scale), int(w * scale)
    oy, ox = canvas_h // 2 - h // 2, canvas_w // 2 - w // 2
    box = Region.bounding(visible, (ox, oy))  # in canvas coordinates
    if box is None:
        raise ValueError("empty visible mask: no crop region")
    # The seed works with inclusive maxima, then slices [min:max) — kept so crops match it.
    ymin, xmin, ymax, xmax = box.y0, box.x0, box.y1 - 1, box.x1 - 1
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
    on_canvas = Region(r0, c0, r1, c1).within((canvas_h, canvas_w))
    return on_canvas.relative_to((ox, oy)), sides  # the image's top-left lies at (ox, oy)


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
