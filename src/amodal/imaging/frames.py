"""Placing arrays in frames and compositing RGBA: the one helper for it in the library, and
its one box type, `Region`.

Coordinates
-----------
A `Region` is a box of image pixels, rows y0..y1 and columns x0..x1, end-exclusive; it may reach
past the image on any side. An offset or a frame origin is (x, y) in image pixels: where an
array's top-left pixel lies. Shapes are numpy order (h, w). An array may lie partly or wholly
outside a frame (a predicted object reaches past the image border, a crop reaches past the
canvas): only the overlap is copied, the rest of the frame keeps its fill.

Every stage and metric that moves pixels between frames goes through `window` / `paste`
(`crop` is `paste` of an image-frame array into a `Region`), and every alpha blend goes
through `over`, so that the benchmark's scenes, the completion crops and the metrics agree on
where a pixel is and what colour a half-transparent pixel has.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

Offset = tuple[int, int]
Shape = tuple[int, int]

# A pixel of an RGBA array is part of its object when its alpha exceeds this.
ALPHA_THRESHOLD = 127


@dataclass(frozen=True)
class Region:
    """A box in image coordinates: rows y0..y1, columns x0..x1, end-exclusive; it may reach
    past the image on any side."""

    y0: int
    x0: int
    y1: int
    x1: int

    @classmethod
    def at(cls, origin: Offset, shape) -> Region:
        """The box of (h, w) = `shape[:2]` whose top-left pixel is `origin` (x, y): the frame of
        an array placed there (pass `array.shape`), or an image's frame with origin (0, 0)."""
        x, y = int(origin[0]), int(origin[1])
        return cls(y, x, y + int(shape[0]), x + int(shape[1]))

    @classmethod
    def bounding(cls, mask, origin: Offset = (0, 0)) -> Region | None:
        """The box of the non-zero pixels of a mask whose top-left pixel lies at `origin`;
        None for an empty mask."""
        ys, xs = np.nonzero(mask)
        if ys.size == 0:
            return None
        x, y = int(origin[0]), int(origin[1])
        return cls(int(ys.min()) + y, int(xs.min()) + x, int(ys.max()) + 1 + y, int(xs.max()) + 1 + x)

    @property
    def origin(self) -> Offset:
        """(x, y) of the top-left pixel."""
        return self.x0, self.y0

    @property
    def shape(self) -> Shape:
        return self.y1 - self.y0, self.x1 - self.x0

    @property
    def slices(self) -> tuple[slice, slice]:
        """(rows, columns) indexing the box in an array whose top-left pixel is (0, 0)."""
        return slice(self.y0, self.y1), slice(self.x0, self.x1)

    @property
    def xyxy(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1), the detectors' order."""
        return self.x0, self.y0, self.x1, self.y1

    def relative_to(self, origin: Offset) -> Region:
        """The same pixels in a frame whose top-left pixel is `origin` (x, y)."""
        x, y = int(origin[0]), int(origin[1])
        return Region(self.y0 - y, self.x0 - x, self.y1 - y, self.x1 - x)

    def grown(self, pad: int) -> Region:
        """`pad` pixels more on every side."""
        return Region(self.y0 - pad, self.x0 - pad, self.y1 + pad, self.x1 + pad)

    def union(self, *others: Region) -> Region:
        """The smallest box containing this one and `others`."""
        boxes = (self, *others)
        return Region(
            min(b.y0 for b in boxes), min(b.x0 for b in boxes), max(b.y1 for b in boxes), max(b.x1 for b in boxes)
        )

    def intersection(self, other: Region) -> Region | None:
        """The pixels in both boxes; None when they share none."""
        y0, x0 = max(self.y0, other.y0), max(self.x0, other.x0)
        y1, x1 = min(self.y1, other.y1), min(self.x1, other.x1)
        if y0 >= y1 or x0 >= x1:
            return None
        return Region(y0, x0, y1, x1)

    def within(self, shape) -> Region | None:
        """The part inside a frame of (h, w) = `shape[:2]` with origin (0, 0) (the image, a
        canvas); None when there is none."""
        return self.intersection(Region.at((0, 0), shape))

    def as_dict(self) -> dict:
        """{"y0", "x0", "y1", "x1"}, the form records keep (`Region(**d)` reads it back)."""
        return {"y0": self.y0, "x0": self.x0, "y1": self.y1, "x1": self.x1}


def _frame(frame) -> Region:
    """A frame given as a Region, or as the (h, w) shape of an image frame with origin (0, 0)."""
    return frame if isinstance(frame, Region) else Region.at((0, 0), frame)


def window(array_shape, offset: Offset, frame):
    """(slices in the frame, slices in the array) of the overlap of an array of `array_shape`
    placed at `offset` with `frame` (a Region, or an image's (h, w) shape); None when they do
    not overlap."""
    frame = _frame(frame)
    overlap = Region.at(offset, array_shape).intersection(frame)
    if overlap is None:
        return None
    return overlap.relative_to(frame.origin).slices, overlap.relative_to(offset).slices


def paste(array: np.ndarray, offset: Offset, frame, fill=0) -> np.ndarray:
    """`array` placed at `offset` on a canvas covering `frame` (a Region, or an image's (h, w)
    shape) filled with `fill`; parts outside the canvas are cut off. Any number of channels;
    the array's dtype."""
    array = np.asarray(array)
    frame = _frame(frame)
    canvas = np.full(frame.shape + array.shape[2:], fill, dtype=array.dtype)
    overlap = window(array.shape, offset, frame)
    if overlap is not None:
        inside, part = overlap
        canvas[inside] = array[part]
    return canvas


def crop(array: np.ndarray, region: Region, fill=0) -> np.ndarray:
    """The pixels of `region` from an image-frame array; `fill` where the region leaves the image."""
    return paste(array, (0, 0), region, fill)


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
