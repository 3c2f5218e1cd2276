"""Peak host memory of each stage per instance against the working image's side, on the CPU.

For each side, one synthetic scene of that size is made, and the demo's experiments
(config/config.yaml's, weight-free) are planned by amodal.plan.jobs and run job by job, each
in a fresh Python process of its own: the figure is that process's peak resident set (VmHWM)
less its resident set just before the job ran (libraries of amodal.run.job imported). A
least-squares line over the sides gives each stage's fixed cost and its bytes per pixel; the
last column is `Stage.bytes_per_pixel` as declared (amodal.declarations), which the jobs check
before each instance (amodal.run.memory).

    python benchmarks/memory_per_stage.py [--sides 512,1024,2048,4096] [--out DIR]

With --weights DIR it runs paper.yaml instead, its networks at full size with random weights
(written to DIR, or reused), GroundingDINO's boxes capped by --max-boxes (random weights keep
~900); on a GPU machine the networks run there and the figures are host memory.

With --tiny DIR it runs the tests' tiny-model experiment (tests/test_workflow_models.py: the
paper's model backends, small random-weight networks, 64 px inpainting) on the CPU instead.

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
run_job(job["kind"], job["spec"], job["key"], job["items"], job["manifest"], job["shared"], models=job["models"], context=job["context"])
print(json.dumps({"before": before, "peak": _status_field("VmHWM")}))
"""


def plan(results: Path, side: int, models: dict | None = None, max_boxes: int | None = None, ground=None):
    """The demo's experiments (or, with `models`, paper.yaml with `max_boxes`, and its ground
    backend replaced by `ground` when given) on one scene."""
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
    folder = ROOT / config["experiments_dir"]
    specs = {name: yaml.safe_load((folder / f"{name}.yaml").read_text()) or {} for name in config["experiments"]}
    if models is not None:
        config["models"] = models
        specs = {"tiny_models": tiny_experiment()} if models.get("device") == "cpu" else {"paper": specs_of("paper")}
    for spec in specs.values() if max_boxes else []:
        for stage in ("ground", "segment"):
            spec.setdefault(stage, {}).setdefault("grounded_sam", {})["max_boxes"] = max_boxes
        if ground:
            spec["ground"]["backend"] = ground
    experiments = {name: validated(spec, "experiment.schema.yaml") for name, spec in specs.items()}
    tables = {name: load_dataset_cached(name, spec, config["results"]) for name, spec in config["datasets"].items()}
    return Workplan(config, FolderKeys(experiments, config.get("models")), tables)


def specs_of(name: str) -> dict:
    return yaml.safe_load((ROOT / "config" / "experiments" / f"{name}.yaml").read_text()) or {}


def tiny_experiment() -> dict:
    """The tests' tiny-model experiment (tests/test_workflow_models.py): the paper's model
    backends with small inputs, on the CPU."""
    sys.path.insert(0, str(ROOT / "tests"))
    from test_workflow_models import EXPERIMENT

    return dict(EXPERIMENT)


def clutter(scene_folder: Path, cell: int = 16, wall: int = 5) -> None:
    """Make the scene's first non-target object a grid of walls over the whole frame."""
    from amodal.imaging import io

    record = json.loads((scene_folder / "scene.json").read_text())
    other = next(o for o in record["objects"] if o["index"] != 0)
    shape = io.read_mask(scene_folder / other["mask"]).shape
    rows, cols = (np.arange(n) % (cell + wall) >= cell for n in shape)
    io.write_mask(scene_folder / other["mask"], rows[:, None] | cols[None, :])


def measure(side: int, folder: Path, cluttered: bool, models=None, max_boxes=None, ground=None) -> dict[str, float]:
    """Peak MB beyond the job's start, per stage, for one scene of `side` px (a stage whose
    instance failed is named with its status)."""
    from amodal.run.job import run_job
    from amodal.imaging import io

    work = plan(folder / "results", side, models, max_boxes, ground)
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
                    "models": models,
                }
            )
        )
        done = subprocess.run([sys.executable, "-c", MEASURE, str(spec_file)], capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"{job.rule} failed:\n{done.stderr[-3000:]}")
        figures = json.loads(done.stdout.strip().splitlines()[-1])
        statuses = set(io.read_json(job.manifest)["instances"].values())
        name = job.kind if statuses == {"ok"} else f"{job.kind} ({'/'.join(sorted(statuses))})"
        peaks[name] = max(peaks[name], (figures["peak"] - figures["before"]) / 2**20)
    return dict(peaks)


def main() -> None:
    from amodal.declarations import STAGES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sides", default="512,1024,2048,4096")
    parser.add_argument("--out", type=Path, default=None, help="work folder (default: a temporary one)")
    parser.add_argument("--cluttered", action="store_true", help="cut the background into thousands of regions")
    parser.add_argument(
        "--weights",
        type=Path,
        default=None,
        help="run paper.yaml with full-size random-weight checkpoints written (or reused) here "
        "(benchmarks/paper_gpu.py's writer; on the GPU when models.device finds one)",
    )
    parser.add_argument(
        "--tiny",
        type=Path,
        default=None,
        help="run the tests' tiny-model experiment on the CPU, its random-weight checkpoints written here",
    )
    parser.add_argument("--max-boxes", type=int, default=20, help="grounded_sam.max_boxes with --weights or --tiny")
    parser.add_argument(
        "--ground",
        default=None,
        help="with --weights, paper.yaml's ground backend replaced (oracle: random weights fail the "
        "validity test, and every later stage would skip the instance)",
    )
    args = parser.parse_args()
    models = None
    if args.weights:
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from paper_gpu import write_checkpoints

        models = write_checkpoints(args.weights)
    elif args.tiny:
        sys.path.insert(0, str(ROOT / "tests"))
        from tiny_models import write_tiny_checkpoints

        models = write_tiny_checkpoints(args.tiny)
    sides = [int(s) for s in args.sides.split(",")]
    by_side = {}
    with tempfile.TemporaryDirectory() as scratch:
        for side in sides:
            folder = (args.out or Path(scratch)) / f"side_{side}"
            folder.mkdir(parents=True, exist_ok=True)
            by_side[side] = measure(
                side, folder, args.cluttered, models, args.max_boxes if models else None, args.ground
            )
            print(f"side {side}: " + ", ".join(f"{k} {v:.0f} MB" for k, v in by_side[side].items()), flush=True)
    print(
        f"\n{platform.node()} {platform.machine()}, Python {platform.python_version()}, sides {sides}"
        f"{', cluttered' if args.cluttered else ''}"
        f"{f', paper.yaml at full size (random weights), max_boxes {args.max_boxes}' if args.weights else ''}"
        f"{f', the tests tiny models, max_boxes {args.max_boxes}' if args.tiny else ''}"
        f"{f', ground {args.ground}' if args.ground else ''}"
        "; peak resident MB beyond the job's start"
    )
    stages = list(dict.fromkeys(stage for side in sides for stage in by_side[side]))
    print(
        "| stage | " + " | ".join(f"{s} px" for s in sides) + " | fit: fixed MB | fit: bytes/px | declared bytes/px |"
    )
    print("|---|" + "---|" * (len(sides) + 3))
    for stage in stages:
        pixels = np.array([s * s for s in sides], float)
        if not all(stage in by_side[s] for s in sides):  # its status differed between the sides
            print(
                f"| {stage} | " + " | ".join(f"{by_side[s].get(stage, float('nan')):.0f}" for s in sides) + " | | | |"
            )
            continue
        peak = np.array([by_side[s][stage] for s in sides]) * 2**20
        slope, fixed = np.polyfit(pixels, peak, 1) if len(sides) > 1 else (peak[0] / pixels[0], 0.0)
        cells = " | ".join(f"{by_side[s][stage]:.0f}" for s in sides)
        declared = STAGES[stage.split(" ")[0]].bytes_per_pixel
        print(f"| {stage} | {cells} | {fixed / 2**20:.0f} | {slope:.1f} | {declared:g} |")


if __name__ == "__main__":
    main()
