"""Seconds per instance of the weight-free path (ground, segment, order, complete, rgba, evaluate)
on 512-px synthetic-benchmark scenes, in one process: the algorithms' cost without Snakemake's
per-job start-up. Prints a table per stage and the total.

    python benchmarks/classical_speed.py [--n 12] [--size 512] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import yaml
from snakemake.utils import validate

from amodal import io
from amodal.benchmark import make_benchmark
from amodal.complete import complete, make_backend
from amodal.evaluate import GroundTruth, instance_record
from amodal.ground import ground_oracle
from amodal.order import geometric_order, occluder_mask
from amodal.rgba import deliverable
from amodal.segment import segment_oracle
from amodal.truth import load_truth

ROOT = Path(__file__).resolve().parent.parent


def experiment(name: str) -> dict:
    spec = yaml.safe_load((ROOT / "config" / "experiments" / f"{name}.yaml").read_text())
    validate(spec, str(ROOT / "workflow" / "schemas" / "experiment.schema.yaml"))
    return spec


def run_instance(scene_json: Path, spec: dict, wallpaper) -> dict[str, float]:
    times = {}
    start = time.perf_counter()

    def lap(name):
        nonlocal start
        now = time.perf_counter()
        times[name] = now - start
        start = now

    truth = load_truth(scene_json)
    image = io.read_rgb(scene_json.parent / "image.png")
    lap("load")
    visible, _ = ground_oracle(truth, spec["ground"])
    lap("ground")
    segments, record = segment_oracle(truth, visible, spec["segment"])
    lap("segment")
    order = geometric_order(visible, segments, record["segments"], spec["order"])
    occluders = occluder_mask(segments, order["occluders"], visible)
    lap("order")
    result = complete(image, visible, occluders, truth.category, spec["complete"], wallpaper, make_backend(spec["complete"]))
    lap("complete")
    rgba, offset = deliverable(image, visible, result.status, result.completion, result.amodal, result.region, spec["rgba"])
    lap("rgba")
    gt = GroundTruth(truth.visible, truth.amodal_in_frame, truth.whole, truth.whole_offset)
    instance_record(image, visible, rgba, offset, gt=gt)
    lap("evaluate")
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=12)
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--experiment", default="baseline_classical")
    args = parser.parse_args()
    spec = experiment(args.experiment)
    wallpaper = io.read_rgb(ROOT / "data" / "seed_examples" / "gray_wallpaper.jpeg")
    with tempfile.TemporaryDirectory() as folder:
        table = make_benchmark(folder, cutouts_dir=ROOT / "data" / "cutouts", backgrounds_dir=ROOT / "data" / "backgrounds",
                               n_scenes=args.n, seed=0, image_size=args.size)
        scenes = [Path(folder) / gt for gt in table["gt"]]
        runs = []
        for _ in range(args.repeat):
            for scene in scenes:
                runs.append(run_instance(scene, spec, wallpaper))
    stages = list(runs[0])
    totals = [sum(r.values()) for r in runs]
    print(f"classical path, {args.experiment}, {args.n} scenes of {args.size} px x {args.repeat} repeats")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, one process, CPU only")
    print(f"{'stage':<10} {'mean s':>8} {'max s':>8}")
    for stage in stages:
        values = [r[stage] for r in runs]
        print(f"{stage:<10} {statistics.mean(values):8.3f} {max(values):8.3f}")
    print(f"{'total':<10} {statistics.mean(totals):8.3f} {max(totals):8.3f}   seconds per instance (goal <= 2 s)")


if __name__ == "__main__":
    main()
