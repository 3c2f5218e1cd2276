"""Stage `prompt`: what should the inpainter draw?"""

from __future__ import annotations

import re

ARTICLE = re.compile(r"^(the|a|an)\s+", re.IGNORECASE)


def prompt_query(query: str) -> dict:
    """The query itself as the object name, without a leading article."""
    text = ARTICLE.sub("", query.strip()).strip()
    return {"backend": "query", "prompt": text or query.strip(), "candidates": {}}


def prompt_clip(image, visible, tags: list[str], query: str, spec: dict, models: dict | None) -> dict:
    """The seed's choice: CLIP over "a photo of a {c}" for every tag and the query, on the photo
    with only the visible object's pixels kept; the most probable wins. Every score is recorded."""
    from .models import loaded

    name = prompt_query(query)["prompt"]
    chosen = loaded.clip_scorer(spec["clip"]["model"], models).choose_prompt(image, visible, list(tags), name)
    return {"backend": "clip", "prompt": chosen["prompt"], "candidates": chosen["candidates"]}


def run_prompt(spec: dict, query: str, gt_path, image_path=None, visible_path=None, tags_path=None,
               instance: str = "?", models: dict | None = None) -> dict:
    from . import io

    if spec["backend"] == "clip":
        image = io.read_instance_image(image_path, instance)
        return prompt_clip(image, io.read_mask(visible_path), io.read_json(tags_path)["tags"], query, spec, models)
    if spec["backend"] != "query":
        raise ValueError(f"unknown prompt backend {spec['backend']!r}")
    return prompt_query(query)
