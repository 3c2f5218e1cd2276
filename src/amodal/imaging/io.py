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
from PIL import Image, ImageOps


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


# zlib level of the PNG images written (PIL's default is 6). The pixels are the same at every
# level; at 1 a 900 x 900 photo crop is written 3x faster (68 against 227 ms on the 2-core CPU
# machine) for a file 14% larger, and the completion loop writes two per instance and pass
# (benchmarks/png_write.py, docs/PERFORMANCE.md). Masks keep the default: 2-4 ms either way.
PNG_IMAGE_LEVEL = 1
_WIDE_INTEGER_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I")
_ALPHA_MODES = ("RGBA", "RGBa", "LA", "La", "PA")


def upright_rgb8(im: Image.Image) -> np.ndarray:
    """An opened image as the upright 8-bit RGB array every stage works on (H, W, 3):

    - EXIF orientation applied (a phone photo stored sideways comes out as it is shown);
    - integer images wider than 8 bits (16-bit PNG/TIFF, PIL modes I;16* and I) scaled from
      0..65535 to 0..255 (v / 257, rounded; above 65535 saturates), not clipped;
    - float images (mode F): values in 0..1 when their maximum is at most 1, else 0..255;
    - alpha dropped, colour kept, as the seed's `convert("RGB")` does (transparent pixels keep
      the colour stored under them); palette, grey, binary, CMYK and YCbCr through PIL.
    """
    im = ImageOps.exif_transpose(im)
    if im.mode in _WIDE_INTEGER_MODES or im.mode == "F":
        values = np.asarray(im, dtype=np.float64)
        if im.mode == "F":
            values = values * 255.0 if np.nanmax(values, initial=0.0) <= 1.0 else values
        else:
            values = values / 257.0
        grey = np.clip(np.rint(np.nan_to_num(values)), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=2)
    if im.mode in _ALPHA_MODES or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
    return np.asarray(im.convert("RGB")).copy()


def read_rgb(path) -> np.ndarray:
    """An image file as upright uint8 RGB (H, W, 3): see `upright_rgb8` for the rule."""
    with Image.open(path) as im:
        return upright_rgb8(im)


def read_instance_image(path, instance: str) -> np.ndarray:
    """An instance's photo as RGB; a missing or unreadable file is that instance's InstanceError."""
    from amodal.errors import InstanceError

    try:
        return read_rgb(path)
    except FileNotFoundError:
        raise InstanceError(instance, path, "image not found") from None
    except Image.DecompressionBombError as error:
        raise InstanceError(instance, path, f"image too large to read safely ({error})") from None
    except (OSError, ValueError, SyntaxError) as error:  # PIL's errors for truncated or malformed files
        raise InstanceError(instance, path, f"image cannot be read ({error})") from None


def read_rgba(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGBA")).copy()


def write_image(path, array: np.ndarray) -> None:
    """Write uint8 RGB or RGBA (H, W, 3|4) as PNG/JPEG by the file's suffix."""
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise TypeError(f"image must be uint8, got {array.dtype}")
    file_format = _format_of(path)
    options = {"compress_level": PNG_IMAGE_LEVEL} if file_format == "PNG" else {}
    with atomic_path(path) as tmp:
        Image.fromarray(array).save(tmp, format=file_format, **options)


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


def write_segments(path, segments) -> None:
    """Write Segments (amodal.imaging.segments) as compressed NPZ: `masks` (K, H, W) bool,
    `regions` (H, W) int32 and `regions_at`."""
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            np.savez_compressed(
                handle, masks=segments.masks, regions=segments.regions, regions_at=np.int64(segments.regions_at)
            )


def read_segments(path):
    """Segments from `write_segments`'s file; a file holding only `masks` (every segment as one
    stack, as written before the label map) reads as that stack."""
    from amodal.imaging.segments import Segments

    with np.load(path, allow_pickle=False) as data:
        if "regions" not in data:
            return Segments(data["masks"].astype(bool))
        return Segments(data["masks"].astype(bool), data["regions"], int(data["regions_at"]))


def _format_of(path) -> str:
    suffix = Path(path).suffix.lower()
    return {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}.get(suffix, "PNG")
