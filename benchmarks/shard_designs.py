"""How Snakemake's planning scales with four ways of writing shard jobs, on toy workflows of the
demo's shape (N instances; 15 stage folders per instance, chained; shards of S instances;
`touch` jobs). Prints `snakemake -n` wall seconds and peak memory for each design.

  files      one rule per shard; outputs: every per-instance file (2 per stage); inputs: the
             upstream stage's per-instance files
  folders    one rule per shard; outputs: one folder per instance and stage; inputs: the upstream
             per-instance folders
  shard-dir  one rule per stage with a {shard} wildcard; output: one folder per shard (paths
             change: instances live inside the shard's folder)
  manifests  as `folders`, plus one manifest file per shard listed first among the outputs;
             inputs: the upstream shard's manifest (the design amodal uses)

    python benchmarks/shard_designs.py [--n 10000] [--shard-size 16]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

STAGES = 15

COMMON = f"""
N, S = int(config["instances"]), int(config["shard"])
IDS = [f"scene_{{i:05d}}" for i in range(N)]
SHARDS = [IDS[i:i + S] for i in range(0, N, S)]
STAGES = [f"st{{k}}" for k in range({STAGES})]
"""

DESIGNS = {
    "files": COMMON
    + """
def files(stage, members):
    return [f"res/{m}/{stage}/key-0123abcd/{name}" for m in members for name in ("a.png", "b.json")]
rule all:
    input: [f for members in SHARDS for f in files(STAGES[-1], members)]
for k, members in enumerate(SHARDS):
    for j, stage in enumerate(STAGES):
        rule:
            name: f"{stage}_s{k:05d}"
            input: files(STAGES[j - 1], members) if j else []
            output: files(stage, members)
            shell: "touch {output}"
""",
    "folders": COMMON
    + """
def folders(stage, members):
    return [f"res/{m}/{stage}/key-0123abcd" for m in members]
rule all:
    input: [f for members in SHARDS for f in folders(STAGES[-1], members)]
for k, members in enumerate(SHARDS):
    for j, stage in enumerate(STAGES):
        rule:
            name: f"{stage}_s{k:05d}"
            input: folders(STAGES[j - 1], members) if j else []
            output: [directory(f) for f in folders(stage, members)]
            shell: "mkdir -p {output}"
""",
    "shard-dir": COMMON
    + """
rule all:
    input: expand("res/shards/{stage}/{shard}", stage=STAGES[-1], shard=range(len(SHARDS)))
rule first:
    output: directory(f"res/shards/{STAGES[0]}/{{shard}}")
    shell: "mkdir -p {output}"
for j, stage in enumerate(STAGES[1:], start=1):
    rule:
        name: f"stage_{stage}"
        input: f"res/shards/{STAGES[j - 1]}/{{shard}}"
        output: directory(f"res/shards/{stage}/{{shard}}")
        shell: "mkdir -p {output}"
""",
    "manifests": COMMON
    + """
def folders(stage, members):
    return [f"res/{m}/{stage}/key-0123abcd" for m in members]
def manifest(stage, k):
    return f"res/shards/{stage}/s{k:05d}.json"
rule all:
    input: [manifest(STAGES[-1], k) for k in range(len(SHARDS))]
for k, members in enumerate(SHARDS):
    for j, stage in enumerate(STAGES):
        rule:
            name: f"{stage}_s{k:05d}"
            input: [manifest(STAGES[j - 1], k)] if j else []
            output: manifest(stage, k), *[directory(f) for f in folders(stage, members)]
            shell: "mkdir -p {output[1:]} && touch {output[0]}"
""",
}

MEASURE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
print(json.dumps({"wall": time.perf_counter() - start, "rc": done.returncode, "err": done.stderr[-2000:],
                  "peak_kb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def plan(design: str, n: int, size: int) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        snakefile = Path(folder) / "Snakefile"
        snakefile.write_text(DESIGNS[design])
        snakemake = str(Path(sys.executable).parent / "snakemake")
        command = [
            snakemake,
            "-n",
            "-q",
            "--cores",
            "1",
            "-s",
            str(snakefile),
            "--directory",
            folder,
            "--config",
            f"instances={n}",
            f"shard={size}",
        ]
        done = subprocess.run([sys.executable, "-c", MEASURE, *command], capture_output=True, text=True, check=True)
    result = json.loads(done.stdout)
    if result["rc"]:
        raise SystemExit(f"{design}: snakemake failed\n{result['err']}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=10000)
    parser.add_argument("--shard-size", type=int, default=16)
    parser.add_argument("--designs", nargs="+", default=list(DESIGNS), choices=list(DESIGNS))
    args = parser.parse_args()
    print(f"snakemake -n on toy workflows: {args.n} instances x {STAGES} stages, shards of {args.shard_size}")
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    print(f"{'design':<10} {'wall s':>8} {'peak GiB':>9}")
    for design in args.designs:
        result = plan(design, args.n, args.shard_size)
        print(f"{design:<10} {result['wall']:>8.1f} {result['peak_kb'] / 2**20:>9.2f}")


if __name__ == "__main__":
    main()
