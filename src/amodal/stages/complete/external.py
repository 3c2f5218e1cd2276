"""Completion backend `external`: another method's saved outputs, scored as an experiment.

pix2gestalt, PD-MC and others publish code but no evaluation harness. An experiment with
`complete: {backend: external, external: {dir, pattern, placement}}` reads, per instance, one
RGBA file that the other method wrote (exported into one folder, docs/external.md) and turns it
into what the completion stage writes for any backend (`completion.png`, `amodal_mask.png`,
`complete.json` with the frame it lies in), so the rgba and evaluate stages, and every metric,
run unchanged.

- `placement: image`: the file has the instance's image size (height and width of the working
  image every stage sees); the object lies where it lies in the image.
- `placement: crop`: the file has any size; a JSON file beside it (`placement_pattern`) holds
  `{"x": int, "y": int}`, its top-left pixel in image coordinates, which may be negative or past
  the image (an amodal completion reaches past the frame).

The alpha channel is the amodal mask: a pixel is the object's where alpha > 127
(`frames.ALPHA_THRESHOLD`, the threshold every metric applies to every RGBA); its colour is the
appearance. A missing file is the method's `no_output` (counted in the failure rate, as the
paper counts a method that produced nothing), as is a file with no object pixel; a file that is
there but cannot be used (unreadable, no alpha, wrong size, a missing or malformed placement
file) is `bad_input`. Either fails only its instance, with a reason naming the instance and
the file.

Nothing else of the pipeline is needed: the experiment plans ground (its visible mask is where
the visible-region metrics compare input and output, the same pixels for every method scored
with the same ground settings), complete, rgba and evaluate (`experiments.upstream`).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from amodal.errors import InstanceError
from amodal.imaging import io
from amodal.imaging.frames import ALPHA_THRESHOLD, Region
from amodal.stages.complete.loop import Completion

# PIL modes that carry an alpha channel (a palette image may carry one in its transparency).
ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")


class ExternalOutputMissing(InstanceError):
    """The method left no output for the instance: a failure of the method (`no_output`)."""

    details = {"failure": "no_output"}


class BadExternalOutput(InstanceError):
    """The method's output for the instance is there but cannot be scored (`bad_input`)."""

    details = {"failure": "bad_input"}


# ---------------------------------------------------------------- which files


def external_files(spec: dict, dataset: str, instance: str) -> dict[str, str | None]:
    """The output file of one instance and, for `placement: crop`, its placement file: `dir`
    joined with the patterns, `{instance}` and `{dataset}` filled in."""
    params = spec["external"]
    folder = Path(params["dir"])

    def named(pattern: str) -> str:
        try:
            return str(folder / pattern.format(instance=instance, dataset=dataset))
        except (KeyError, IndexError, ValueError) as error:
            raise ValueError(
                f"complete.external pattern {pattern!r}: only {{instance}} and {{dataset}} can be filled in ({error!r})"
            ) from None

    placement = named(params["placement_pattern"]) if params["placement"] == "crop" else None
    return {"image": named(params["pattern"]), "placement": placement}


def _stat(path: str | None) -> dict | None:
    if path is None:
        return None
    try:
        found = os.stat(path)
    except OSError:
        return {"path": path, "missing": True}
    return {"path": path, "size": found.st_size, "mtime_ns": found.st_mtime_ns}


def external_fingerprint(spec: dict, dataset: str, instance: str) -> dict:
    """Each file the instance reads, with its size and modification time (or `missing`). The
    workflow puts it among the job's parameters, so replacing, adding or removing one
    instance's file reruns that instance's shard and what follows from it, and nothing else."""
    return {name: _stat(path) for name, path in external_files(spec, dataset, instance).items()}


def external_item_fields(spec: dict, dataset: str, instance: str) -> dict:
    """What each instance's item carries in the job (its declaration's `item_fields`): the file
    it reads, with its size and mtime, so a replaced file changes the job's params and
    Snakemake reruns its shard (docs/external.md)."""
    return {"external": external_fingerprint(spec, dataset, instance)}


def external_inputs(spec: dict, dataset: str, members: list[str]) -> list[str]:
    """The files of `members` that exist now (the job's inputs; a missing one is that
    instance's `no_output`, not a reason to stop the workflow)."""
    return [
        path
        for instance in members
        for path in external_files(spec, dataset, instance).values()
        if path is not None and os.path.isfile(path)
    ]


# ---------------------------------------------------------------- reading


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_output_rgba(path: str, instance: str) -> np.ndarray:
    """The output as uint8 RGBA (h, w, 4); ExternalOutputMissing when there is no file,
    BadExternalOutput when it is not an image with an alpha channel."""
    from PIL import Image

    if not os.path.lexists(path):
        raise ExternalOutputMissing(instance, path, "the external method's output file is not there (no output)")
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode not in ALPHA_MODES and not (im.mode == "P" and "transparency" in im.info):
                raise BadExternalOutput(
                    instance,
                    path,
                    f"the external output has no alpha channel (PIL mode {im.mode}); "
                    "save it as RGBA with the object's amodal mask in the alpha",
                )
            return np.asarray(im.convert("RGBA")).copy()
    except BadExternalOutput:
        raise
    except Image.DecompressionBombError as error:
        raise BadExternalOutput(instance, path, f"the external output is too large to read safely ({error})") from None
    except (OSError, ValueError, SyntaxError) as error:  # PIL's errors for truncated or malformed files
        raise BadExternalOutput(instance, path, f"the external output cannot be read as an image ({error})") from None


def read_offset(path: str, instance: str) -> tuple[int, int]:
    """(x, y) of a crop output's top-left pixel in image coordinates, from its placement file."""
    try:
        record = io.read_json(path)
    except FileNotFoundError:
        raise BadExternalOutput(
            instance,
            path,
            'placement file not found; a crop output needs {"x": int, "y": int} beside it (placement: crop)',
        ) from None
    except (OSError, ValueError) as error:
        raise BadExternalOutput(instance, path, f"placement file cannot be read as JSON ({error})") from None
    values = [record.get(axis) for axis in ("x", "y")] if isinstance(record, dict) else [None, None]
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer() for v in values):
        raise BadExternalOutput(
            instance,
            path,
            f'placement file must hold integer "x" and "y" (the crop\'s top-left '
            f"pixel in image coordinates), got {record!r}",
        )
    return int(values[0]), int(values[1])


def read_external(files: dict, placement: str, image_shape, instance: str) -> tuple[Region, np.ndarray, dict]:
    """(the frame the output lies in, image coordinates; the RGBA; what was read) for one
    instance. Raises ExternalOutputMissing or BadExternalOutput."""
    path = files["image"]
    rgba = read_output_rgba(path, instance)
    h, w = rgba.shape[:2]
    height, width = image_shape[:2]
    info = {"file": path, "sha256": _sha256(path), "placement": placement, "size_hw": [h, w]}
    if placement == "image":
        if (h, w) != (height, width):
            raise BadExternalOutput(
                instance,
                path,
                f"the external output is {w}x{h} px but the instance's image is "
                f"{width}x{height} px (placement: image needs the image's size; "
                "other frames need placement: crop and a placement file)",
            )
        x, y = 0, 0
    elif placement == "crop":
        x, y = read_offset(files["placement"], instance)
        info.update(placement_file=files["placement"], placement_sha256=_sha256(files["placement"]))
    else:
        raise ValueError(f"complete.external.placement must be image or crop, got {placement!r}")
    alpha = rgba[..., 3]
    info.update(offset_xy=[x, y], soft_alpha_pixels=int(np.count_nonzero((alpha > 0) & (alpha < 255))))
    return Region(y, x, y + h, x + w), rgba, info


def complete_external(spec: dict, files: dict, image_shape, instance: str) -> tuple[Completion, dict]:
    """The instance's Completion (status `completed`: the output as RGBA and its amodal mask,
    alpha > 127, in the output's frame) and what was read, for `complete.json`."""
    region, rgba, info = read_external(files, spec["external"]["placement"], image_shape, instance)
    amodal = rgba[..., 3] > ALPHA_THRESHOLD
    if not amodal.any():
        raise ExternalOutputMissing(
            instance,
            files["image"],
            f"the external output has no object pixel (alpha > {ALPHA_THRESHOLD} nowhere): no output",
        )
    info["amodal_pixels"] = int(amodal.sum())
    # the completion keeps the output's alpha: rgba `as_is` delivers it exactly, soft edges included
    return Completion("completed", region, rgba, amodal, stop_reason="external_output"), info
