"""Where every file lives, and which files each stage reads.

The stage folder of one instance is the unit Snakemake caches: it is declared as one output
(a directory) of the shard job that makes it, and holds the files named in `STAGE_FILES`.
Everything that builds a path goes through this module, so the workflow, the in-process
benchmark and the tests agree on them.
"""

from __future__ import annotations

STAGE_FILES: dict[str, dict[str, str]] = {
    "ground": {"mask": "visible_mask.png", "record": "ground.json"},
    "tag": {"record": "tags.json"},
    "segment": {"masks": "segments.npz", "record": "segments.json"},
    "order": {"record": "order.json", "occluders": "occluder_mask.png"},
    "prompt": {"record": "prompt.json"},
    "complete": {
        "record": "complete.json",
        "completion": "completion.png",
        "amodal": "amodal_mask.png",
        "iterations": "iterations",
    },
    "rgba": {"rgba": "amodal.png", "placement": "placement.json"},
    "evaluate": {"metrics": "metrics.json"},
}

# name a stage reads it under -> (stage that wrote it, name of the file there)
STAGE_READS: dict[str, dict[str, tuple[str, str]]] = {
    "ground": {},
    "tag": {},
    "segment": {"visible": ("ground", "mask"), "ground": ("ground", "record"), "tags": ("tag", "record")},
    "order": {"visible": ("ground", "mask"), "masks": ("segment", "masks"), "segments": ("segment", "record")},
    "prompt": {"visible": ("ground", "mask"), "ground": ("ground", "record"), "tags": ("tag", "record")},
    "complete": {
        "visible": ("ground", "mask"),
        "ground": ("ground", "record"),
        "occluders": ("order", "occluders"),
        "order": ("order", "record"),
        "prompt": ("prompt", "record"),
        "tags": ("tag", "record"),  # the model backend re-segments every pass over the tags
    },
    "rgba": {
        "visible": ("ground", "mask"),
        "complete": ("complete", "record"),
        "completion": ("complete", "completion"),
        "amodal": ("complete", "amodal"),
    },
    "evaluate": {
        "visible": ("ground", "mask"),
        "masks": ("segment", "masks"),
        "segments": ("segment", "record"),
        "order": ("order", "record"),
        "rgba": ("rgba", "rgba"),
        "placement": ("rgba", "placement"),
    },
}

# Which of the instance's own files (photo, ground truth) each stage reads.
INSTANCE_READS: dict[str, tuple[str, ...]] = {
    "ground": ("image", "gt"),
    "tag": ("gt",),
    "segment": ("gt",),
    "order": ("gt",),
    "prompt": ("gt",),
    "complete": ("image",),
    "rgba": ("image",),
    "evaluate": ("image", "gt"),
}

# What `collect` copies into an experiment's instance folder: name -> (stage, file name).
DELIVERABLES: dict[str, tuple[str, str]] = {
    "metrics": ("evaluate", "metrics"),
    "rgba": ("rgba", "rgba"),
    "placement": ("rgba", "placement"),
}
COLLECTED_FILES = {
    "metrics": "metrics.json",
    "rgba": "amodal.png",
    "placement": "placement.json",
    "stages": "stages.json",
}

# The record in one synthetic scene's folder (written by amodal.synthetic.scenes.write_scene).
SCENE_RECORD = "scene.json"


def stage_folder(results: str, dataset: str, instance: str, stage: str, key: str) -> str:
    return f"{results}/stages/{dataset}/{instance}/{stage}/{key}"


def stage_outputs(folder: str, stage: str) -> dict[str, str]:
    return {name: f"{folder}/{file}" for name, file in STAGE_FILES[stage].items()}


def experiment_folder(results: str, experiment: str, dataset: str, instance: str | None = None) -> str:
    folder = f"{results}/{experiment}/{dataset}"
    return folder if instance is None else f"{folder}/{instance}"


def collected_outputs(folder: str) -> dict[str, str]:
    return {name: f"{folder}/{file}" for name, file in COLLECTED_FILES.items()}


def scene_folder(results: str, dataset: str, instance: str) -> str:
    return f"{results}/datasets/{dataset}/{instance}"


def shard_manifest(results: str, dataset: str, kind: str, key: str, shard: str) -> str:
    return f"{results}/shards/{dataset}/{kind}/{key}/{shard}.json"


def shard_log(results: str, dataset: str, stage: str, key: str, shard: str) -> str:
    return f"{results}/logs/stages/{dataset}/{stage}/{key}/{shard}.log"


def shard_benchmark(results: str, dataset: str, stage: str, key: str, shard: str) -> str:
    return f"{results}/benchmarks/stages/{dataset}/{stage}/{key}/{shard}.tsv"
