"""Peak host memory of each stage per instance against the working image's side, on the CPU.

For each side, one synthetic scene of that size is made, and the demo's experiments
(config/config.yaml's, weight-free) are planned by amodal.plan.jobs and run job by job, each
in a fresh Python process of its own: the figure is that process's peak resident set (VmHWM)
less its resident set just before the job ran (libraries of amodal.run.job imported). A
least-squares line over the sides gives each stage's fixed cost and its bytes per pixel; the
last column is `Stage.bytes_per_pixel` as declared (amodal.declarations), which the jobs check
before each instance (amodal.run.memory).

    python benchmarks/memory_per_stage.py [--sides 512,1024,2048,4096] [--out DIR]

With --cluttered the scene's background is also cut into cells of 16 px by a grid of walls
(an object of the scene), so that background segmentation makes thousands of regions.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent

MEASURE = """
import json, sys
from amodal.run.job import run_job
from amodal.run.memory import resident_bytes, _status_field
job = json.load(open(sys.argv[1]))
before = resident_bytes()
run_job(job["kind"], job["spec"], job["key"], job["items"], job["manifest"], job["shared"], context=job["context"])
print(json.dumps({"before": before, "peak": _status_field("VmHWM")}))
"""


def plan(results: Path, side: int):
    from amodal.config.schema import validated
    from amodal.datasets.cache import load_dataset_cached
    from amodal.plan.jobs import Workplan
    from amodal.plan.keys import FolderKeys

    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["results"] = str(results)
    dataset = dict(next(iter(config["datasets"].values())), n_scenes=1, image_size=side)
    dataset.update(cutouts=str(ROOT / "data" / "cutouts"), backgrounds=str(ROOT / "data" / "backgrounds"))
    config["datasets"] = {"bench": dataset}
    config["wallpaper"] = str(ROOT / config["wallpaper"])
    experiments = {
        name: validated(
            yaml.safe_load((ROOT / config["experiments_dir"] / f"{name}.yaml").read_text()) or {},
            "experiment.schema.yaml",
        )
        for name in config["experiments"]
    }
    tables = {name: load_dataset_cached(name, spec, config["results"]) for name, spec in config["datasets"].items()}
    return Workplan(config, FolderKeys(experiments, config.get("models")), tables)


def clutter(scene_folder: Path, cell: int = 16, wall: int = 5) -> None:
    """Make the scene's first non-target object a grid of walls over the whole frame."""
    from amodal.imaging import io

    record = json.loads((scene_folder / "scene.json").read_text())
    other = next(o for o in record["objects"] if o["index"] != 0)
    shape = io.read_mask(scene_folder / other["mask"]).shape
    rows, cols = (np.arange(n) % (cell + wall) >= cell for n in shape)
    io.write_mask(scene_folder / other["mask"], rows[:, None] | cols[None, :])


def measure(side: int, folder: Path, cluttered: bool) -> dict[str, float]:
    """Peak MB beyond the job's start, per stage, for one scene of `side` px."""
    from amodal.run.job import run_job

    work = plan(folder / "results", side)
    peaks: dict[str, float] = defaultdict(float)
    for job in work.jobs:
        if job.kind == "scenes":
            run_job(job.kind, job.spec, job.key, job.items, job.manifest, job.shared)
            if cluttered:
                for item in job.items:
                    clutter(Path(item["folder"]))
            continue
        if job.kind == "collect":
            continue
        spec_file = folder / f"{job.rule}.json"
        spec_file.write_text(
            json.dumps(
                {
                    "kind": job.kind,
                    "spec": job.spec,
                    "key": job.key,
                    "items": job.items,
                    "manifest": job.manifest,
                    "shared": job.shared,
                    "context": job.context,
                }
            )
        )
        done = subprocess.run([sys.executable, "-c", MEASURE, str(spec_file)], capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"{job.rule} failed:\n{done.stderr[-3000:]}")
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        peaks[job.kind] = max(peaks[job.kind], (figures["peak"] - figures["before"]) / 2**20)
    return dict(peaks)


def main() -> None:
    from amodal.declarations import STAGES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", default="512,1024,2048,4096")
    parser.add_argument("--out", type=Path, default=None, help="work folder (default: a temporary one)")
    parser.add_argument("--cluttered", action="store_true", help="cut the background into thousands of regions")
    args = parser.parse_args()
    sides = [int(s) for s in args.sides.split(",")]
    by_side = {}
    with tempfile.TemporaryDirectory() as scratch:
        for side in sides:
            folder = (args.out or Path(scratch)) / f"side_{side}"
            folder.mkdir(parents=True, exist_ok=True)
            by_side[side] = measure(side, folder, args.cluttered)
            print(f"side {side}: " + ", ".join(f"{k} {v:.0f} MB" for k, v in by_side[side].items()), flush=True)
    print(
        f"\n{platform.node()} {platform.machine()}, Python {platform.python_version()}, sides {sides}"
        f"{', cluttered' if args.cluttered else ''}; peak resident MB beyond the job's start"
    )
    stages = list(by_side[sides[0]])
    print(
        "| stage | " + " | ".join(f"{s} px" for s in sides) + " | fit: fixed MB | fit: bytes/px | declared bytes/px |"
    )
    print("|---|" + "---|" * (len(sides) + 3))
    for stage in stages:
        pixels = np.array([s * s for s in sides], float)
        peak = np.array([by_side[s][stage] for s in sides]) * 2**20
        slope, fixed = np.polyfit(pixels, peak, 1) if len(sides) > 1 else (peak[0] / pixels[0], 0.0)
        cells = " | ".join(f"{by_side[s][stage]:.0f}" for s in sides)
        declared = STAGES[stage].bytes_per_pixel
        print(f"| {stage} | {cells} | {fixed / 2**20:.0f} | {slope:.1f} | {declared:g} |")


if __name__ == "__main__":
    main()
