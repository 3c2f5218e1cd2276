"""The instance tables of seed and COCO datasets kept per dataset version under
<results>/.cache/instances, so every parse after the first reads them instead of loading again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd

from amodal.datasets.image_header import mark_unreadable, probe_image_header
from amodal.datasets.load import load_dataset
from amodal.datasets.table import OK, validate_table
from amodal.imaging.io import atomic_path

CACHE_VERSION = 3  # 2: the upright size of every image is kept; 3: COCO tables have `category`


def _stat_key(path) -> list:
    """(size, mtime in ns) of a file or folder, or None where it does not exist."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return [stat.st_size, stat.st_mtime_ns]


def dataset_fingerprint(name: str, spec: dict) -> str:
    """Changes whenever the spec, the annotation or filename-list file, or the image folder's
    listing changes (adding or removing an image changes the folder's mtime)."""
    sources = {
        key: [str(Path(spec[key]).resolve()), _stat_key(spec[key])]
        for key in ("annotations", "filenames", "images")
        if spec.get(key)
    }
    payload = json.dumps(
        {"version": CACHE_VERSION, "name": name, "spec": spec, "sources": sources}, sort_keys=True, default=str
    )
    return hashlib.sha1(payload.encode()).hexdigest()


def load_dataset_cached(name: str, spec: dict, results_dir="results") -> pd.DataFrame:
    """`load_dataset`, built once per dataset version and kept under <results>/.cache/instances.

    A later call (the next `snakemake` run, every cluster job's parse) reads the cached table
    when the dataset's fingerprint is unchanged, and decodes the header again only of images
    whose size or mtime changed since they were checked. Synthetic tables need no files and
    are never cached.
    """
    if spec.get("format") == "synthetic":
        return load_dataset(name, spec, results_dir)
    folder = Path(results_dir) / ".cache" / "instances"
    table_path, meta_path = folder / f"{name}.csv", folder / f"{name}.json"
    fingerprint = dataset_fingerprint(name, spec)
    cached = None
    if meta_path.is_file() and table_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
            if meta.get("fingerprint") == fingerprint:
                cached = pd.read_csv(table_path, dtype=str, keep_default_na=False)
        except (ValueError, OSError):
            cached = None
    if cached is None:
        table = load_dataset(name, spec, results_dir, check=False)
        checked = pd.Series([""] * len(table), index=table.index)
        verdicts = pd.Series([""] * len(table), index=table.index)
        sizes = pd.Series([""] * len(table), index=table.index)
    else:
        table = cached.drop(columns=["checked", "verdict", "size"])
        checked, verdicts, sizes = cached["checked"], cached["verdict"], cached["size"]
    changed = False
    for index in table.index[table["status"].isin([OK, "unreadable_image"])]:
        stamp = json.dumps(_stat_key(table.loc[index, "image"]))
        if checked[index] != stamp:
            problem, sizes[index] = probe_image_header(table.loc[index, "image"])
            checked[index], verdicts[index], changed = stamp, problem or "", True
        table.loc[index, ["status", "message"]] = [OK, ""]
        if verdicts[index]:
            mark_unreadable(table, index, verdicts[index])
    if changed or cached is None:
        with atomic_path(table_path) as tmp:
            table.assign(checked=checked, verdict=verdicts, size=sizes).to_csv(tmp, index=False)
        with atomic_path(meta_path) as tmp:
            tmp.write_text(json.dumps({"fingerprint": fingerprint, "dataset": name}) + "\n")
    from amodal.datasets.working import bound_images

    return validate_table(bound_images(table, name, spec.get("max_side"), results_dir, sizes))
