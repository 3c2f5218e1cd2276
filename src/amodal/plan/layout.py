"""Where every file lives.

The stage folder of one instance is the unit Snakemake caches: it is declared as one output
(a directory) of the shard job that makes it, and holds the files named in `STAGE_FILES`
(each stage's declaration, amodal.declarations, gives its file names).
Every path of a run's results folder is built here (stage folders and their files, a
completion's pass files, collected deliverables, synthetic scene folders, shard manifests,
logs, benchmarks), so the workflow, the in-process benchmark and the tests agree on them. The
files inside a synthetic scene's folder are the benchmark's own format
(`amodal.synthetic.files`); the instance-table cache under `results/.cache` is
`amodal.datasets.cache`'s.
"""

from __future__ import annotations

from amodal.declarations import STAGES

# Each stage's files, from its declaration (amodal.declarations; what it reads is declared there too).
STAGE_FILES: dict[str, dict[str, str]] = {name: stage.writes for name, stage in STAGES.items()}

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

# One completion pass's files, in the complete stage's `iterations/<pass>/` (written by
# amodal.stages.complete.stage.write_completion, shown by the visual report).
PASS_FILES = {
    "input": "input.png",
    "mask": "mask.png",
    "completion": "completion.png",
    "amodal_mask": "amodal_mask.png",
    "occluder_mask": "occluder_mask.png",
}


def stage_folder(results: str, dataset: str, instance: str, stage: str, key: str) -> str:
    return f"{results}/stages/{dataset}/{instance}/{stage}/{key}"


def stage_outputs(folder: str, stage: str) -> dict[str, str]:
    return files_in(folder, STAGE_FILES[stage])


def files_in(folder: str, files: dict[str, str]) -> dict[str, str]:
    """name -> path of each of a stage's files (its declaration's `writes`) in its folder."""
    return {name: f"{folder}/{file}" for name, file in files.items()}


def experiment_folder(results: str, experiment: str, dataset: str, instance: str | None = None) -> str:
    folder = f"{results}/{experiment}/{dataset}"
    return folder if instance is None else f"{folder}/{instance}"


def collected_outputs(folder: str) -> dict[str, str]:
    return {name: f"{folder}/{file}" for name, file in COLLECTED_FILES.items()}


def pass_files(iterations_dir, index: int) -> dict[str, str]:
    """The files of pass `index` of a completion (`PASS_FILES`)."""
    return {name: f"{iterations_dir}/{index}/{file}" for name, file in PASS_FILES.items()}


def scene_folder(results: str, dataset: str, instance: str) -> str:
    return f"{results}/datasets/{dataset}/{instance}"


def shard_manifest(results: str, dataset: str, kind: str, key: str, shard: str) -> str:
    return f"{results}/shards/{dataset}/{kind}/{key}/{shard}.json"


def shard_log(results: str, dataset: str, stage: str, key: str, shard: str) -> str:
    return f"{results}/logs/stages/{dataset}/{stage}/{key}/{shard}.log"


def shard_benchmark(results: str, dataset: str, stage: str, key: str, shard: str) -> str:
    return f"{results}/benchmarks/stages/{dataset}/{stage}/{key}/{shard}.tsv"
