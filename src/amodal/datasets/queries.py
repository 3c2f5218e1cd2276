"""What an instance asks for: the object a text query names, and the category of that object
where the instance's dataset says.
"""

from __future__ import annotations

import os
import re

from amodal.datasets.lenient_json import read_json_lenient

_ARTICLE = re.compile(r"^(the|a|an)\s+", re.IGNORECASE)


def object_name(query: str) -> str:
    """The object a query names: the query without a leading article ("the cat" -> "cat"), or
    the query itself when nothing else is left."""
    return _ARTICLE.sub("", query.strip()).strip() or query.strip()


def instance_category(row: dict) -> str:
    """The category of the object an instance asks for, where its dataset says: the table's
    `category` column (COCO: the annotation's category), else the target's category in its
    synthetic scene file (`gt`, once the scene is written); "" where the dataset does not say
    (a seed-format label is free text, not a category)."""
    category = row.get("category")
    if isinstance(category, str) and category:
        return category
    gt = row.get("gt")
    if isinstance(gt, str) and gt.endswith(".json") and os.path.isfile(gt):
        try:
            scene = read_json_lenient(gt)
        except ValueError:
            return ""
        found = scene.get("category") if isinstance(scene, dict) else None
        return found if isinstance(found, str) else ""
    return ""
