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


# What a synthetic scene's file says of how hard its instance is (amodal.synthetic.scenes).
DIFFICULTY = ("hidden_fraction", "occluders", "border_fraction")


def instance_facts(row: dict) -> dict:
    """What metrics.csv says of an instance besides its metrics: the category of the object it
    asks for where the dataset says (the table's `category` column, COCO's annotation category,
    else the target's category in its synthetic scene file; a seed-format label is free text,
    not a category), its query (the table's, else the scene's), and, for a synthetic scene, its
    difficulty: the hidden fraction, how many objects occlude the target, the share of the
    target the frame cuts off. "" where unknown (a scene not written yet)."""
    facts = {"category": "", "query": "", **dict.fromkeys(DIFFICULTY, "")}
    category, query = row.get("category"), row.get("query")
    if isinstance(category, str):
        facts["category"] = category
    if isinstance(query, str):
        facts["query"] = query
    scene = _scene_of(row)
    if scene:
        if not facts["category"] and isinstance(scene.get("category"), str):
            facts["category"] = scene["category"]
        if not facts["query"] and isinstance(scene.get("query"), str):
            facts["query"] = scene["query"]
        occludes = scene.get("occludes") if isinstance(scene.get("occludes"), list) else []
        facts.update(
            hidden_fraction=scene.get("hidden_fraction", ""),
            occluders=sum(1 for pair in occludes if isinstance(pair, list) and pair[1:] == [0]),
            border_fraction=scene.get("border_fraction", ""),
        )
    return facts


def _scene_of(row: dict) -> dict | None:
    """The instance's synthetic scene record (its `gt`, once written), else None."""
    gt = row.get("gt")
    if isinstance(gt, str) and gt.endswith(".json") and os.path.isfile(gt):
        try:
            scene = read_json_lenient(gt)
        except ValueError:
            return None
        return scene if isinstance(scene, dict) else None
    return None
