"""The working image: what every stage of an instance reads, within a size bound.

Every stage reads an instance's photo through `io.read_rgb` (upright, 8-bit RGB; see
`io.upright_rgb8`). A photo whose longer upright side exceeds its dataset's `max_side` is not
processed at full size: once, when the instance table is built, a working copy scaled down to
that side (area interpolation) is written to `<results>/.cache/working/<dataset>/`, and the
table's `image` names the copy while `source_image` names the photo. Every stage then sees the
same working image, and the `rgba` stage records where its result goes in the photo's own
coordinates (`placement.json`, key `source`). `max_side: null` processes every photo at full
size, as the seed does; photos within the bound (the seed's examples) are used as they are.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

ORIENTATION_TAG = 0x0112
TRANSPOSING = {5, 6, 7, 8}  # EXIF orientations that swap width and height


def upright_size(path) -> tuple[int, int]:
    """(height, width) of the photo as shown, from its header and EXIF orientation, without
    decoding its pixels. (Pillow finds a PNG's EXIF after its pixel data only by decoding them
    all: such a late EXIF chunk is not read here.)"""
    from PIL import Image

    with Image.open(path) as image:
        width, height = image.size
        header_only = image.format != "PNG" or "exif" in image.info
        if header_only and image.getexif().get(ORIENTATION_TAG) in TRANSPOSING:
            width, height = height, width
    return height, width


def working_size(size_hw: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    """The (height, width) stages work at: the photo's, or scaled so its longer side is max_side."""
    height, width = size_hw
    if not max_side or max(height, width) <= max_side:
        return height, width
    scale = max_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def write_working_copy(source, target: Path, size_hw: tuple[int, int]) -> None:
    """The photo, upright and 8-bit, resized to `size_hw`, as a PNG at `target` (atomic)."""
    import cv2

    from amodal.imaging import io

    image = io.read_rgb(source)
    resized = cv2.resize(image, (size_hw[1], size_hw[0]), interpolation=cv2.INTER_AREA)
    io.write_image(target, resized)


def bound_images(
    table: pd.DataFrame, dataset: str, max_side: int | None, results_dir, sizes: pd.Series
) -> pd.DataFrame:
    """The table with oversized photos replaced by working copies (written if missing or older
    than the photo). `sizes` holds each ok row's upright size as "HxW" ("" if unknown).
    Adds column `source_image` ("" where the photo is used as it is)."""
    table = table.copy()
    table["source_image"] = ""
    if not max_side:
        return table
    folder = Path(results_dir) / ".cache" / "working" / dataset
    for index in table.index[table["status"] == "ok"]:
        if not sizes[index]:
            continue
        size = tuple(int(v) for v in sizes[index].split("x"))
        target_size = working_size(size, max_side)
        if target_size == size:
            continue
        source = table.loc[index, "image"]
        target = folder / f"{table.loc[index, 'id']}__max{max_side}.png"
        if not target.is_file() or target.stat().st_mtime_ns < Path(source).stat().st_mtime_ns:
            try:
                write_working_copy(source, target, target_size)
            except (OSError, ValueError, SyntaxError) as error:  # a header that reads, a body that does not
                table.loc[index, ["status", "message"]] = [
                    "unreadable_image",
                    f"instance '{table.loc[index, 'id']}': image {source} cannot be read ({error}); "
                    "replace the file or remove the instance",
                ]
                continue
        table.loc[index, ["image", "source_image"]] = [str(target), source]
    return table


def source_placement(placement: dict, source_image: str, working_hw: tuple[int, int]) -> dict | None:
    """Where an RGBA placed at `placement` (working-image pixels) goes in the source photo:
    offset and size scaled by the photo's size over the working image's (None without a source)."""
    if not source_image or placement.get("offset_xy") is None:
        return None
    source_hw = upright_size(source_image)
    sy, sx = source_hw[0] / working_hw[0], source_hw[1] / working_hw[1]
    (x, y), (h, w) = placement["offset_xy"], placement["size_hw"]
    return {
        "image": source_image,
        "size_hw": list(source_hw),
        "scale_xy": [sx, sy],
        "offset_xy": [math.floor(x * sx), math.floor(y * sy)],
        "size_hw_in_source": [max(1, round(h * sy)), max(1, round(w * sx))],
    }
