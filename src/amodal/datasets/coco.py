"""The COCO instances format: one instance per non-crowd annotation, its query "the <category>"."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import pandas as pd

from amodal.datasets.image_folder import missing_image_message, normalise_name, resolve_image
from amodal.datasets.lenient_json import read_json_lenient
from amodal.datasets.table import finish_table, instance_row, safe_id


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
        return instance_row(
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
        return instance_row(
            id_, image, query, status="outside_image_folder", message=f"{outside}; fix its file_name in {source}"
        )
    if not image.is_file():
        return instance_row(
            id_, image, query, status="missing_image", message=missing_image_message(candidates, source)
        )
    return instance_row(id_, image, query)


def load_coco(annotations, images_dir, categories=None) -> pd.DataFrame:
    """One instance per non-crowd annotation of a COCO instances JSON, query "the <category>".

    `categories` (names or ids) restricts the load to those categories. The table has extra
    columns `ann_id`, so a later stage can rebuild the ground truth from the annotation, and
    `category`, the annotation's category name (`amodal.datasets.queries.instance_facts`).
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
    return finish_table(rows, extra_columns=("ann_id", "category"))
