"""The paper experiment through the real workflow on a GPU, full-size architectures with random
weights: writes the checkpoints (benchmarks/models_gpu.py's writers; nothing downloaded), a
config pointing at them, then runs `snakemake` on N seed example photos and M benchmark scenes
and prints the seconds of every shard job (Snakemake's benchmark files) and the wall time.

    python benchmarks/paper_gpu.py --out DIR [--examples 2] [--scenes 2] [--cores 16]

Either count may be 0 to leave that dataset out (one dataset per device call fits its time limit).

Random weights make every output noise and GroundingDINO keeps nearly every query box (about
900 per caption), so the stage times are upper bounds of the real ones. Seen on one H200
(2026-11-29, 2 photos + 2 scenes, --cores 16): not finished within 9 minutes, the GPU idle most
of the time; segment and order then handle ~900 masks per image on the CPU. With --max-boxes 20
the 7 photos and the 8 scenes each finish in about 3.5 minutes (docs/PERFORMANCE.md).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from models_gpu import write_bert, write_sd2_inpainting  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def write_checkpoints(folder: Path, names: tuple[str, ...] | None = None) -> dict:
    """Random-weight checkpoints of every model the paper experiment loads (or only `names`,
    weights names such as "sam_vit_h"), and the config `models` section pointing at them; the full
    set is reused when an earlier call on the same machine wrote it."""
    from amodal.models.clip import build_clip
    from amodal.models.grounding_dino import build_grounding_dino
    from amodal.models.instaorder import build_instaorder
    from amodal.models.ram_plus import build_ram_plus
    from amodal.models.sam import build_sam

    written = folder / "models.json"
    if names is None and written.exists():
        return json.loads(written.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    wanted = set(
        names
        or (
            "sam_vit_h",
            "groundingdino_swint_ogc",
            "clip_vit_b32_openai",
            "sd2_inpainting",
            "ram_plus_swin_large_14m",
            "instaorder_od",
        )
    )
    paths = {"bert_base_uncased": str(write_bert(folder / "bert", smoke=False))}
    if "sam_vit_h" in wanted:
        torch.save(build_sam("vit_h").state_dict(), folder / "sam_vit_h.pth")
        paths["sam_vit_h"] = str(folder / "sam_vit_h.pth")
    if "groundingdino_swint_ogc" in wanted:
        torch.save(
            {"model": build_grounding_dino("swint_ogc", paths["bert_base_uncased"]).state_dict()}, folder / "dino.pth"
        )
        paths["groundingdino_swint_ogc"] = str(folder / "dino.pth")
    if "clip_vit_b32_openai" in wanted:
        torch.save(build_clip()[0].state_dict(), folder / "clip.pt")
        paths["clip_vit_b32_openai"] = str(folder / "clip.pt")
    if "sd2_inpainting" in wanted:
        write_sd2_inpainting(folder / "sd2", smoke=False)
        paths["sd2_inpainting"] = str(folder / "sd2")
    if "ram_plus_swin_large_14m" in wanted:
        ram_plus = build_ram_plus().state_dict()
        ram_plus["label_embed"] = torch.randn(ram_plus["label_embed"].shape) * 0.05
        torch.save({"model": ram_plus}, folder / "ram_plus.pth")
        del ram_plus
        paths["ram_plus_swin_large_14m"] = str(folder / "ram_plus.pth")
    if "instaorder_od" in wanted:
        torch.save({"state_dict": build_instaorder().state_dict()}, folder / "instaorder.pth.tar")
        paths["instaorder_od"] = str(folder / "instaorder.pth.tar")
    models = {"device": "cuda", "paths": paths}
    if names is None:
        written.write_text(json.dumps(models))
    return models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--work", type=Path, default=Path("/tmp/paper_gpu"))
    parser.add_argument(
        "--weights",
        type=Path,
        default=None,
        help="folder of the random-weight checkpoints (default WORK/weights; reused if written)",
    )
    parser.add_argument("--examples", type=int, default=2)
    parser.add_argument("--scenes", type=int, default=2)
    parser.add_argument("--cores", type=int, default=16)
    parser.add_argument("--timeout", type=float, default=None, help="stop snakemake after this many seconds")
    parser.add_argument("--gpus", type=int, default=1, help="--resources gpu=N: GPU jobs at once, one device each")
    parser.add_argument(
        "--gpu-shard-size", type=int, default=None, help="config shard_size.gpu (default: the config's)"
    )
    parser.add_argument(
        "--max-boxes",
        type=int,
        default=None,
        help="run paper.yaml with grounded_sam.max_boxes set (experiment 'paper_bounded'): random "
        "weights keep ~900 boxes a caption, real ones a few",
    )
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    args.work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    models = write_checkpoints(args.weights or args.work / "weights")
    written = time.perf_counter() - start
    seed = ROOT / "data" / "seed_examples"
    photos = sorted(p.name for p in seed.glob("*.jpg"))[: args.examples]
    (args.work / "examples.txt").write_text("\n".join(photos) + "\n")
    experiment, experiments_dir = "paper", ROOT / "config" / "experiments"
    if args.max_boxes:
        spec = yaml.safe_load((experiments_dir / "paper.yaml").read_text())
        for stage in ("ground", "segment"):
            spec[stage]["grounded_sam"]["max_boxes"] = args.max_boxes
        experiment, experiments_dir = "paper_bounded", args.work / "experiments"
        experiments_dir.mkdir(parents=True, exist_ok=True)
        (experiments_dir / "paper_bounded.yaml").write_text(yaml.safe_dump(spec))
    config = {
        "results": str(args.work / "results"),
        "experiments": [experiment],
        "experiments_dir": str(experiments_dir),
        "wallpaper": str(seed / "gray_wallpaper.jpeg"),
        "models": models,
        "datasets": {},
    }
    if args.gpu_shard_size:
        config["shard_size"] = {"cpu": 16, "gpu": args.gpu_shard_size}
    if args.examples:
        config["datasets"]["examples"] = {
            "format": "seed",
            "annotations": str(seed / "example_annotation.json"),
            "images": str(seed),
            "filenames": str(args.work / "examples.txt"),
        }
    if args.scenes:
        config["datasets"]["bench"] = {
            "format": "synthetic",
            "n_scenes": args.scenes,
            "seed": 0,
            "image_size": 512,
            "cutouts": str(ROOT / "data" / "cutouts"),
            "backgrounds": str(ROOT / "data" / "backgrounds"),
        }
    (args.work / "config.yaml").write_text(yaml.safe_dump(config))
    command = [
        sys.executable,
        "-m",
        "snakemake",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(args.work),
        "--configfile",
        str(args.work / "config.yaml"),
        "--cores",
        str(args.cores),
        "--resources",
        f"gpu={args.gpus}",
        "--keep-going",
    ]
    start = time.perf_counter()
    # Streamed to $OUT as it runs: a run cut short by the device's time limit still leaves its log.
    with open(args.out / "snakemake.log", "w") as log:
        try:
            returncode = subprocess.run(
                command, stdout=log, stderr=subprocess.STDOUT, text=True, timeout=args.timeout
            ).returncode
        except subprocess.TimeoutExpired:
            returncode = "timeout"  # what finished is still reported below
    wall = time.perf_counter() - start
    rows = []
    for tsv in sorted((args.work / "results" / "benchmarks").rglob("*.tsv")):
        with open(tsv) as handle:
            record = next(csv.DictReader(handle, delimiter="\t"))
        rows.append(
            {
                "job": str(tsv.relative_to(args.work / "results" / "benchmarks")),
                "s": float(record["s"]),
                "max_rss_mb": record.get("max_rss"),
            }
        )
    statuses = {}
    for manifest in (args.work / "results" / "shards").rglob("*.json"):
        statuses[str(manifest.relative_to(args.work / "results" / "shards"))] = json.loads(manifest.read_text())[
            "instances"
        ]
    devices = []  # (job log, device, claimed at, released at): amodal.run.job's lines in each GPU job's log
    for log_file in sorted((args.work / "results" / "logs").rglob("*.log")):
        text = log_file.read_text(errors="replace")
        claimed = re.search(r"claimed GPU (\S+) at ([\d.]+)", text)
        released = re.search(r"GPU work done at ([\d.]+)", text)
        if claimed:
            devices.append(
                {
                    "job": str(log_file.relative_to(args.work / "results" / "logs")),
                    "device": claimed.group(1),
                    "start": float(claimed.group(2)),
                    "end": float(released.group(1)) if released else None,
                }
            )
    hashes = {}  # every result file, to compare runs with different GPU counts
    for top in ("stages", "datasets", experiment):
        for path in sorted((args.work / "results" / top).rglob("*")):
            if path.is_file() and path.name != ".snakemake_timestamp":
                # stages.json names stage folders under the results root: hashed without it
                data = path.read_bytes().replace(str(args.work / "results").encode(), b"RESULTS")
                hashes[str(path.relative_to(args.work / "results"))] = hashlib.sha256(data).hexdigest()
    (args.out / "hashes.json").write_text(json.dumps(hashes, indent=1))
    loads = []  # "loaded <family> <name> in X s", written by amodal.models.cache into each job's log
    for log_file in sorted((args.work / "results" / "logs").rglob("*.log")):
        for line in log_file.read_text(errors="replace").splitlines():
            if " loaded " in f" {line}":
                loads.append(f"{log_file.relative_to(args.work / 'results' / 'logs')}: {line}")
    summary = {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "command": " ".join(command),
        "checkpoints_written_s": written,
        "snakemake_rc": returncode,
        "snakemake_wall_s": wall,
        "jobs": rows,
        "model_loads": loads,
        "gpu_jobs": devices,
        "manifests": statuses,
    }
    (args.out / "paper_gpu.json").write_text(json.dumps(summary, indent=2))
    for dataset in ("examples", "bench"):
        table = args.work / "results" / experiment / dataset / "metrics.csv"
        if table.exists():
            (args.out / f"metrics_{dataset}.csv").write_text(table.read_text())
    print(f"device {summary['device']}, torch {summary['torch']}; checkpoints written in {written:.1f} s")
    print(f"snakemake rc {returncode}, wall {wall:.1f} s for {args.examples} photos + {args.scenes} scenes")
    print("| job | seconds |\n|---|---|")
    for row in rows:
        print(f"| {row['job']} | {row['s']:.1f} |")
    print("\n".join(loads))


if __name__ == "__main__":
    main()
