"""Running the real workflow in a throw-away folder, for the end-to-end tests."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from filelock import FileLock

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
EXPERIMENTS = ["baseline_classical", "oracle_order"]
# Result trees whose files must not depend on how instances were sharded. Logs, benchmarks,
# manifests and caches are about jobs, not instances, and are left out.
COMPARED = ("stages", "datasets", "tables", *EXPERIMENTS)


def make_workdir(folder: Path, n_scenes: int = 4, shard_size=3, **settings) -> Path:
    """A work folder with the classical experiments on `n_scenes` benchmark scenes; `settings`
    are further top-level config entries."""
    folder.mkdir(parents=True, exist_ok=True)
    write_config(folder, n_scenes, shard_size, **settings)
    return folder


def shared_run(tmp_path_factory, n_scenes: int = 4, shard_size=3) -> Path:
    """The classical experiments' finished run on `n_scenes` scenes (make_workdir), made once per
    test session and shared by every module and pytest-xdist worker (the first to ask runs it,
    under a lock; the others wait for it). Only read it: a test that changes a run works on
    copy_run's copy, so that no two tests share a mutable run."""
    base = tmp_path_factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:
        base = base.parent  # the workers' folders share this parent
    folder = base / f"shared_run_{n_scenes}_{shard_size}"
    done = folder.with_name(folder.name + ".done")
    with FileLock(str(folder) + ".lock"):
        if not done.is_file():
            shutil.rmtree(folder, ignore_errors=True)
            snakemake(make_workdir(folder, n_scenes, shard_size))
            done.touch()
    return folder


def copy_run(run: Path, folder: Path) -> Path:
    """A copy of the work folder `run` at `folder`, modification times kept: Snakemake finds the
    copy as finished as the original."""
    shutil.copytree(run, folder, symlinks=True)
    return folder


def write_config(folder: Path, n_scenes: int, shard_size, **settings) -> None:
    config = {
        "results": "results",
        "experiments_dir": str(ROOT / "config" / "experiments"),
        "experiments": EXPERIMENTS,
        "wallpaper": str(ROOT / "data" / "seed_examples" / "gray_wallpaper.jpeg"),
        "shard_size": shard_size,
        "datasets": {
            "bench": {
                "format": "synthetic",
                "n_scenes": n_scenes,
                "seed": 1,
                "image_size": 256,
                "cutouts": str(ROOT / "data" / "cutouts"),
                "backgrounds": str(ROOT / "data" / "backgrounds"),
            }
        },
        **settings,
    }
    (folder / "config").mkdir(exist_ok=True)
    (folder / "config" / "config.yaml").write_text(yaml.safe_dump(config))


def command(workdir: Path, *args: str) -> list[str]:
    return [str(SNAKEMAKE), "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir), "--cores", "2", *args]


def environment() -> dict:
    return dict(os.environ, HF_HUB_OFFLINE="1", PATH=f"{SNAKEMAKE.parent}:{os.environ['PATH']}")


def snakemake(workdir: Path, *args: str, timeout: float = 900) -> str:
    """Run the workflow locally, every job on one thread (the test workers share the cores; see
    conftest). `timeout` only guards against a hung run; it is not a speed check."""
    done = subprocess.run(
        command(workdir, "--max-threads", "1", *args),
        capture_output=True,
        text=True,
        env=environment(),
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return done.stdout + done.stderr


def planned_rules(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run: rule name -> jobs."""
    if "Nothing to be done" in output:
        return {}
    table = output.split("Job stats:")[1].split("Reasons:")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m.group(1) != "total"}


def job_counts(output: str) -> dict[str, int]:
    """Planned jobs by kind: shard rules (<kind>__<dataset>__...) are counted under their kind."""
    counts: dict[str, int] = {}
    for rule, n in planned_rules(output).items():
        kind = rule.split("__")[0]
        counts[kind] = counts.get(kind, 0) + n
    return counts


def result_files(workdir: Path) -> dict[str, bytes]:
    """Every instance and table file of a run, by path relative to results/."""
    results = workdir / "results"
    found = {}
    for top in COMPARED:
        for path in (results / top).rglob("*"):
            if path.is_file() and path.name != ".snakemake_timestamp":
                found[str(path.relative_to(results))] = path.read_bytes()
    return found


def run_with_tiny_models(
    workdir: Path,
    experiment: str,
    experiments_dir: Path,
    examples: list[str],
    scene_seed: int,
    scenes: int = 2,
    timeout: float = 900,
    fuse: dict | None = None,
) -> Path:
    """Seed example photos `examples` (no ground truth; none: no such dataset) and `scenes`
    benchmark scenes through the workflow with one experiment, on the tiny random-weight
    checkpoints; returns `workdir`. `fuse`: the config's (fused stage jobs give the same files,
    tests/test_workflow_sharding.py; they start one process and load each model once)."""
    from tiny_models import write_tiny_checkpoints

    seed = ROOT / "data" / "seed_examples"
    datasets = {
        "bench": {
            "format": "synthetic",
            "n_scenes": scenes,
            "seed": scene_seed,
            "image_size": 256,
            "cutouts": str(ROOT / "data" / "cutouts"),
            "backgrounds": str(ROOT / "data" / "backgrounds"),
        }
    }
    if examples:
        (workdir / "examples.txt").write_text("\n".join(f"{name}.jpg" for name in examples) + "\n")
        datasets = {
            "examples": {
                "format": "seed",
                "annotations": str(seed / "example_annotation.json"),
                "images": str(seed),
                "filenames": str(workdir / "examples.txt"),
            },
            **datasets,
        }
    config = {
        "results": "results",
        "experiments_dir": str(experiments_dir),
        "experiments": [experiment],
        "wallpaper": str(seed / "gray_wallpaper.jpeg"),
        "models": write_tiny_checkpoints(workdir / "weights"),
        "datasets": datasets,
        **({"fuse": fuse} if fuse else {}),
    }
    (workdir / "config").mkdir()
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake(workdir, timeout=timeout)
    return workdir


def stage_folders(workdir: Path, experiment: str, dataset: str, instance: str) -> dict[str, Path]:
    """The stage folders an experiment's instance was made from (its stages.json)."""
    stages = json.loads((workdir / "results" / experiment / dataset / instance / "stages.json").read_text())
    return {stage: workdir / folder for stage, folder in stages.items()}
