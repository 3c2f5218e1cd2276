"""The seed format, the reference repository's examples: an annotation JSON
({"annotations": [{"filename": ..., "labels": [...]}, ...]}), an image folder and optionally a
list of filenames; one instance per label.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import pandas as pd

from amodal.datasets.image_folder import missing_image_message, normalise_name, resolve_image
from amodal.datasets.lenient_json import read_json_lenient, read_text
from amodal.datasets.table import finish_table, instance_row, safe_id


def read_filename_list(path) -> list[str]:
    """Filenames, one a line; blank lines and surrounding whitespace ignored, repeats dropped."""
    names: list[str] = []
    for line in read_text(path, "filename list").splitlines():
        name = line.strip()
        if name and name not in names:
            names.append(name)
    return names


def _slug(label: str, fallback: str) -> str:
    """A query as an id suffix: lower-case ASCII words joined by '-', at most 40 characters."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-").lower()[:40].strip("-")
    return slug or fallback


def _labels_of(entry: dict) -> list[str]:
    labels = entry.get("labels", [])
    if isinstance(labels, str):  # a lone string is one label, not a list of characters
        labels = [labels]
    if not isinstance(labels, list):
        return []
    return [str(label).strip() for label in labels if label is not None and str(label).strip()]


def _seed_entries(data: object, path) -> list:
    if isinstance(data, dict) and isinstance(data.get("annotations"), list):
        return data["annotations"]
    raise ValueError(
        f"{path}: expected an object with an 'annotations' list "
        '({"annotations": [{"filename": ..., "labels": [...]}, ...]}); fix the file'
    )


def _seed_entry_rows(entry: object, index: int, images_dir: Path, source) -> list[dict]:
    """The instances of one annotation entry: one per label."""
    if not isinstance(entry, dict) or not str(entry.get("filename") or "").strip():
        return [
            instance_row(
                f"entry_{index:04d}",
                "",
                status="bad_entry",
                message=f"annotation entry #{index} in {source} has no 'filename'; add one or remove the entry",
            )
        ]
    filename = normalise_name(str(entry["filename"]))
    stem = safe_id(PurePosixPath(filename).stem, fallback=f"entry_{index:04d}")
    image, candidates, outside = resolve_image(images_dir, filename)
    labels = _labels_of(entry)
    if not labels:
        return [
            instance_row(
                stem,
                image,
                status="no_query",
                message=f"entry for {filename} in {source} has no non-empty label; add a text query to its 'labels'",
            )
        ]
    # Ids come from the annotation alone, so they stay the same once a missing image turns up.
    ids = (
        [stem]
        if len(labels) == 1
        else [f"{stem}__{_slug(label, f'label{k}')}" for k, label in enumerate(labels, start=1)]
    )
    if outside:
        return [
            instance_row(
                i, image, label, status="outside_image_folder", message=f"{outside}; fix its filename in {source}"
            )
            for i, label in zip(ids, labels)
        ]
    if not image.is_file():
        message = missing_image_message(candidates, source)
        return [instance_row(i, image, label, status="missing_image", message=message) for i, label in zip(ids, labels)]
    return [instance_row(i, image, label) for i, label in zip(ids, labels)]


def _select_listed(entries: list, names: list[str]) -> list[tuple[str, list[tuple[int, object]]]]:
    """For each listed name (in list order) the annotation entries it refers to, with indices.

    A name matches an entry by its normalised path, or else by its basename, since a list and
    an annotation file written by different tools need not agree on the folder prefix.
    """
    by_path: dict[str, list[tuple[int, object]]] = {}
    by_base: dict[str, list[tuple[int, object]]] = {}
    for index, entry in enumerate(entries):
        if isinstance(entry, dict) and str(entry.get("filename") or "").strip():
            key = normalise_name(str(entry["filename"]))
            by_path.setdefault(key, []).append((index, entry))
            by_base.setdefault(PurePosixPath(key).name, []).append((index, entry))
    selected = []
    for name in names:
        key = normalise_name(name)
        selected.append((key, by_path.get(key) or by_base.get(PurePosixPath(key).name, [])))
    return selected


def load_seed(annotations, images_dir, filenames=None) -> pd.DataFrame:
    """Instances of a seed-format dataset (annotation JSON + image folder [+ filename list]).

    Without a list every annotation entry is used in file order; with one, only listed files,
    in list order, and a listed file without an annotation becomes a "no_annotation" row.
    """
    images_dir = Path(images_dir)
    if not images_dir.is_dir():
        raise FileNotFoundError(f"image folder not found: {images_dir}; check 'images' in the dataset spec")
    entries = _seed_entries(read_json_lenient(annotations), annotations)
    if filenames is None:
        indexed = list(enumerate(entries))
        return finish_table([row for i, e in indexed for row in _seed_entry_rows(e, i, images_dir, annotations)])
    rows: list[dict] = []
    for name, matches in _select_listed(entries, read_filename_list(filenames)):
        if not matches:
            image, _, _ = resolve_image(images_dir, name)
            rows.append(
                instance_row(
                    safe_id(PurePosixPath(name).stem),
                    image,
                    status="no_annotation",
                    message=f"{name} is listed in {filenames} but has no entry in "
                    f"{annotations}; add an entry with labels or unlist it",
                )
            )
        for index, entry in matches:
            rows.extend(_seed_entry_rows(entry, index, images_dir, annotations))
    return finish_table(rows)
