"""Loading a dataset by its config spec: the spec's `format` picks the reader (seed, coco,
synthetic); seed and COCO tables get their images' headers checked.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from amodal.datasets.coco import load_coco
from amodal.datasets.image_header import check_images
from amodal.datasets.seed import load_seed
from amodal.datasets.synthetic import synthetic_table
from amodal.datasets.table import SAFE_ID

FORMATS = ("seed", "coco", "synthetic")


def _require(name: str, spec: dict, keys: tuple[str, ...]) -> None:
    missing = [k for k in keys if spec.get(k) in (None, "")]
    if missing:
        raise ValueError(f"dataset {name!r} (format {spec.get('format')!r}) lacks {missing}; add them to its spec")


def load_dataset(name: str, spec: dict, results_dir="results", check: bool = True) -> pd.DataFrame:
    """The instance table of dataset `name`, described by its config `spec`; `check` decodes
    every image header (`check_images`)."""
    if not SAFE_ID.fullmatch(str(name)) or name in (".", ".."):
        raise ValueError(f"dataset name {name!r} is not filesystem-safe; use only letters, digits, '.', '_' and '-'")
    fmt = spec.get("format")
    if fmt == "seed":
        _require(name, spec, ("annotations", "images"))
        table = load_seed(spec["annotations"], spec["images"], spec.get("filenames") or None)
        return check_images(table) if check else table
    if fmt == "coco":
        _require(name, spec, ("annotations", "images"))
        table = load_coco(spec["annotations"], spec["images"], spec.get("categories"))
        return check_images(table) if check else table
    if fmt == "synthetic":
        _require(name, spec, ("n_scenes",))
        return synthetic_table(Path(results_dir) / "datasets" / name, spec["n_scenes"])
    raise ValueError(f"dataset {name!r} has format {fmt!r}; set 'format' to one of {list(FORMATS)}")
