"""The demo's work in one process on one core: the same jobs `make demo` runs (its scenes, both
experiments, collect, tables, visual report), planned by amodal.plan.jobs from config/config.yaml
and run by amodal.run.job, with no Snakemake and no process per job. Prints seconds per instance
per stage.

    python benchmarks/classical_speed.py [--config config/config.yaml] [--out DIR]

With --workflow it then runs the demo workflow itself (`snakemake --cores 2`, fresh results
folder) in the same run and prints the ratio of the two wall times: the workflow's overhead.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import cv2
import yaml
from snakemake.utils import validate

from amodal.config.schema import SCHEMAS, validated
from amodal.datasets.cache import load_dataset_cached
from amodal.plan.keys import FolderKeys
from amodal.report.html import build_report, instance_rows
from amodal.tables.paper_files import write_ground_truth_tables, write_paper_tables
from amodal.tables.render import aggregate_experiment, compare_experiments
from amodal.run.job import run_job
from amodal.plan.jobs import Workplan

ROOT = Path(__file__).resolve().parent.parent


def load_config(path: Path, results: str) -> tuple[dict, FolderKeys]:
    config = yaml.safe_load(path.read_text())
    config["results"] = results
    validate(config, str(SCHEMAS / "config.schema.yaml"))
    experiments = {}
    for name in config["experiments"]:
        spec = yaml.safe_load((ROOT / config["experiments_dir"] / f"{name}.yaml").read_text()) or {}
        experiments[name] = validated(spec, "experiment.schema.yaml")  # backend lists from the declarations
    return config, FolderKeys(experiments, config.get("models"))


def run_in_process(config: dict, plan: FolderKeys) -> dict[str, float]:
    """Seconds spent per job kind (scenes, each stage, collect, tables, report)."""
    spent: dict[str, float] = defaultdict(float)
    start = time.perf_counter()
    tables = {name: load_dataset_cached(name, spec, config["results"]) for name, spec in config["datasets"].items()}
    work = Workplan(config, plan, tables)
    spent["plan"] += time.perf_counter() - start
    for job in work.jobs:
        start = time.perf_counter()
        run_job(
            job.kind,
            job.spec,
            job.key,
            job.items,
            job.manifest,
            job.shared,
            models=config.get("models"),
            context=job.context,
        )
        spent[job.kind] += time.perf_counter() - start
    start = time.perf_counter()
    for dataset in config["datasets"]:
        summaries = []
        for experiment in config["experiments"]:
            folder = Path(config["results"]) / experiment / dataset
            aggregate_experiment(
                work.metrics_files(experiment, dataset),
                not_ok=work.not_ok(dataset),
                experiment=experiment,
                dataset=dataset,
                description="",
                evaluate=plan.experiments[experiment]["evaluate"],
                csv_path=folder / "metrics.csv",
                table_path=folder / "table.md",
                summary_path=folder / "summary.json",
                instances=work.rows[dataset],
            )
            summaries.append(folder / "summary.json")
        tables_dir = Path(config["results"]) / "tables"
        compare_experiments(
            summaries,
            experiments=config["experiments"],
            descriptions={},
            dataset=dataset,
            table_path=tables_dir / f"{dataset}.md",
            csv_path=tables_dir / f"{dataset}.csv",
        )
        per_instance = [Path(config["results"]) / e / dataset / "metrics.csv" for e in config["experiments"]]
        paper = dict(
            experiments=config["experiments"],
            settings={},
            dataset=dataset,
            bootstrap_settings=config["tables"]["bootstrap"],
        )
        write_paper_tables(
            summaries,
            per_instance,
            **paper,
            reference=config["tables"]["reference"],
            outputs=_table_files(tables_dir / dataset, ("methods", "failures")),
        )
        if any(row["gt"] for row in work.rows[dataset].values()):
            write_ground_truth_tables(
                summaries,
                per_instance,
                **paper,
                outputs=_table_files(tables_dir / dataset, ("ground_truth", "ground_truth_by_category")),
            )
    spent["tables"] += time.perf_counter() - start
    start = time.perf_counter()
    results = Path(config["results"])
    build_report(
        results / "report",
        cache_dir=results / ".cache" / "report",
        experiments=config["experiments"],
        instances=instance_rows(work.rows),
        comparison_tables={
            d: (results / "tables" / f"{d}.md", results / "tables" / f"{d}.csv") for d in config["datasets"]
        },
        experiment_tables={
            (e, d): (results / e / d / "table.md", results / e / d / "metrics.csv")
            for d in config["datasets"]
            for e in config["experiments"]
        },
        paper_tables={
            d: [
                (p.stem, p, p.with_suffix(".csv"), p.with_suffix(".tex"))
                for p in sorted((results / "tables" / d).glob("*.md"))
            ]
            for d in config["datasets"]
        },
    )
    spent["report"] += time.perf_counter() - start
    return dict(spent), work


def _table_files(folder: Path, names) -> dict:
    return {f"{name}_{ext}": folder / f"{name}.{ext}" for name in names for ext in ("csv", "md", "tex")}


def run_workflow(config_path: Path, cores: int, shard_size: int | None = None) -> float:
    """Wall seconds of `snakemake --cores N` on the same config in a fresh folder."""
    with tempfile.TemporaryDirectory() as folder:
        config = yaml.safe_load(config_path.read_text())
        config["experiments_dir"] = str(ROOT / config["experiments_dir"])
        config["wallpaper"] = str(ROOT / config["wallpaper"])
        if shard_size:
            config["shard_size"] = shard_size
        for spec in config["datasets"].values():
            for key in ("cutouts", "backgrounds"):
                spec.setdefault(key, str(ROOT / "data" / key))
        (Path(folder) / "config.yaml").write_text(yaml.safe_dump(config))
        snakemake = Path(sys.executable).parent / "snakemake"
        command = [
            str(snakemake),
            "--snakefile",
            str(ROOT / "Snakefile"),
            "--directory",
            folder,
            "--configfile",
            str(Path(folder) / "config.yaml"),
            "--profile",
            str(ROOT / "profiles" / "local"),
            "--cores",
            str(cores),
            "--quiet",
        ]
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=dict(os.environ, HF_HUB_OFFLINE="1"))
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", type=Path, default=ROOT / "config" / "config.yaml")
    parser.add_argument("--workflow", action="store_true", help="also time the workflow and print the ratio")
    parser.add_argument("--cores", type=int, default=2, help="cores for the workflow run (default 2)")
    parser.add_argument("--shard-size", type=int, default=None, help="override config shard_size (both classes)")
    args = parser.parse_args()
    os.chdir(ROOT)  # the demo config's relative paths (cutouts, wallpaper) are relative to the repository
    cores = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(cores)})  # one core, as one job would have
    cv2.setNumThreads(1)
    logging.getLogger("amodal").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory() as results:
        config, plan = load_config(args.config, results)
        if args.shard_size:
            config["shard_size"] = args.shard_size
        start = time.perf_counter()
        spent, work = run_in_process(config, plan)
        in_process = time.perf_counter() - start
    os.sched_setaffinity(0, cores)
    n = sum(len(work.ok_ids(d)) for d in config["datasets"])
    print(
        f"the demo's work in one process: {n} instances x {len(config['experiments'])} experiments "
        f"({', '.join(config['experiments'])}), {len(work.jobs)} shard jobs"
    )
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, one process, CPU only")
    print(f"{'stage':<10} {'s/instance':>10} {'total s':>8}")
    for kind, seconds in spent.items():
        print(f"{kind:<10} {seconds / max(n, 1):10.3f} {seconds:8.2f}")
    print(f"{'total':<10} {in_process / max(n, 1):10.3f} {in_process:8.2f}")
    if args.workflow:
        wall = run_workflow(args.config, args.cores, args.shard_size)
        print(f"workflow, snakemake --cores {args.cores} --profile profiles/local, fresh folder: {wall:.2f} s")
        print(f"overhead ratio workflow / one process: {wall / in_process:.2f}x (goal <= 1.5x)")


if __name__ == "__main__":
    main()
