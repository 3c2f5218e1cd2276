"""Instances per hour on one GPU, three ways on the same N benchmark scenes (issue 10):

1. ours: the workflow's shard jobs through Snakemake (`--resources gpu=1`), one GPU shard; part
   `fused` runs the same with config `fuse: {gpu: true}` (a shard's GPU stages in one job);
2. seed schedule: the same stages called the way the reference implementation calls its models,
   in one process, one instance at a time (`amodal.run.one_image.complete_image` per instance) with
   SAM rebuilt from its checkpoint before every segmentation, GroundingDINO run twice per
   detection, and every model reloaded every 5 instances;
3. floor: the FLOPs one instance needs (counted by torch's FlopCounterMode on one instance run
   our way) times N, divided by the card's fp16 matmul ceiling measured in the same call.

Full-size architectures with random weights (benchmarks/paper_gpu.py's checkpoints), paper.yaml
with `max_boxes` bounded (random GroundingDINO weights keep ~900 boxes a caption), passes forced
to `--passes` (`complete.stop_early: false`, no seed pass count) so that every way does equal work.

    python benchmarks/throughput_gpu.py --out DIR [--n 32] [--seed-n 8] [--parts ours,seed,floor]
    python benchmarks/throughput_gpu.py --out DIR --smoke     # tiny models on the CPU, 64 px, 2 steps

The seed schedule is slow (tens of seconds an instance); `--seed-n` runs it on the first K of the
N scenes and reports its rate per instance. Every part writes DIR/throughput.json as it ends.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "tests"))

RESULT: dict = {}


def save(out: Path) -> None:
    (out / "throughput.json").write_text(json.dumps(RESULT, indent=1, default=str))


def experiment(work: Path, passes: int, max_boxes: int, smoke: bool) -> Path:
    spec = yaml.safe_load((ROOT / "config" / "experiments" / "paper.yaml").read_text())
    for stage in ("ground", "segment"):
        spec[stage]["grounded_sam"]["max_boxes"] = max_boxes
    spec["complete"].update(max_passes=passes, seed_pass_count=False, stop_early=False)
    if smoke:  # the tiny UNet at 512 px and 50 steps takes minutes an instance on a CPU
        spec["complete"]["size"] = 64
        spec["complete"]["diffusers"].update(steps=2, dtype="float32")
    folder = work / "experiments"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "throughput.yaml").write_text(yaml.safe_dump(spec))
    return folder


def run_ours(args, models: dict, experiments: Path, part: str = "ours") -> None:
    work = args.work / part
    work.mkdir(parents=True, exist_ok=True)
    config = {
        "results": str(work / "results"),
        "experiments": ["throughput"],
        "experiments_dir": str(experiments),
        "wallpaper": str(ROOT / "data" / "seed_examples" / "gray_wallpaper.jpeg"),
        "models": models,
        "shard_size": {"cpu": args.cpu_shard, "gpu": args.n},
        "datasets": {
            "bench": {
                "format": "synthetic",
                "n_scenes": args.n,
                "seed": 0,
                "image_size": 512,
                "cutouts": str(ROOT / "data" / "cutouts"),
                "backgrounds": str(ROOT / "data" / "backgrounds"),
            }
        },
        "fuse": {"gpu": part == "fused"},
    }
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(work),
        "--configfile",
        str(work / "config.yaml"),
        "--cores",
        str(args.cores),
        "--resources",
        "gpu=1",
        "--keep-going",
    ]
    start = time.perf_counter()
    with open(args.out / f"{part}_snakemake.log", "w") as log:
        rc = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - start
    stages = {}
    for tsv in (work / "results" / "benchmarks").rglob("*.tsv"):
        with open(tsv) as handle:
            stages[str(tsv.relative_to(work / "results" / "benchmarks"))] = float(
                next(csv.DictReader(handle, delimiter="\t"))["s"]
            )
    batches, checks, parts, loads = [], [], [], []  # the jobs' own log lines: one per pipeline call, one per pass check
    for log_file in (work / "results" / "logs").rglob("*.log"):
        text = log_file.read_text(errors="replace")
        for m in re.finditer(
            r"inpainted (\d+) at (\d+) px, (\d+) steps in ([\d.]+) s(?:, UNet ([\d.]+) s in (\d+) forwards)?", text
        ):
            batches.append(
                {
                    "batch": int(m[1]),
                    "size": int(m[2]),
                    "steps": int(m[3]),
                    "s": float(m[4]),
                    "unet_s": float(m[5]) if m[5] else None,
                    "unet_forwards": int(m[6]) if m[6] else None,
                }
            )
        for m in re.finditer(r"checked (\d+) completions \(re-segment, re-order\) in ([\d.]+) s", text):
            checks.append({"batch": int(m[1]), "s": float(m[2])})
        for m in re.finditer(
            r"checked (\d+) completions: GroundingDINO ([\d.]+) s \((\d+) boxes\), SAM ([\d.]+) s, "
            r"order and masks ([\d.]+) s",
            text,
        ):
            parts.append(
                {
                    "completions": int(m[1]),
                    "grounding_dino_s": float(m[2]),
                    "boxes": int(m[3]),
                    "sam_s": float(m[4]),
                    "order_and_masks_s": float(m[5]),
                }
            )
        for m in re.finditer(r"loaded (\S+) (\S+) in ([\d.]+) s", text):
            loads.append(
                {
                    "job": str(log_file.relative_to(work / "results" / "logs")),
                    "model": f"{m[1]} {m[2]}",
                    "s": float(m[3]),
                }
            )
    RESULT[part] = {
        "command": " ".join(command),
        "rc": rc,
        "wall_s": wall,
        "instances": args.n,
        "instances_per_hour": 3600 * args.n / wall,
        "stage_job_s": stages,
        "inpaint_calls": batches,
        "pass_checks": checks,
        "pass_check_parts": parts,
        "model_loads": loads,
    }
    shutil.copytree(work / "results" / "logs", args.out / f"{part}_logs", dirs_exist_ok=True)


def run_fused(args, models: dict, experiments: Path) -> None:
    run_ours(args, models, experiments, part="fused")


def run_seed(args, models: dict, experiments: Path) -> None:
    """complete_image per instance, in the seed's pattern of model use."""
    from amodal.models import grounding_dino
    from amodal.models.cache import ModelCache
    from amodal.run.one_image import complete_image

    scenes = sorted((args.work / "ours" / "results" / "datasets" / "bench").glob("scene_*"))[: args.seed_n]
    if not scenes:
        raise SystemExit("the seed schedule runs on ours' scenes: run --parts ours first (same --work)")
    counts = {"sam_rebuilds": 0, "dino_calls": 0, "reloads": 0}
    cache = ModelCache(models)  # every instance's models, kept between them as the seed keeps them
    original_sam, original_detect = cache.sam_segmenter, grounding_dino.Grounder.detect

    def rebuilt_sam(name):  # the seed builds SAM from its checkpoint on every segmentation
        cache.forget("sam")
        counts["sam_rebuilds"] += 1
        return original_sam(name)

    def detect_twice(self, image, caption):  # the seed runs GroundingDINO twice per segmentation
        counts["dino_calls"] += 2
        original_detect(self, image, caption)
        return original_detect(self, image, caption)

    cache.sam_segmenter, grounding_dino.Grounder.detect = rebuilt_sam, detect_twice
    per_instance = []
    start = time.perf_counter()
    try:
        for i, scene in enumerate(scenes):
            if i % 5 == 0:  # the seed's batch script reloads every model every 5 images
                cache.forget()
                counts["reloads"] += 1
            query = json.loads((scene / "scene.json").read_text())["query"]
            t0 = time.perf_counter()
            done = complete_image(
                scene / "image.png",
                query,
                experiment="throughput",
                experiments_dir=experiments,
                out=args.work / "seed" / scene.name,
                models=models,
                cache=cache,
            )
            per_instance.append({"instance": scene.name, "s": time.perf_counter() - t0, "status": done["status"]})
            wall = time.perf_counter() - start  # saved after every instance: a killed run keeps its rate so far
            RESULT["seed"] = {
                "instances": len(per_instance),
                "wall_s": wall,
                "instances_per_hour": 3600 * len(per_instance) / wall,
                "per_instance": per_instance,
                **counts,
            }
            save(args.out)
            print(f"seed schedule: {scene.name} in {per_instance[-1]['s']:.1f} s", flush=True)
    finally:
        grounding_dino.Grounder.detect = original_detect


def run_floor(args, models: dict, experiments: Path) -> None:
    """FLOPs of one instance run our way (models loaded before counting), and the matmul ceiling."""
    from torch.utils.flop_counter import FlopCounterMode

    from amodal.models.cache import ModelCache
    from amodal.run.one_image import complete_image

    cache = ModelCache(models)  # the warm-up's models serve the counted run
    # The first scene that completes (a random-weight grounding can reject a query: no inpainting then).
    for scene in sorted((args.work / "ours" / "results" / "datasets" / "bench").glob("scene_*")):
        query = json.loads((scene / "scene.json").read_text())["query"]
        done = complete_image(
            scene / "image.png",
            query,
            experiment="throughput",
            experiments_dir=experiments,
            out=args.work / "floor_warm" / scene.name,
            models=models,
            cache=cache,
        )  # loads every model outside the count
        if done["status"] == "ok":
            break
    counter = FlopCounterMode(display=False)
    with counter:
        complete_image(
            scene / "image.png",
            query,
            experiment="throughput",
            experiments_dir=experiments,
            out=args.work / "floor",
            models=models,
            cache=cache,
        )
    flops = counter.get_total_flops()
    by_module = {
        k: v
        for k, v in sorted(
            ((str(k), sum(d.values())) for k, d in counter.get_flop_counts().items()), key=lambda kv: -kv[1]
        )[:12]
    }
    unet_flops = None
    pipe = next(iter(cache.loaded("inpaint")), None)
    if pipe is not None:
        unet = pipe.pipeline.unet
        size = 8 if args.smoke else 64
        sample = torch.randn(2, unet.config.in_channels, size, size, device=unet.device, dtype=unet.dtype)
        text = torch.randn(2, 77, unet.config.cross_attention_dim, device=unet.device, dtype=unet.dtype)
        one = FlopCounterMode(display=False)
        with one, torch.inference_mode():
            unet(sample, torch.tensor([500], device=unet.device), encoder_hidden_states=text)
        unet_flops = one.get_total_flops() / 2  # per sample-forward
    ceiling = matmul_ceiling(args.smoke)
    RESULT["floor"] = {
        "scene": scene.name,
        "flops_per_instance": flops,
        "top_modules": by_module,
        "unet_flops_per_sample_forward": unet_flops,
        "matmul_ceiling_tflops": ceiling / 1e12,
        "floor_s": args.n * flops / ceiling,
        "instances_per_hour": 3600 * ceiling / flops,
    }


def matmul_ceiling(smoke: bool) -> float:
    """FLOP/s of a large fp16 matmul (fp32 on the CPU), the best of 5 timed runs of 10."""
    device = "cuda" if torch.cuda.is_available() else "cpu"
    n, dtype = (512, torch.float32) if smoke or device == "cpu" else (8192, torch.float16)
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(6):
        if device == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(10):
            a @ b
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return 10 * 2 * n**3 / best


def summary() -> None:
    ours, seed, floor, fused = RESULT.get("ours"), RESULT.get("seed"), RESULT.get("floor"), RESULT.get("fused")
    lines = []
    for name, run in (("ours", ours), ("ours fused", fused)):
        if run:
            lines.append(
                f"{name}: {run['instances']} instances in {run['wall_s']:.1f} s = {run['instances_per_hour']:.0f}/h "
                f"(rc {run['rc']})"
            )
    if seed:
        lines.append(
            f"seed schedule: {seed['instances']} instances in {seed['wall_s']:.1f} s = {seed['instances_per_hour']:.0f}/h "
            f"({seed['sam_rebuilds']} SAM rebuilds, {seed['dino_calls']} GroundingDINO calls, {seed['reloads']} reloads)"
        )
    for key, label, top, bottom in (
        ("ratio_fused_over_ours", "fused / ours", fused, ours),
        ("ratio_ours_over_seed", "ours / seed schedule", ours, seed),
        ("ratio_fused_over_seed", "fused / seed schedule", fused, seed),
    ):
        if top and bottom:
            RESULT[key] = top["instances_per_hour"] / bottom["instances_per_hour"]
            lines.append(f"{label}: {RESULT[key]:.2f}x")
    if floor:
        lines.append(
            f"floor: {floor['flops_per_instance'] / 1e12:.2f} TFLOP an instance, ceiling "
            f"{floor['matmul_ceiling_tflops']:.1f} TFLOP/s: {floor['instances_per_hour']:.0f}/h"
        )
    if fused:
        for name, seconds in sorted(fused["stage_job_s"].items()):
            lines.append(f"  fused run, job {name}: {seconds:.1f} s")
    if ours:
        for name, seconds in sorted(ours["stage_job_s"].items()):
            lines.append(f"  job {name}: {seconds:.1f} s")
        calls, checks = ours["inpaint_calls"], ours["pass_checks"]
        if calls:
            lines.append(
                f"  inside complete: {len(calls)} inpainting calls {sum(c['s'] for c in calls):.1f} s "
                f"(UNet {sum(c['unet_s'] or 0 for c in calls):.1f} s), "
                f"{len(checks)} pass checks {sum(c['s'] for c in checks):.1f} s"
            )
        parts = ours["pass_check_parts"]
        if parts:
            lines.append(
                f"  inside the pass checks: GroundingDINO {sum(p['grounding_dino_s'] for p in parts):.1f} s "
                f"({sum(p['boxes'] for p in parts)} boxes), SAM {sum(p['sam_s'] for p in parts):.1f} s, "
                f"order and masks {sum(p['order_and_masks_s'] for p in parts):.1f} s"
            )
    if ours and floor and floor["unet_flops_per_sample_forward"] and ours["inpaint_calls"]:
        calls = ours["inpaint_calls"]
        ceiling = floor["matmul_ceiling_tflops"] * 1e12
        work = sum(2 * c["batch"] * c["steps"] for c in calls) * floor["unet_flops_per_sample_forward"]
        seconds = sum(c["s"] for c in calls)
        RESULT["inpaint_call_share_of_ceiling"] = work / seconds / ceiling
        lines.append(
            f"inpainting calls inside ours: {work / seconds / 1e12:.0f} TFLOP/s of UNet work = "
            f"{100 * RESULT['inpaint_call_share_of_ceiling']:.0f}% of the ceiling (whole calls: VAE, text encoder, scheduler)"
        )
        timed = [c for c in calls if c["unet_s"]]
        if timed:
            unet_work = sum(c["unet_forwards"] * 2 * c["batch"] for c in timed) * floor["unet_flops_per_sample_forward"]
            unet_s = sum(c["unet_s"] for c in timed)
            RESULT["unet_share_of_ceiling"] = unet_work / unet_s / ceiling
            lines.append(
                f"UNet forwards inside ours (CUDA events): {unet_work / unet_s / 1e12:.0f} TFLOP/s = "
                f"{100 * RESULT['unet_share_of_ceiling']:.0f}% of the ceiling"
            )
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("/tmp/throughput"))
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--seed-n", type=int, default=8, help="scenes the seed schedule runs (the first K of N)")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--max-boxes", type=int, default=20)
    parser.add_argument("--cores", type=int, default=16)
    parser.add_argument(
        "--cpu-shard", type=int, default=4, help="instances per CPU-stage job (GPU stages: one shard of N)"
    )
    parser.add_argument("--parts", default="ours,fused,floor,seed")
    parser.add_argument("--smoke", action="store_true", help="tiny random-weight models on the CPU")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    if args.smoke:
        from tiny_models import write_tiny_checkpoints

        models = write_tiny_checkpoints(args.work / "weights")
    else:
        from paper_gpu import write_checkpoints

        models = write_checkpoints(args.work / "weights")
    RESULT.update(
        device=torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        torch=torch.__version__,
        argv=sys.argv[1:],
    )
    experiments = experiment(args.work, args.passes, args.max_boxes, args.smoke)
    # The seed schedule last: it is the slow part, and it saves its rate after every instance.
    for part, run in (("ours", run_ours), ("fused", run_fused), ("floor", run_floor), ("seed", run_seed)):
        if part in args.parts.split(","):
            start = time.perf_counter()
            run(args, models, experiments)
            print(f"{part} done in {time.perf_counter() - start:.1f} s", flush=True)
            save(args.out)
    summary()
    save(args.out)


if __name__ == "__main__":
    main()
