"""Stage `tag`: what else is in the image?"""

from __future__ import annotations


def tag_oracle(truth) -> dict:
    """The ground-truth categories of all objects, in object order, plus 'background' as the seed adds."""
    tags: list[str] = []
    for category in truth.object_categories:
        name = category.replace("_", " ")
        if name not in tags:
            tags.append(name)
    tags.append("background")
    return {"backend": "oracle", "tags": tags}


def run_tag(spec: dict, gt_path, instance: str) -> dict:
    from .truth import load_truth

    if spec["backend"] != "oracle":
        raise ValueError(f"unknown tag backend {spec['backend']!r}")
    return tag_oracle(load_truth(gt_path, instance))
