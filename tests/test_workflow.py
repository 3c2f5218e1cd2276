"""The Snakemake workflow end to end on a small benchmark: files, tables, caching, failures."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
EXPERIMENTS = ["baseline_classical", "oracle_order"]
IDS = ["scene_0000", "scene_0001", "scene_0002"]
STAGE_FILES = {
    "ground": ["visible_mask.png", "ground.json"],
    "tag": ["tags.json"],
    "segment": ["segments.npz", "segments.json"],
    "order": ["order.json", "occluder_mask.png"],
    "prompt": ["prompt.json"],
    "complete": ["complete.json", "completion.png", "amodal_mask.png", "iterations/0/input.png",
                 "iterations/0/mask.png", "iterations/0/completion.png", "iterations/0/amodal_mask.png",
                 "iterations/0/occluder_mask.png"],
    "rgba": ["amodal.png", "placement.json"],
    "evaluate": ["metrics.json"],
}


def snakemake(workdir: Path, *args: str) -> str:
    env = dict(os.environ, HF_HUB_OFFLINE="1", PATH=f"{SNAKEMAKE.parent}:{os.environ['PATH']}")
    done = subprocess.run(
        [str(SNAKEMAKE), "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir), "--cores", "2", *args],
        capture_output=True, text=True, env=env, timeout=900,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return done.stdout + done.stderr


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run."""
    if "Nothing to be done" in output:
        return {}
    table = output.split("Job stats:")[1].split("Reasons:")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M) if m.group(1) != "total"}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("workflow")
    config = {
        "results": "results",
        "experiments_dir": str(ROOT / "config" / "experiments"),
        "experiments": EXPERIMENTS,
        "wallpaper": str(ROOT / "data" / "seed_examples" / "gray_wallpaper.jpeg"),
        "datasets": {
            "bench": {"format": "synthetic", "n_scenes": 3, "seed": 1, "image_size": 256,
                      "cutouts": str(ROOT / "data" / "cutouts"), "backgrounds": str(ROOT / "data" / "backgrounds")}
        },
    }
    (workdir / "config").mkdir()
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    output = snakemake(workdir)
    return workdir, output


def test_every_per_instance_file_and_table_exists(run):
    workdir, _ = run
    results = workdir / "results"
    for experiment in EXPERIMENTS:
        for instance in IDS:
            folder = results / experiment / "bench" / instance
            for name in ["amodal.png", "placement.json", "metrics.json", "stages.json"]:
                assert (folder / name).is_file(), folder / name
            stages = json.loads((folder / "stages.json").read_text())
            for stage, names in STAGE_FILES.items():
                for name in names:
                    assert (workdir / stages[stage] / name).is_file(), f"{stages[stage]}/{name}"
            metrics = json.loads((folder / "metrics.json").read_text())
            assert metrics["status"] == "ok"
            assert 0.0 < metrics["metrics"]["amodal_iou"] <= 1.0
            assert metrics["metrics"]["visible_iou"] == 1.0  # oracle grounding
            assert metrics["clip_score"]["missing"]  # no weights: missing, never a number
        table = pd.read_csv(results / experiment / "bench" / "metrics.csv")
        assert sorted(table["id"]) == IDS
    comparison = (results / "tables" / "bench.md").read_text()
    for experiment in EXPERIMENTS:
        assert f"| {experiment} | 3 |" in comparison
    assert "Metric definitions" in comparison and "missing" in comparison


def test_experiments_share_upstream_stage_folders(run):
    workdir, _ = run
    stages = {e: json.loads((workdir / "results" / e / "bench" / IDS[0] / "stages.json").read_text()) for e in EXPERIMENTS}
    for stage in ("ground", "tag", "segment", "prompt"):
        assert stages[EXPERIMENTS[0]][stage] == stages[EXPERIMENTS[1]][stage]
    for stage in ("order", "complete", "rgba", "evaluate"):
        assert stages[EXPERIMENTS[0]][stage] != stages[EXPERIMENTS[1]][stage]


def test_oracle_order_is_perfect_on_the_benchmark(run):
    workdir, _ = run
    summary = json.loads((workdir / "results" / "oracle_order" / "bench" / "summary.json").read_text())
    assert summary["metrics"]["order_accuracy"]["pooled"] == 1.0


def test_rerun_is_a_no_op_and_a_deleted_file_reruns_only_its_dependents(run):
    workdir, _ = run
    assert job_counts(snakemake(workdir, "--dry-run")) == {}
    stages = json.loads((workdir / "results" / "baseline_classical" / "bench" / IDS[1] / "stages.json").read_text())
    (workdir / stages["order"] / "order.json").unlink()
    counts = job_counts(snakemake(workdir, "--dry-run"))
    assert counts == {"order": 1, "complete": 1, "rgba": 1, "evaluate": 1, "collect": 1, "aggregate": 1, "compare": 1, "all": 1}
    snakemake(workdir)
    assert job_counts(snakemake(workdir, "--dry-run")) == {}


def test_a_corrupt_image_fails_only_its_instance(run):
    workdir, _ = run
    image = workdir / "results" / "datasets" / "bench" / IDS[2] / "image.png"
    image.write_bytes(b"this is not a png")
    snakemake(workdir)
    table = pd.read_csv(workdir / "results" / "baseline_classical" / "bench" / "metrics.csv").set_index("id")
    assert table.loc[IDS[2], "status"] == "failed"
    assert IDS[2] in table.loc[IDS[2], "reason"] and "image.png" in table.loc[IDS[2], "reason"]
    assert (table.loc[IDS[:2], "status"] == "ok").all()
    summary = (workdir / "results" / "tables" / "bench.md").read_text()
    assert "| baseline_classical | 3 | 0.333 |" in summary


def test_lint_is_clean(run):
    workdir, _ = run
    assert "Congratulations" in snakemake(workdir, "--lint")
