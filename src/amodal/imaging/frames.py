"""Placing arrays in frames and compositing RGBA: the one helper for it in the library.

Coordinates
-----------
An offset or a frame origin is (x, y) in image pixels: where an array's top-left pixel lies.
Shapes are numpy order (h, w). An array may lie partly or wholly outside a frame (a predicted
object reaches past the image border, a crop reaches past the canvas): only the overlap is
copied, the rest of the frame keeps its fill.

Every stage and metric that moves pixels between frames goes through `window` / `paste`
(`crop` is `paste` of an image-frame array into a `geometry.Region`), and every alpha blend
goes through `over`, so that the benchmark's scenes, the completion crops and the metrics
agree on where a pixel is and what colour a half-transparent pixel has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import numpy as np

if TYPE_CHECKING:
    from amodal.imaging.geometry import Region

Offset = tuple[int, int]
Shape = tuple[int, int]

# A pixel of an RGBA array is part of its object when its alpha exceeds this.
ALPHA_THRESHOLD = 127


def window(array_shape, offset: Offset, shape: Shape, origin: Offset = (0, 0)):
    """(slices in the frame, slices in the array) of the overlap of an array placed at `offset`
    with the frame of `shape` whose top-left is `origin`; None when they do not overlap."""
    x = int(offset[0]) - int(origin[0])
    y = int(offset[1]) - int(origin[1])
    h, w = array_shape[:2]
    height, width = shape[:2]
    fx0, fy0 = max(x, 0), max(y, 0)
    fx1, fy1 = min(x + w, width), min(y + h, height)
    if fx0 >= fx1 or fy0 >= fy1:
        return None
    return (slice(fy0, fy1), slice(fx0, fx1)), (slice(fy0 - y, fy1 - y), slice(fx0 - x, fx1 - x))


def paste(array: np.ndarray, offset: Offset, shape: Shape, origin: Offset = (0, 0), fill=0) -> np.ndarray:
    """`array` placed at `offset` on a canvas of `shape` filled with `fill`, whose top-left is
    `origin`; parts outside the canvas are cut off. Any number of channels; the array's dtype."""
    array = np.asarray(array)
    canvas = np.full(tuple(shape[:2]) + array.shape[2:], fill, dtype=array.dtype)
    overlap = window(array.shape, offset, shape, origin)
    if overlap is not None:
        inside, part = overlap
        canvas[inside] = array[part]
    return canvas


def crop(array: np.ndarray, region: "Region", fill=0) -> np.ndarray:
    """The pixels of `region` from an image-frame array; `fill` where the region leaves the image."""
    return paste(array, (0, 0), region.shape, (region.x0, region.y0), fill)


def placed_box(array: np.ndarray, offset: Offset) -> tuple[Offset, Shape]:
    """(offset, (h, w)) of an array placed at `offset`, for `union_frame`."""
    return (int(offset[0]), int(offset[1])), tuple(np.asarray(array).shape[:2])


def union_frame(*placed: tuple[Offset, Shape]) -> tuple[Offset, Shape]:
    """Smallest frame (origin (x, y), shape (h, w)) containing every (offset, (h, w)) box.

    Pass the image frame as ((0, 0), (H, W)) to include it.
    """
    if not placed:
        raise ValueError("union_frame needs at least one box")
    x0 = min(int(offset[0]) for offset, _ in placed)
    y0 = min(int(offset[1]) for offset, _ in placed)
    x1 = max(int(offset[0]) + int(shape[1]) for offset, shape in placed)
    y1 = max(int(offset[1]) + int(shape[0]) for offset, shape in placed)
    return (x0, y0), (y1 - y0, x1 - x0)


def padded_box_frame(mask: np.ndarray, origin: Offset, pad: int) -> tuple[Offset, Shape] | None:
    """Frame around the bounding box of a mask whose top-left lies at `origin`, grown by `pad`
    on every side; None for an empty mask."""
    ys, xs = np.nonzero(mask)
    if ys.size == 0:
        return None
    x0 = int(xs.min()) + int(origin[0]) - pad
    y0 = int(ys.min()) + int(origin[1]) - pad
    h = int(ys.max() - ys.min()) + 1 + 2 * pad
    w = int(xs.max() - xs.min()) + 1 + 2 * pad
    return (x0, y0), (h, w)


def alpha_mask(rgba: np.ndarray) -> np.ndarray:
    """The object's pixels of an RGBA array: alpha > ALPHA_THRESHOLD."""
    return np.asarray(rgba)[..., 3] > ALPHA_THRESHOLD


def over(rgba: np.ndarray, under, dtype=np.float64) -> np.ndarray:
    """RGBA over `under` (an RGB array of the same height and width, or one colour), unrounded,
    computed in `dtype`: alpha 255 gives exactly the RGBA's colour, alpha 0 exactly `under`."""
    rgba = np.asarray(rgba).astype(dtype)
    alpha = rgba[..., 3:4] / 255.0
    return rgba[..., :3] * alpha + np.asarray(under, dtype=dtype) * (1.0 - alpha)


def composite(rgba: np.ndarray, background: Sequence[int]) -> np.ndarray:
    """RGBA over a flat colour, as float64 RGB in [0, 255] (no rounding, so errors stay exact)."""
    return over(rgba, background)


def square(rgb: np.ndarray, colour: Sequence[int]) -> np.ndarray:
    """`rgb` centred on a square canvas of `colour` whose side is its longer side (the extra
    row or column, when the difference is odd, goes to the bottom or right)."""
    rgb = np.asarray(rgb)
    h, w = rgb.shape[:2]
    side = max(h, w)
    canvas = np.empty((side, side, rgb.shape[2]), dtype=rgb.dtype)
    canvas[...] = np.asarray(colour, dtype=rgb.dtype)
    y, x = (side - h) // 2, (side - w) // 2
    canvas[y : y + h, x : x + w] = rgb
    return canvas
