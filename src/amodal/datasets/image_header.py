"""Whether an instance's image can be read, found by decoding its header only: the probe, and
the marking of rows whose image is unreadable.
"""

from __future__ import annotations

import pandas as pd

from amodal.datasets.table import OK


def probe_image_header(path) -> tuple[str | None, str]:
    """(None, "HxW" upright size) if the file's header decodes as an image, else (the error's name, "")."""
    from PIL import Image, UnidentifiedImageError

    from amodal.datasets.working import upright_size

    try:
        height, width = upright_size(path)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        return type(error).__name__, ""
    return None, f"{height}x{width}"


def mark_unreadable(table: pd.DataFrame, index, problem: str) -> None:
    """Set row `index` of `table` to 'unreadable_image', its message naming the image and `problem`."""
    row = table.loc[index]
    table.loc[index, "status"] = "unreadable_image"
    table.loc[index, "message"] = (
        f"instance '{row['id']}': image {row['image']} cannot be read ({problem}); "
        "replace the file or remove the instance"
    )


def check_images(table: pd.DataFrame) -> pd.DataFrame:
    """Mark rows whose image exists but is not a readable image as 'unreadable_image'.

    Only the header is decoded, and `load_dataset_cached` keeps the result per file version,
    so a corrupt file is reported by name instead of failing a job later.
    """
    table = table.copy()
    for index in table.index[table["status"] == OK]:
        problem = probe_image_header(table.loc[index, "image"])[0]
        if problem:
            mark_unreadable(table, index, problem)
    return table
