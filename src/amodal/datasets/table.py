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

import hashlib
import json
import os
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
FORMATS = ("seed", "coco", "synthetic")
OK = "ok"

_SAFE_ID = re.compile(r"[A-Za-z0-9._-]+")
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


def _row(id_: str, image, query: str = "", gt="", status: str = OK, message: str = "") -> dict:
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


def _finish(rows: list[dict], extra_columns: tuple[str, ...] = ()) -> pd.DataFrame:
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
    unsafe = [i for i in ids if not isinstance(i, str) or not _SAFE_ID.fullmatch(i) or i in (".", "..")]
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
            _row(
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
            _row(
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
            _row(i, image, label, status="outside_image_folder", message=f"{outside}; fix its filename in {source}")
            for i, label in zip(ids, labels)
        ]
    if not image.is_file():
        message = missing_image_message(candidates, source)
        return [_row(i, image, label, status="missing_image", message=message) for i, label in zip(ids, labels)]
    return [_row(i, image, label) for i, label in zip(ids, labels)]


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
        return _finish([row for i, e in indexed for row in _seed_entry_rows(e, i, images_dir, annotations)])
    rows: list[dict] = []
    for name, matches in _select_listed(entries, read_filename_list(filenames)):
        if not matches:
            image, _, _ = resolve_image(images_dir, name)
            rows.append(
                _row(
                    safe_id(PurePosixPath(name).stem),
                    image,
                    status="no_annotation",
                    message=f"{name} is listed in {filenames} but has no entry in "
                    f"{annotations}; add an entry with labels or unlist it",
                )
            )
        for index, entry in matches:
            rows.extend(_seed_entry_rows(entry, index, images_dir, annotations))
    return _finish(rows)


# ----------------------------------------------------------------------------- synthetic


def synthetic_table(out_dir, n_scenes: int) -> pd.DataFrame:
    """The instances a synthetic benchmark of `n_scenes` scenes will have, without reading it.

    The workflow needs the ids before the scenes are generated; the query is "" here because
    it lives in each scene.json.
    """
    if isinstance(n_scenes, bool) or not isinstance(n_scenes, int) or n_scenes < 0:
        raise ValueError(f"n_scenes must be a non-negative integer, got {n_scenes!r}")
    out_dir = Path(out_dir)
    rows = []
    for k in range(n_scenes):
        id_ = f"scene_{k:04d}"
        rows.append(_row(id_, out_dir / id_ / "image.png", gt=out_dir / id_ / "scene.json"))
    return _finish(rows)


# ----------------------------------------------------------------------------- COCO


def _coco_sections(data: object, path) -> tuple[list, list, list]:
    if not isinstance(data, dict) or not all(
        isinstance(data.get(k), list) for k in ("images", "annotations", "categories")
    ):
        raise ValueError(
            f"{path}: expected a COCO instances file with 'images', 'annotations' "
            "and 'categories' lists; point the spec at an instances_*.json"
        )
    return data["images"], data["annotations"], data["categories"]


def _wanted_categories(categories: list, wanted, path) -> set:
    """Category ids to keep; `wanted` holds names or ids, None keeps all."""
    names = {c["id"]: c["name"] for c in categories}
    if wanted is None:
        return set(names)
    wanted = [wanted] if isinstance(wanted, (str, int)) else list(wanted)
    by_name = {name: cid for cid, name in names.items()}
    unknown = [w for w in wanted if w not in names and w not in by_name]
    if unknown:
        raise ValueError(f"{path}: no categories {unknown}; it has {sorted(by_name)}")
    return {w if w in names else by_name[w] for w in wanted}


def _coco_ann_row(ann: dict, images: dict, names: dict, images_dir: Path, source) -> dict:
    image_entry = images.get(ann.get("image_id"))
    ann_id = ann.get("id")
    if image_entry is None:
        return _row(
            f"ann_{ann_id}",
            "",
            status="bad_annotation",
            message=f"annotation {ann_id} in {source} refers to image id "
            f"{ann.get('image_id')!r}, which is not in 'images'; fix the file",
        )
    file_name = normalise_name(str(image_entry.get("file_name", "")))
    id_ = f"{safe_id(PurePosixPath(file_name).stem, 'image')}__{safe_id(str(ann_id))}"
    image, candidates, outside = resolve_image(images_dir, file_name)
    query = f"the {names[ann['category_id']]}"
    if outside:
        return _row(
            id_, image, query, status="outside_image_folder", message=f"{outside}; fix its file_name in {source}"
        )
    if not image.is_file():
        return _row(id_, image, query, status="missing_image", message=missing_image_message(candidates, source))
    return _row(id_, image, query)


def load_coco(annotations, images_dir, categories=None) -> pd.DataFrame:
    """One instance per non-crowd annotation of a COCO instances JSON, query "the <category>".

    `categories` (names or ids) restricts the load to those categories. The table has extra
    columns `ann_id`, so a later stage can rebuild the ground truth from the annotation, and
    `category`, the annotation's category name (`instance_category`).
    """
    images_dir = Path(images_dir)
    images, anns, cats = _coco_sections(read_json_lenient(annotations), annotations)
    names = {c["id"]: c["name"] for c in cats}
    keep = _wanted_categories(cats, categories, annotations)
    by_id = {im.get("id"): im for im in images}
    rows = []
    for ann in anns:
        if ann.get("iscrowd", 0) or ann.get("category_id") not in keep:
            continue
        row = _coco_ann_row(ann, by_id, names, images_dir, annotations)
        row["ann_id"] = ann.get("id")
        row["category"] = names[ann["category_id"]]
        rows.append(row)
    return _finish(rows, extra_columns=("ann_id", "category"))


# ----------------------------------------------------------------------------- dispatch


def _require(name: str, spec: dict, keys: tuple[str, ...]) -> None:
    missing = [k for k in keys if spec.get(k) in (None, "")]
    if missing:
        raise ValueError(f"dataset {name!r} (format {spec.get('format')!r}) lacks {missing}; add them to its spec")


def load_dataset(name: str, spec: dict, results_dir="results", check: bool = True) -> pd.DataFrame:
    """The instance table of dataset `name`, described by its config `spec`; `check` decodes
    every image header (`check_images`)."""
    if not _SAFE_ID.fullmatch(str(name)) or name in (".", ".."):
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


def _image_header(path) -> tuple[str | None, str]:
    """(None, "HxW" upright size) if the file's header decodes as an image, else (the error's name, "")."""
    from PIL import Image, UnidentifiedImageError

    from amodal.datasets.working import upright_size

    try:
        height, width = upright_size(path)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        return type(error).__name__, ""
    return None, f"{height}x{width}"


def _unreadable(table: pd.DataFrame, index, problem: str) -> None:
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
        problem = _image_header(table.loc[index, "image"])[0]
        if problem:
            _unreadable(table, index, problem)
    return table


# ----------------------------------------------------------------------------- cache

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
            problem, sizes[index] = _image_header(table.loc[index, "image"])
            checked[index], verdicts[index], changed = stamp, problem or "", True
        table.loc[index, ["status", "message"]] = [OK, ""]
        if verdicts[index]:
            _unreadable(table, index, verdicts[index])
    if changed or cached is None:
        with atomic_path(table_path) as tmp:
            table.assign(checked=checked, verdict=verdicts, size=sizes).to_csv(tmp, index=False)
        with atomic_path(meta_path) as tmp:
            tmp.write_text(json.dumps({"fingerprint": fingerprint, "dataset": name}) + "\n")
    from amodal.datasets.working import bound_images

    return validate_table(bound_images(table, name, spec.get("max_side"), results_dir, sizes))
