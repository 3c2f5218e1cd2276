"""What scenes are made from: the RGBA object cutouts and the background photos, their listings
(cutouts.csv, backgrounds.csv) and the folders shipped with amodal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from amodal.imaging.io import read_rgb, read_rgba
from amodal.synthetic.params import MASK_THRESHOLD


@dataclass(frozen=True)
class Cutout:
    file: str
    category: str
    rgba: np.ndarray = field(repr=False)  # the whole file, uint8 (H, W, 4)
    longer_side: int  # of the alpha > 0 box: the object's size, not the file's


@dataclass(frozen=True)
class Background:
    file: str
    rgb: np.ndarray = field(repr=False)


def cutout_entries(cutouts_dir) -> list[tuple[str, str]]:
    """(file name, category) of the cutouts: cutouts.csv (file, category), or every *.png if there is no CSV."""
    folder = _existing_dir(cutouts_dir, "cutouts")
    listing = folder / "cutouts.csv"
    if listing.exists():
        table = _read_listing(listing, ["file", "category"])
        return list(zip(table["file"], table["category"]))
    # Without a manifest the category is the file stem minus a numeric suffix: car_02 -> car.
    return [(p.name, re.sub(r"_\d+$", "", p.stem)) for p in sorted(folder.glob("*.png"))]


def background_names(backgrounds_dir) -> list[str]:
    """File names of the background photos: backgrounds.csv (column file), or every jpg/png if there is no CSV."""
    folder = _existing_dir(backgrounds_dir, "backgrounds")
    listing = folder / "backgrounds.csv"
    if listing.exists():
        return sorted(_read_listing(listing, ["file"])["file"])
    return sorted(p.name for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})


def source_files(cutouts_dir, backgrounds_dir) -> list[str]:
    """Every file building scenes reads: the listings that exist and each cutout and background
    they name (the workflow's inputs of a scenes job, so replacing one rebuilds the scenes)."""
    files = []
    for folder, listing, names in (
        (Path(cutouts_dir), "cutouts.csv", lambda: [n for n, _ in cutout_entries(cutouts_dir)]),
        (Path(backgrounds_dir), "backgrounds.csv", lambda: background_names(backgrounds_dir)),
    ):
        if not folder.is_dir():  # the workflow then reports the missing listing as a missing input
            files.append(str(folder / listing))
            continue
        if (folder / listing).exists():
            files.append(str(folder / listing))
        files.extend(str(folder / name) for name in names())
    return files


def load_cutouts(cutouts_dir) -> list[Cutout]:
    """The RGBA cutouts of `cutout_entries`, each checked to hold an object."""
    folder = _existing_dir(cutouts_dir, "cutouts")
    entries = cutout_entries(folder)
    cutouts = []
    for name, category in sorted(entries):
        path = folder / name
        rgba = _read_image(path, read_rgba)
        alpha = rgba[..., 3]
        if not (alpha > MASK_THRESHOLD).any():
            raise ValueError(f"cutout {path} has no pixel with alpha > {MASK_THRESHOLD} (no object); fix or remove it")
        ys, xs = np.nonzero(alpha)
        longer = max(int(ys.max() - ys.min() + 1), int(xs.max() - xs.min() + 1))
        cutouts.append(Cutout(str(name), str(category), rgba, longer))
    if len(cutouts) < 2:
        raise ValueError(f"{folder}: need at least 2 cutouts (a target and an occluder), found {len(cutouts)}")
    return cutouts


def load_backgrounds(backgrounds_dir) -> list[Background]:
    """Photos listed in backgrounds.csv (column file), or every jpg/png if there is no CSV."""
    folder = _existing_dir(backgrounds_dir, "backgrounds")
    names = background_names(folder)
    if not names:
        raise ValueError(f"{folder}: no background photos (*.jpg, *.png) found")
    return [Background(str(name), _read_image(folder / name, read_rgb)) for name in names]


def source_dirs(cutouts_dir, backgrounds_dir) -> tuple:
    """The folders as given; one left None is the shipped folder (the config schema's default, in the checkout)."""
    from amodal.config.schema import shipped_default

    return (
        cutouts_dir if cutouts_dir is not None else shipped_default("cutouts"),
        backgrounds_dir if backgrounds_dir is not None else shipped_default("backgrounds"),
    )


def _existing_dir(path, what: str) -> Path:
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"{what} folder not found: {folder} (pass the folder holding the {what} and its CSV)")
    return folder


def _read_listing(path: Path, columns: list[str]) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as err:  # pandas raises several types for a malformed CSV
        raise ValueError(f"cannot read {path}: {err}") from err
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{path} lacks column(s) {missing}; it needs {columns}")
    return table


def _read_image(path: Path, reader) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"image listed but missing: {path} (fix the CSV or restore the file)")
    try:
        return reader(path)
    except Exception as err:  # PIL raises several types for a corrupt file
        raise ValueError(f"cannot read image {path}: {err}; replace or remove it") from err
