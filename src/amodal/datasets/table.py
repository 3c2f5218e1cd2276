"""Normalise every dataset format to one instance table.

An instance is one (image, text query[, ground truth]) unit of work. Whatever the source format,
the workflow sees a DataFrame with the columns in `COLUMNS`:

    id       unique and filesystem-safe ([A-Za-z0-9._-]+): it names the instance's result folder
    image    path of the image (relative paths stay relative to the working directory)
    query    text query ("" where it is read later, e.g. from a synthetic scene.json)
    gt       path of a ground-truth JSON, or "" when there is none
    status   "ok", or a short code such as "missing_image"
    message  "", or a sentence naming the file and what to do

Defective inputs do not stop a load: they become rows with status != "ok", so reports can list
them while the workflow skips them. Only problems with a whole file (unreadable, not JSON, wrong
top-level shape) raise.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path, PurePosixPath
from typing import Iterable

import pandas as pd

from amodal.errors import InstanceError
from amodal.datasets.image_folder import missing_image_message, normalise_name, resolve_image
from amodal.datasets.lenient_json import read_json_lenient, read_text
from amodal.imaging.io import atomic_path

COLUMNS = ["id", "image", "query", "gt", "status", "message"]
OK = "ok"

SAFE_ID = re.compile(r"[A-Za-z0-9._-]+")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


# ----------------------------------------------------------------------------- text


def read_filename_list(path) -> list[str]:
    """Filenames, one a line; blank lines and surrounding whitespace ignored, repeats dropped."""
    names: list[str] = []
    for line in read_text(path, "filename list").splitlines():
        name = line.strip()
        if name and name not in names:
            names.append(name)
    return names


# ----------------------------------------------------------------------------- ids and rows


MAX_ID_PART = 100  # ids name folders: a long filename or query must not exceed a file name's limit


def safe_id(text: str, fallback: str = "instance") -> str:
    """`text` made filesystem-safe and at most MAX_ID_PART characters; leading dots go so an
    id is never hidden, '.' or '..'."""
    cleaned = _UNSAFE_CHARS.sub("_", text.strip()).lstrip(".")[:MAX_ID_PART]
    return cleaned or fallback


def _slug(label: str, fallback: str) -> str:
    """A query as an id suffix: lower-case ASCII words joined by '-', at most 40 characters."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-").lower()[:40].strip("-")
    return slug or fallback


def instance_row(id_: str, image, query: str = "", gt="", status: str = OK, message: str = "") -> dict:
    """One row of an instance table, paths as strings; `finish_table` makes rows a table."""
    return {"id": id_, "image": str(image), "query": query, "gt": str(gt), "status": status, "message": message}


def dedupe_ids(ids: Iterable[str]) -> list[str]:
    """Ids made unique: the first keeps its id, later repeats get -2, -3, ... in order.

    A suffix is never one of the original ids, so renaming cannot create a new clash.
    """
    ids = list(ids)
    taken = set(ids)
    seen: set[str] = set()
    unique = []
    for id_ in ids:
        if id_ in seen:
            n = 2
            while f"{id_}-{n}" in taken:
                n += 1
            id_ = f"{id_}-{n}"
            taken.add(id_)
        seen.add(id_)
        unique.append(id_)
    return unique


def finish_table(rows: list[dict], extra_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Rows as a validated table, with unique ids and messages that name their instance."""
    table = pd.DataFrame(rows, columns=COLUMNS + list(extra_columns))
    table["id"] = dedupe_ids(table["id"])
    bad = table["message"] != ""
    table.loc[bad, "message"] = [
        f"instance {i!r}: {m}" for i, m in zip(table.loc[bad, "id"], table.loc[bad, "message"])
    ]
    return validate_table(table)


def validate_table(df: pd.DataFrame) -> pd.DataFrame:
    """Check the instance-table contract; returns `df`, raises ValueError naming what is wrong."""
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"instance table lacks columns {missing}; it needs {COLUMNS}")
    ids = df["id"].tolist()
    unsafe = [i for i in ids if not isinstance(i, str) or not SAFE_ID.fullmatch(i) or i in (".", "..")]
    if unsafe:
        raise ValueError(
            f"instance ids are not filesystem-safe ([A-Za-z0-9._-]+): {unsafe}; "
            "rename them (datasets.safe_id does this)"
        )
    repeated = sorted(i for i, n in Counter(ids).items() if n > 1)
    if repeated:
        raise ValueError(
            f"instance ids are not unique: {repeated}; give each instance its own id (datasets.dedupe_ids does this)"
        )
    blank = [i for i, s in zip(ids, df["status"]) if not isinstance(s, str) or not s]
    if blank:
        raise ValueError(f"instances {blank} have an empty status; use 'ok' or a short code")
    return df


def get_instance(df: pd.DataFrame, instance_id: str) -> pd.Series:
    """The row of one instance; raises InstanceError if it is not ok to process."""
    rows = df[df["id"] == instance_id]
    if rows.empty:
        raise KeyError(f"no instance {instance_id!r} in the table; rerun the dataset stage if the dataset changed")
    row = rows.iloc[0]
    if row["status"] != OK:
        raise InstanceError(instance_id, row["image"], f"{row['status']}: {row['message']}")
    return row


def write_table(df: pd.DataFrame, path) -> None:
    validate_table(df)
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def read_table(path) -> pd.DataFrame:
    # Without keep_default_na an empty gt or message would come back as NaN, not "".
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    return validate_table(table)


# ----------------------------------------------------------------------------- seed format


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
