"""Planning cost: `snakemake -n` for the demo config (both experiments) with a synthetic dataset of
N scenes that are not generated, in a fresh folder. Prints wall seconds, peak memory and the
number of jobs for each N side by side, so the growth is visible.

    python benchmarks/plan_speed.py [--n 1000 10000] [--shard-size 8]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent

# Runs one command and reports its wall time and the peak RSS of the process tree it waited for.
MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
wall = time.perf_counter() - start
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"wall": wall, "peak_kb": peak_kb, "rc": done.returncode, "out": done.stdout[-20000:], "err": done.stderr[-3000:]}))
"""


def plan_once(n_scenes: int, shard_size: int | None) -> dict:
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    config["experiments_dir"] = str(ROOT / config["experiments_dir"])
    config["wallpaper"] = str(ROOT / config["wallpaper"])
    for spec in config["datasets"].values():
        spec["n_scenes"] = n_scenes
        spec["cutouts"], spec["backgrounds"] = str(ROOT / "data" / "cutouts"), str(ROOT / "data" / "backgrounds")
    if shard_size:
        config["shard_size"] = shard_size
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "config.yaml").write_text(yaml.safe_dump(config))
        snakemake = str(Path(sys.executable).parent / "snakemake")
        command = [
            snakemake,
            "-n",
            "--cores",
            "2",
            "--snakefile",
            str(ROOT / "Snakefile"),
            "--directory",
            folder,
            "--configfile",
            str(Path(folder) / "config.yaml"),
        ]
        done = subprocess.run(
            [sys.executable, "-c", MEASURE, *command],
            capture_output=True,
            text=True,
            env=dict(os.environ, HF_HUB_OFFLINE="1"),
            check=True,
        )
    result = json.loads(done.stdout)
    if result["rc"] != 0:
        raise SystemExit(f"snakemake -n failed for {n_scenes} scenes:\n{result['err']}")
    total = re.search(r"^total\s+(\d+)$", result["out"], re.M)
    result["jobs"] = int(total.group(1)) if total else 0
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--shard-size", type=int, default=None, help="override config shard_size (both classes)")
    args = parser.parse_args()
    print(
        f"snakemake -n, demo config (both experiments), synthetic scenes not generated, shard_size "
        f"{args.shard_size or 'from config'}"
    )
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"{'scenes':>8} {'jobs':>7} {'wall s':>8} {'peak GiB':>9}   (goal at 10,000: <= 60 s, <= 2 GiB)")
    for n in args.n:
        result = plan_once(n, args.shard_size)
        print(f"{n:>8} {result['jobs']:>7} {result['wall']:>8.1f} {result['peak_kb'] / 2**20:>9.2f}")


if __name__ == "__main__":
    main()
