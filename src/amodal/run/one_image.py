"""One image, one query, every stage, in this process: the workflow's jobs for a one-instance
dataset named `single`, run one after the other, writing the same files under `out` as the
workflow writes under its results folder (stage folders, manifests, the experiment's
instance folder and table)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

DATASET = "single"


def complete_image(
    image,
    query: str,
    experiment: str = "paper",
    out="amodal_out",
    models: dict | None = None,
    experiments_dir=None,
    wallpaper=None,
    cache=None,
) -> dict:
    """Complete the object `query` names in `image`; returns the instance's collected files and
    status. `models` is a config `models` section (device, paths, architectures); every stage
    gets its networks from one ModelCache of it, or from `cache` (a `ModelCache` of the same
    `models`, to keep the networks loaded across calls)."""
    from amodal.datasets.image_header import probe_image_header
    from amodal.datasets.table import COLUMNS, safe_id
    from amodal.plan.preflight import missing_settings, missing_weights
    from amodal.plan.keys import FolderKeys
    from amodal.models.cache import ModelCache
    from amodal.run.job import run_job
    from amodal.config.schema import WALLPAPER, load_experiment, validated
    from amodal.tables.render import aggregate_experiment
    from amodal.datasets.working import bound_images
    from amodal.plan.jobs import Workplan

    name, spec = load_experiment(experiment, experiments_dir)
    config = {
        "results": str(out),
        "experiments": [name],
        "datasets": {DATASET: {"format": "seed"}},
        "models": models or {},
    }
    config["wallpaper"] = str(wallpaper or WALLPAPER)
    config = validated(config, "config.schema.yaml")
    missing = missing_weights({name: spec}, config["models"])
    if missing:
        raise FileNotFoundError("checkpoints are missing:\n" + "\n".join(missing))
    unset = missing_settings({name: spec}, config["models"])
    if unset:
        raise ValueError("settings are missing:\n" + "\n".join(unset))
    problem, size = probe_image_header(image)
    if problem:
        raise ValueError(f"{image} cannot be read as an image ({problem})")
    instance = safe_id(Path(image).stem)
    table = pd.DataFrame([[instance, str(image), query, "", "ok", ""]], columns=COLUMNS)
    # as in the workflow, a photo beyond the size bound runs on a scaled working copy
    table = bound_images(table, DATASET, config["datasets"][DATASET]["max_side"], out, pd.Series([size]))
    work = Workplan(config, FolderKeys({name: spec}, config["models"]), {DATASET: table})
    cache = cache if cache is not None else ModelCache(config["models"])  # one for every job of the image
    for job in work.jobs:
        run_job(
            job.kind,
            job.spec,
            job.key,
            job.items,
            job.manifest,
            job.shared,
            context=job.context,
            cache=cache,
        )
    folder = Path(out) / name / DATASET
    aggregate_experiment(
        work.metrics_files(name, DATASET),
        not_ok=[],
        experiment=name,
        dataset=DATASET,
        description=spec.get("description", ""),
        evaluate=spec["evaluate"],
        csv_path=folder / "metrics.csv",
        table_path=folder / "table.md",
        summary_path=folder / "summary.json",
    )
    collected = folder / instance
    from amodal.imaging import io

    placement = io.read_json(collected / "placement.json")
    return {
        "instance": instance,
        "folder": collected,
        "rgba": collected / "amodal.png",
        "status": placement["status"],
        "reason": placement.get("reason", ""),
        "offset_xy": placement.get("offset_xy"),
    }
