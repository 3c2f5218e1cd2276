"""Scoring other methods' outputs through Snakemake (`complete: external`), weight-free, on three
benchmark scenes, one instance per shard:

- the true whole objects of the scenes, exported as crops with their offsets, must score amodal
  IoU 1 and a perfect hidden region (an oracle independent of every stage: the scene's own files);
- the classical experiment's delivered RGBA files, exported the same way, must score exactly
  what the classical experiment scored (every metric but the order, which an external method has
  not);
- a deleted file is that instance's `no_output`, an RGB file its `bad_input`, and the others run;
- adding or replacing one file reruns that instance's completion, rgba, evaluate and collect
  jobs and nothing else (dry-run job counts), and leaves the other instances' files alone.
"""

import csv
import json
import os
import shutil

import numpy as np
import pytest
import yaml
from PIL import Image

from workflow_helpers import ROOT, job_counts, snakemake

SCENES = ["scene_0000", "scene_0001", "scene_0002"]
NO_MODEL_METRICS = {
    "clip_score": {"enabled": False},
    "lpips": {"enabled": False},
    "feature_similarity": {"enabled": False},
}
SHARD_KINDS = ("scenes", "ground", "tag", "segment", "order", "prompt", "complete", "rgba", "evaluate", "collect")
COMPARED = ("visible_iou", "amodal_iou", "amodal_iou_in_frame", "hidden_psnr", "hidden_ssim", "visible_ssim")


def external_experiment(folder):
    return {
        "description": "outputs read from a folder",
        "ground": {"backend": "oracle"},
        "complete": {"backend": "external", "external": {"dir": str(folder), "placement": "crop"}},
        "rgba": {"backend": "as_is"},
        "evaluate": NO_MODEL_METRICS,
    }


def export_crop(folder, name, rgba_file, offset):
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(rgba_file, folder / f"{name}.png")
    (folder / f"{name}.json").write_text(json.dumps({"x": int(offset[0]), "y": int(offset[1])}))


def metrics_csv(workdir, experiment):
    with open(workdir / "results" / experiment / "bench" / "metrics.csv") as handle:
        return {row["id"]: row for row in csv.DictReader(handle)}


def shard_jobs(output):
    counts = job_counts(output)
    return {kind: counts[kind] for kind in SHARD_KINDS if kind in counts}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("external")
    experiments, truth, classical = (
        workdir / "experiments",
        workdir / "exported" / "truth",
        workdir / "exported" / "classical",
    )
    for folder in (experiments, truth, classical):
        folder.mkdir(parents=True)
    shutil.copyfile(
        ROOT / "config" / "experiments" / "baseline_classical.yaml", experiments / "baseline_classical.yaml"
    )
    classical_spec = yaml.safe_load((experiments / "baseline_classical.yaml").read_text())
    classical_spec["evaluate"] = NO_MODEL_METRICS
    (experiments / "baseline_classical.yaml").write_text(yaml.safe_dump(classical_spec))
    (experiments / "ext_truth.yaml").write_text(yaml.safe_dump(external_experiment(truth)))
    (experiments / "ext_classical.yaml").write_text(yaml.safe_dump(external_experiment(classical)))
    config = {
        "results": "results",
        "experiments_dir": str(experiments),
        "experiments": ["baseline_classical", "ext_truth", "ext_classical"],
        "wallpaper": str(ROOT / "data" / "seed_examples" / "gray_wallpaper.jpeg"),
        "shard_size": {"cpu": 1, "gpu": 1},
        "datasets": {
            "bench": {
                "format": "synthetic",
                "n_scenes": 3,
                "seed": 1,
                "image_size": 256,
                "cutouts": str(ROOT / "data" / "cutouts"),
                "backgrounds": str(ROOT / "data" / "backgrounds"),
            }
        },
    }
    (workdir / "config").mkdir()
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    found = {}
    # 1. the folders are empty: every external instance is no_output; the classical experiment runs
    snakemake(workdir)
    found["empty"] = metrics_csv(workdir, "ext_truth")
    # 2. export: the true whole objects of scenes 0 and 2 (scene 1's file left out), the classical
    #    experiment's deliverables of scenes 0 and 1, and an RGB file (no alpha) for scene 2
    scenes = workdir / "results" / "datasets" / "bench"
    for name in ("scene_0000", "scene_0002"):
        offset = json.loads((scenes / name / "scene.json").read_text())["whole_offset"]
        export_crop(truth, name, scenes / name / "whole.png", offset)
    for name in ("scene_0000", "scene_0001"):
        collected = workdir / "results" / "baseline_classical" / "bench" / name
        export_crop(
            classical,
            name,
            collected / "amodal.png",
            json.loads((collected / "placement.json").read_text())["offset_xy"],
        )
    Image.new("RGB", (40, 30), (200, 0, 0)).save(classical / "scene_0002.png")
    (classical / "scene_0002.json").write_text(json.dumps({"x": 0, "y": 0}))
    found["after_export"] = shard_jobs(snakemake(workdir, "--dry-run"))
    snakemake(workdir)
    found["truth"], found["classical"] = metrics_csv(workdir, "ext_truth"), metrics_csv(workdir, "ext_classical")
    found["baseline"] = metrics_csv(workdir, "baseline_classical")
    found["table"] = (workdir / "results" / "tables" / "bench.md").read_text()
    # 3. replace scene 0's true object by its left part only (alpha cleared right of a column)
    whole = np.asarray(Image.open(scenes / "scene_0000" / "whole.png").convert("RGBA")).copy()
    cut = whole.shape[1] // 2
    whole[:, cut:, 3] = 0
    Image.fromarray(whole, "RGBA").save(truth / "scene_0000.png")
    # dated long before the run (as a copy keeping its date would be): the rerun must come from the
    # file's size and mtime in the job's parameters, not from Snakemake's newer-input rule
    os.utime(truth / "scene_0000.png", (1_000_000_000, 1_000_000_000))
    found["cut"] = cut
    untouched = workdir / "results" / "ext_truth" / "bench" / "scene_0002" / "metrics.json"
    found["untouched_before"] = (untouched.stat().st_mtime_ns, untouched.read_bytes())
    found["after_replace"] = shard_jobs(snakemake(workdir, "--dry-run"))
    snakemake(workdir)
    found["untouched_after"] = (untouched.stat().st_mtime_ns, untouched.read_bytes())
    found["replaced"] = metrics_csv(workdir, "ext_truth")
    found["workdir"] = workdir
    return found


def test_an_empty_folder_gives_no_output_for_every_instance(run):
    assert [row["failure"] for row in run["empty"].values()] == ["no_output"] * 3


def test_adding_files_reruns_only_the_instances_that_gained_one(run):
    # truth: scenes 0 and 2 gained a file (scene 1 still has none); classical: all three
    assert run["after_export"] == {"complete": 5, "rgba": 5, "evaluate": 5, "collect": 5}


def test_the_true_whole_objects_score_a_perfect_amodal_mask_and_hidden_region(run):
    rows = run["truth"]
    for name in ("scene_0000", "scene_0002"):
        row = rows[name]
        assert row["status"] == "ok"
        assert float(row["amodal_iou"]) == 1.0 and float(row["amodal_iou_in_frame"]) == 1.0
        assert float(row["hidden_psnr"]) == 100.0 and float(row["hidden_ssim"]) == pytest.approx(1.0, abs=1e-12)
        assert row["order_accuracy"] == ""  # no order stage: not applicable
    missing = rows["scene_0001"]
    assert missing["status"] == "failed" and missing["failure"] == "no_output"
    assert (
        "'scene_0001'" in missing["reason"]
        and str(run["workdir"] / "exported" / "truth" / "scene_0001.png") in missing["reason"]
    )
    summary = json.loads((run["workdir"] / "results" / "ext_truth" / "bench" / "summary.json").read_text())
    assert summary["failure_rate"] == pytest.approx(1 / 3) and summary["failures_by_kind"] == {"no_output": 1}


def test_the_classical_outputs_exported_score_what_the_classical_experiment_scored(run):
    for name in ("scene_0000", "scene_0001"):
        ours, theirs = run["classical"][name], run["baseline"][name]
        assert ours["status"] == theirs["status"] == "ok"
        for metric in COMPARED:
            assert float(ours[metric]) == pytest.approx(float(theirs[metric]), rel=1e-12, abs=1e-12), (name, metric)
        assert theirs["order_accuracy"] != "" and ours["order_accuracy"] == ""
    rgb = run["classical"]["scene_0002"]
    assert rgb["failure"] == "bad_input" and "no alpha channel" in rgb["reason"]
    assert str(run["workdir"] / "exported" / "classical" / "scene_0002.png") in rgb["reason"]
    rows = {line.split("|")[1].strip(): line for line in run["table"].splitlines() if line.startswith("| ")}
    assert {"baseline_classical", "ext_truth", "ext_classical"} <= set(rows)


def test_replacing_one_file_reruns_only_its_instance(run):
    assert run["after_replace"] == {"complete": 1, "rgba": 1, "evaluate": 1, "collect": 1}
    assert run["untouched_after"] == run["untouched_before"]
    # the left part of the true object against all of it: |kept| / |whole|, counted on the file
    alpha = (
        np.asarray(
            Image.open(run["workdir"] / "results" / "datasets" / "bench" / "scene_0000" / "whole.png").convert("RGBA")
        )[..., 3]
        > 127
    )
    expected = alpha[:, : run["cut"]].sum() / alpha.sum()
    assert 0 < expected < 1
    assert float(run["replaced"]["scene_0000"]["amodal_iou"]) == pytest.approx(expected, rel=1e-12)
    assert run["replaced"]["scene_0002"] == run["truth"]["scene_0002"]
