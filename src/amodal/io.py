"""File formats shared by every stage: PNG masks (0/255), RGBA PNG, JSON records, NPZ mask stacks.

Every writer is atomic: it writes a temporary file in the destination folder and renames it,
so a killed job never leaves a half-written output that a rerun would trust.
"""

from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path, record) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(record, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def read_json(path):
    return json.loads(Path(path).read_text())


def read_rgb(path) -> np.ndarray:
    """An image file as uint8 RGB (H, W, 3)."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).copy()


def read_instance_image(path, instance: str) -> np.ndarray:
    """An instance's photo as RGB; a missing or unreadable file is that instance's InstanceError."""
    from . import InstanceError

    try:
        return read_rgb(path)
    except FileNotFoundError:
        raise InstanceError(instance, path, "image not found") from None
    except OSError as error:
        raise InstanceError(instance, path, f"image cannot be read ({error})") from None


def read_rgba(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGBA")).copy()


def write_image(path, array: np.ndarray) -> None:
    """Write uint8 RGB or RGBA (H, W, 3|4) as PNG/JPEG by the file's suffix."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise TypeError(f"image must be uint8, got {array.dtype}")
    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format=_format_of(path))


def read_mask(path) -> np.ndarray:
    """A single-channel mask PNG as bool (H, W); any non-zero pixel is inside."""
    with Image.open(path) as im:
        return np.asarray(im.convert("L")) > 0


def write_mask(path, mask: np.ndarray) -> None:
    """Write a bool mask as a single-channel PNG with values 0 and 255."""
    mask = np.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {mask.shape}")
    with atomic_path(path) as tmp:
        Image.fromarray((mask > 0).astype(np.uint8) * 255, mode="L").save(tmp, format="PNG")


def write_mask_stack(path, masks: np.ndarray) -> None:
    """Write an (N, H, W) bool stack as compressed NPZ under the key `masks`."""
    masks = np.asarray(masks, dtype=bool)
    if masks.ndim != 3:
        raise ValueError(f"mask stack must be 3-D, got shape {masks.shape}")
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(handle, masks=masks)


def read_mask_stack(path) -> np.ndarray:
    with np.load(path, allow_pickle=False) as data:
        return data["masks"].astype(bool)


def _format_of(path) -> str:
    suffix = Path(path).suffix.lower()
    return {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}.get(suffix, "PNG")
