"""Stage `prompt`: what should the inpainter draw?"""

from __future__ import annotations

from amodal.datasets.queries import object_name
from amodal.models.cache import ModelCache


def prompt_query(query: str) -> dict:
    """The query itself as the object name, without a leading article."""
    return {"backend": "query", "prompt": object_name(query), "candidates": {}}


def prompt_clip(image, visible, tags: list[str], query: str, spec: dict, models: ModelCache | None) -> dict:
    """The seed's choice: CLIP over "a photo of a {c}" for every tag and the query, on the photo
    with only the visible object's pixels kept; the most probable wins. Every score is recorded.
    `clip.candidates: tags` leaves the query out (the paper's tags-only ablation); with no tag
    to choose from, the query is the prompt."""
    name = prompt_query(query)["prompt"]
    with_query = spec["clip"].get("candidates", "tags_and_query") == "tags_and_query"
    names = [t for t in tags if t.strip()] if not with_query else list(tags)
    if not with_query and not names:
        return {"backend": "clip", "prompt": name, "candidates": {}, "reason": "no tag to choose from"}
    chosen = (
        (models or ModelCache())
        .clip_scorer(spec["clip"]["model"])
        .choose_prompt(image, visible, names, name if with_query else None)
    )
    return {"backend": "clip", "prompt": chosen["prompt"], "candidates": chosen["candidates"]}


def run_prompt(
    spec: dict,
    query: str,
    gt_path,
    image_path=None,
    visible_path=None,
    tags_path=None,
    instance: str = "?",
    models: ModelCache | None = None,
) -> dict:
    from amodal.imaging import io

    if spec["backend"] == "clip":
        image = io.read_instance_image(image_path, instance)
        return prompt_clip(image, io.read_mask(visible_path), io.read_json(tags_path)["tags"], query, spec, models)
    if spec["backend"] != "query":
        raise ValueError(f"unknown prompt backend {spec['backend']!r}")
    return prompt_query(query)
