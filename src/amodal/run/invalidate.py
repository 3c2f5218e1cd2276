"""Forgetting cached stage results, so the next run recomputes them.

Snakemake caches one folder per instance and stage (`results/stages/<dataset>/<instance>/<stage>/<key>/`)
and notices a folder that is missing, not a file missing inside one. Removing the folder is
how to rerun one instance's stage: its shard job runs again on the next `snakemake` call
(for every instance of that shard), and so does everything downstream of it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from amodal.declarations import STAGE_ORDER as STAGES


def stage_folders(results, stage: str, instances, dataset: str | None = None, key: str | None = None) -> list[Path]:
    """The existing folders of `stage` for the instances (every dataset and key unless given)."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; one of {list(STAGES)}")
    root = Path(results) / "stages"
    datasets = [dataset] if dataset else sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    found = []
    for name in datasets:
        for instance in instances:
            folder = root / name / instance / stage
            found += [p for p in sorted(folder.glob(key or "*")) if p.is_dir()]
    return found


def invalidate(results, stage: str, instances, dataset: str | None = None, key: str | None = None) -> list[Path]:
    """Remove the matching stage folders, and what a failed job kept of them (amodal.run.salvage),
    so that no later attempt links them back; returns the stage folders removed."""
    removed = stage_folders(results, stage, instances, dataset, key)
    for folder in removed:
        shutil.rmtree(folder)
    shards = Path(results) / "shards"
    for instance in instances:
        for kept in shards.glob(f"{dataset or '*'}/{stage}/{key or '*'}/*.salvage/{instance}"):
            shutil.rmtree(kept)
    return removed
