"""Metrics of amodal completions, one module per family; each definition is written once.

    masks        visible and amodal IoU, from pixel counts
    appearance   PSNR and SSIM of the hidden region against the true object; SSIM of the
                 output's visible part against the input; the image pairs the model metrics see
    order        occlusion-order accuracy, from confusion counts
    model_based  CLIP score, LPIPS and feature similarity (networks from `amodal.models`)
    definitions  names, constants and the text of every definition with its settings filled in

Each family turns arrays into raw quantities (counts, sums, cosines) that an instance's record
keeps, so that `amodal.tables.aggregate` can recompute every mean and pooled value without
rerunning. Nothing here reads files or imports a stage; `amodal.stages.evaluate` (the stage) calls
these on one instance's files.

A metric that could not be computed (its model weights are absent, it is turned off) is
`missing(reason)`: never a number, always with the reason.
"""

from __future__ import annotations


def missing(reason: str) -> dict:
    """A metric that could not be computed and why."""
    return {"value": None, "missing": reason}


def is_missing(entry) -> bool:
    return isinstance(entry, dict) and entry.get("missing") is not None
