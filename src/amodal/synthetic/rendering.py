"""Pixels of a scene: a cutout resized, a background cropped to the square frame, layers
alpha-blended in painter's order, and the visible part of each mask under the ones drawn later.
Deterministic: only `cover_crop` draws from the generator handed in (the crop position).
"""

from __future__ import annotations

import cv2
import numpy as np

from amodal.imaging.frames import over, window


def scale_cutout(rgba: np.ndarray, scale: float) -> np.ndarray:
    """The cutout file resized by `scale` (uint8 RGBA); deterministic, so tests can recompute it.

    Resampling is done on premultiplied colour: otherwise the colour of fully transparent
    pixels (often black) bleeds into the soft edge and leaves a dark fringe.
    """
    h, w = rgba.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    alpha = rgba[..., 3:4].astype(np.float32)
    premultiplied = np.concatenate([rgba[..., :3].astype(np.float32) * (alpha / 255.0), alpha], axis=2)
    resized = cv2.resize(premultiplied, size, interpolation=interpolation)
    out_alpha = np.clip(np.rint(resized[..., 3]), 0, 255)
    coverage = resized[..., 3:4] / 255.0
    colour = np.divide(resized[..., :3], coverage, out=np.zeros_like(resized[..., :3]), where=coverage > 1e-6)
    colour = np.clip(np.rint(colour), 0, 255)
    colour[out_alpha == 0] = 0  # colour under zero alpha is undefined; keep files clean
    return np.dstack([colour, out_alpha]).astype(np.uint8)


def composite(canvas: np.ndarray, layers: list[tuple[np.ndarray, tuple[int, int]]]) -> np.ndarray:
    """Alpha-blend the layers, (RGBA, (x, y) of its top-left corner), over the canvas in painter's
    order (later is in front)."""
    image = canvas.astype(np.float32)
    for rgba, offset in layers:
        overlap = window(rgba.shape, offset, image.shape)
        if overlap is not None:
            inside, part = overlap
            image[inside] = over(rgba[part], image[inside], np.float32)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def cover_crop(rgb: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Resize so the shorter side is `size`, then crop a random size x size square."""
    h, w = rgb.shape[:2]
    scale = size / min(h, w)
    new_w, new_h = max(size, round(w * scale)), max(size, round(h * scale))
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=interpolation)
    x = int(rng.integers(new_w - size + 1))
    y = int(rng.integers(new_h - size + 1))
    return np.ascontiguousarray(resized[y : y + size, x : x + size])


def visible_masks(masks: list[np.ndarray]) -> list[np.ndarray]:
    """Each mask minus every mask drawn after it (painter's order)."""
    visible = []
    in_front = np.zeros_like(masks[0])
    for mask in reversed(masks):
        visible.append(mask & ~in_front)
        in_front = in_front | mask
    return visible[::-1]
