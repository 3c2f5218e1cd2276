"""The paper's model-based metrics: CLIP score, LPIPS and feature similarity.

Each takes a loaded network (from the job's `ModelCache`, `amodal.models.cache`: a `ClipScorer`, an
`Lpips`, or for feature similarity the configured image encoder: CLIP's, DINOv2 or ResNet-50,
`amodal.models.features`) and the arrays of one instance, and returns the raw quantity with the value:

    clip_score           {"cosine", "value" = 100 x max(cosine, 0), "text"}
    feature_similarity   {"cosine", "value" = cosine}
    lpips, hidden_lpips  {"value"}

The images are the pairs of `amodal.metrics.appearance` (visible pair for LPIPS and feature
similarity, hidden pair for hidden LPIPS) and, for the CLIP score, the output composited on the
background over its own extent. Every image is padded to a square with the background colour
first (CLIP's preprocessing would otherwise crop the object's ends away, and LPIPS sees every
object at one scale); LPIPS then resizes the square to its configured size, CLIP and the other
image encoders to their own input size. The definitions, word for word, are `amodal.metrics.definitions`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from amodal.imaging.frames import composite, square
from amodal.metrics.appearance import Pair


def to_uint8(image: np.ndarray) -> np.ndarray:
    """A float RGB composite rounded to 8 bits (what CLIP's PIL preprocessing takes)."""
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def resized_square(image: np.ndarray, background: Sequence[int], size: int) -> np.ndarray:
    """`image` padded to a square with the background colour, then resized to size x size
    (area interpolation when shrinking, bilinear when enlarging; float32)."""
    import cv2

    squared = square(np.asarray(image, dtype=np.float32), background)
    side = squared.shape[0]
    if side == size:
        return squared
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(squared, (size, size), interpolation=interpolation)


def clip_score(scorer, rgba: np.ndarray, text: str, background: Sequence[int]) -> dict:
    """100 x max(cos, 0) between the RGBA composited on the background (squared) and `text`."""
    image = to_uint8(square(composite(rgba, background), background))
    cosine = float(scorer.cosine(image, [text])[0])
    return {"cosine": cosine, "value": 100.0 * max(cosine, 0.0), "text": text}


def feature_similarity(encoder, pair: Pair, background: Sequence[int]) -> dict:
    """Cosine of the image embeddings of the pair's two images (each squared); `encoder` is any
    network with `image_embeddings` (L2-normalised rows)."""
    first, second = encoder.image_embeddings(
        [to_uint8(square(image, background)) for image in (pair.reference, pair.test)]
    )
    cosine = float(np.dot(first, second))
    return {"cosine": cosine, "value": cosine}


def lpips(network, pair: Pair, background: Sequence[int], size: int) -> dict:
    """LPIPS distance of the pair's two images, each squared and resized to `size`."""
    first, second = (resized_square(image, background, size) for image in (pair.reference, pair.test))
    return {"value": network.distance(first, second)}
