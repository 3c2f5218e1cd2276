"""Appearance metrics without a network: PSNR and SSIM, and the image pairs every appearance
metric (these and the model-based ones) compares.

Two pairs, each in a frame of its own (see `amodal.imaging.frames` for coordinates):

- the **hidden pair**: the prediction and the true whole object, both composited on the
  background colour, around the hidden region (GT amodal minus GT visible, found in the whole
  object's own frame so that parts past the image border count as hidden);
- the **visible pair**: the input photo and the output, around the predicted visible mask,
  every pixel outside that mask set to the background colour on both sides (the output's
  completed part next to the visible region must not count against it, and the input has no
  such part to compare).

A record keeps sums (squared error, SSIM over the scored pixels) and pixel counts, so a
dataset's value can be pooled over all pixels as well as averaged over instances.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from amodal.imaging.frames import Offset, Region, alpha_mask, composite, paste
from amodal.metrics.definitions import BACKGROUND, PSNR_CAP, SSIM_PAD


@dataclass
class Pair:
    """Two float64 RGB images of one frame and the pixels that are scored (bool)."""

    reference: np.ndarray
    test: np.ndarray
    region: np.ndarray

    @property
    def pixels(self) -> int:
        return int(np.count_nonzero(self.region))


def hidden_pair(
    pred_rgba,
    pred_offset: Offset,
    gt_rgba,
    gt_offset: Offset,
    visible_mask,
    background: Sequence[int],
    pad: int,
    outside_flat: bool = False,
) -> Pair | None:
    """Truth (reference) and prediction (test) on the hidden region's bounding box padded by
    `pad`; `outside_flat` sets every pixel outside the hidden region to the background colour on
    both sides. None when nothing is hidden."""
    gt_rgba = np.asarray(gt_rgba)
    visible_in_gt = paste(np.asarray(visible_mask, dtype=bool), (0, 0), Region.at(gt_offset, gt_rgba.shape))
    hidden = alpha_mask(gt_rgba) & ~visible_in_gt
    box = Region.bounding(hidden, gt_offset)
    if box is None:
        return None
    # Only a padded box around the hidden region is scored, so the cost does not depend on
    # where the frame lies; everything outside both objects is background on both sides.
    frame = box.grown(pad)
    region = paste(hidden, gt_offset, frame)
    truth = composite(paste(gt_rgba, gt_offset, frame), background)
    prediction = composite(paste(pred_rgba, pred_offset, frame), background)
    if outside_flat:
        _flatten_outside(region, background, truth, prediction)
    return Pair(truth, prediction, region)


def visible_pair(
    image, visible_mask, pred_rgba, pred_offset: Offset, background: Sequence[int], pad: int
) -> Pair | None:
    """Input photo (reference) and output (test) on the visible mask's bounding box padded by
    `pad`, each keeping only the visible pixels; None for an empty mask."""
    visible = np.asarray(visible_mask, dtype=bool)
    box = Region.bounding(visible)
    if box is None:
        return None
    frame = box.grown(pad)
    region = paste(visible, (0, 0), frame)
    opaque = np.full(visible.shape, 255, np.uint8)
    image_rgba = np.dstack([np.asarray(image, dtype=np.uint8), opaque])
    source = composite(paste(image_rgba, (0, 0), frame), background)
    output = composite(paste(pred_rgba, pred_offset, frame), background)
    _flatten_outside(region, background, source, output)
    return Pair(source, output, region)


def _flatten_outside(region: np.ndarray, background: Sequence[int], *images: np.ndarray) -> None:
    flat = np.asarray(background, dtype=np.float64)
    for image in images:
        image[~region] = flat


def ssim_map(reference: np.ndarray, test: np.ndarray) -> np.ndarray:
    """Per-pixel SSIM of two float RGB images (skimage, 7x7 window, data range 255), averaged
    over the channels."""
    from skimage.metrics import structural_similarity  # imports scipy.stats: 0.5 s, only where scored

    _, full = structural_similarity(reference, test, channel_axis=-1, data_range=255, full=True)
    return full.mean(axis=-1)


def hidden_region_quality(
    pred_rgba, pred_offset: Offset, gt_rgba, gt_offset: Offset, visible_mask, background: Sequence[int] = BACKGROUND
) -> dict:
    """Appearance error over the hidden part of the object (GT amodal minus GT visible)."""
    pair = hidden_pair(pred_rgba, pred_offset, gt_rgba, gt_offset, visible_mask, background, SSIM_PAD)
    if pair is None:
        return {"hidden_pixels": 0, "sse": 0.0, "psnr": None, "ssim_sum": 0.0, "ssim": None}
    region = pair.region
    sse = float(np.sum((pair.test[region] - pair.reference[region]) ** 2))
    ssim_sum = float(ssim_map(pair.reference, pair.test)[region].sum())
    return {
        "hidden_pixels": pair.pixels,
        "sse": sse,
        "psnr": _psnr(pair.reference[region], pair.test[region], sse),
        "ssim_sum": ssim_sum,
        "ssim": ssim_sum / pair.pixels,
    }


def _psnr(reference: np.ndarray, test: np.ndarray, sse: float) -> float:
    if sse == 0:
        return PSNR_CAP  # a perfect match: skimage would return inf, which JSON cannot hold
    from skimage.metrics import peak_signal_noise_ratio

    return min(float(peak_signal_noise_ratio(reference, test, data_range=255)), PSNR_CAP)


def psnr_from_sse(sse: float, values: int) -> float | None:
    """PSNR (data range 255) from a total squared error over `values` channel values, capped."""
    if values == 0:
        return None
    if sse == 0:
        return PSNR_CAP
    return min(10.0 * math.log10(255.0**2 / (sse / values)), PSNR_CAP)


def visible_consistency(
    image, visible_mask, pred_rgba, pred_offset: Offset, background: Sequence[int] = BACKGROUND
) -> dict:
    """Reference-free: does the output keep the visible part of the input unchanged? Also counts
    the visible pixels whose output colour differs from the input's (`changed_pixels`): 0 means
    the output copied them, and SSIM 1 is then no finding."""
    pair = visible_pair(image, visible_mask, pred_rgba, pred_offset, background, SSIM_PAD)
    if pair is None:
        return {"visible_pixels": 0, "changed_pixels": 0, "ssim_sum": 0.0, "ssim": None}
    region = pair.region
    changed = np.any(pair.reference[region] != pair.test[region], axis=-1)
    ssim_sum = float(ssim_map(pair.reference, pair.test)[region].sum())
    return {
        "visible_pixels": pair.pixels,
        "changed_pixels": int(np.count_nonzero(changed)),
        "ssim_sum": ssim_sum,
        "ssim": ssim_sum / pair.pixels,
    }
