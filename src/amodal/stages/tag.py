"""Stage `tag`: what else is in the image?"""

from __future__ import annotations

from amodal.models.cache import ModelCache


def tag_oracle(truth) -> dict:
    """The ground-truth categories of all objects, in object order, plus 'background' as the seed adds."""
    tags: list[str] = []
    for category in truth.object_categories:
        name = category.replace("_", " ")
        if name not in tags:
            tags.append(name)
    tags.append("background")
    return {"backend": "oracle", "tags": tags}


def vocabulary(name: str) -> list[str]:
    """`coco` (the 80 COCO category names shipped with amodal) or a text file, one name a line."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "data" / "vocabulary_coco.txt" if name == "coco" else Path(name)
    if not path.is_file():
        raise FileNotFoundError(
            f"tag vocabulary {name!r} not found at {path}; use 'coco' or a text file, one name a line"
        )
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


def tag_clip_vocab(image, spec: dict, models: ModelCache | None) -> dict:
    """CLIP zero-shot over a vocabulary ("a photo of a {c}"): the most probable names, then
    'background' as the seed adds to its tags."""
    params = spec["clip_vocab"]
    scorer = (models or ModelCache()).clip_scorer(params["model"])
    found = scorer.zero_shot_tags(image, vocabulary(params["vocabulary"]), params["top_k"], params["min_probability"])
    tags = [name for name, _ in found]
    return {
        "backend": "clip_vocab",
        "tags": tags + ([] if "background" in tags else ["background"]),
        "scores": {name: float(p) for name, p in found},
    }


def tag_ram_plus(image, spec: dict, models: ModelCache | None) -> dict:
    """RAM++ tags (tag-list order) and 'background', as the seed appends it. With
    `seed_empty_tag` an image with no tag gives the seed's ['', 'background'] (its split of an
    empty tag string); otherwise just ['background']."""
    params = spec["ram_plus"]
    tagger = (models or ModelCache()).ram_tagger(params["model"])
    found = tagger.tags(image, params["threshold"], params["interpolation"])
    tags = [name for name, _ in found]
    if not tags and params["seed_empty_tag"]:
        tags = [""]
    return {"backend": "ram_plus", "tags": tags + ["background"], "scores": {name: p for name, p in found}}


def run_tag(spec: dict, gt_path, instance: str, image_path=None, models: ModelCache | None = None) -> dict:
    from amodal.imaging import io
    from amodal.datasets.truth import load_truth

    if spec["backend"] == "clip_vocab":
        return tag_clip_vocab(io.read_instance_image(image_path, instance), spec, models)
    if spec["backend"] == "ram_plus":
        return tag_ram_plus(io.read_instance_image(image_path, instance), spec, models)
    if spec["backend"] != "oracle":
        raise ValueError(f"unknown tag backend {spec['backend']!r}")
    return tag_oracle(load_truth(gt_path, instance))
