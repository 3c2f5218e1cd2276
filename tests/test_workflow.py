"""The real workflow, changed between runs: reruns, invalidation, a corrupt image, a growing
dataset. Each test owns its folder: a copy of the session's shared finished run, or its own run."""

import json
import os
import shutil

import pandas as pd
import pytest
import yaml
from PIL import Image

from amodal.cli.main import main as cli
from workflow_helpers import (
    ROOT,
    copy_run,
    job_counts,
    make_workdir,
    planned_rules,
    shared_run,
    snakemake,
    write_config,
)

DOWNSTREAM_OF_ORDER = {
    "order": 1,
    "complete": 1,
    "rgba": 1,
    "evaluate": 1,
    "collect": 1,
    "aggregate": 1,
    "compare": 1,
    "paper_tables": 1,
    "ground_truth_tables": 1,
    "html_report": 1,
    "all": 1,
}


@pytest.fixture
def finished(tmp_path_factory, tmp_path):
    """A finished run of the classical experiments on 4 scenes in shards of 3, this test's own."""
    return copy_run(shared_run(tmp_path_factory, n_scenes=4, shard_size=3), tmp_path / "run")


def stage_folder(workdir, experiment, instance, stage):
    stages = json.loads((workdir / "results" / experiment / "bench" / instance / "stages.json").read_text())
    return workdir / stages[stage]


def test_rerun_is_a_no_op_and_a_removed_stage_folder_reruns_its_shard_and_what_follows(finished):
    workdir = finished
    assert job_counts(snakemake(workdir, "--dry-run")) == {}

    folder = stage_folder(workdir, "baseline_classical", "scene_0001", "order")
    before = (folder / "order.json").read_bytes()
    for path in sorted(folder.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    folder.rmdir()
    planned = snakemake(workdir, "--dry-run")
    assert job_counts(planned) == DOWNSTREAM_OF_ORDER
    assert any(
        rule.startswith("order__bench__geometric_") and rule.endswith("__s00000") for rule in planned_rules(planned)
    )
    snakemake(workdir)
    assert (folder / "order.json").read_bytes() == before
    assert job_counts(snakemake(workdir, "--dry-run")) == {}


def test_amodal_invalidate_makes_the_next_run_recompute_one_instances_stage(finished, capsys):
    workdir = finished
    folder = stage_folder(workdir, "baseline_classical", "scene_0003", "order")
    key = folder.name
    assert (
        cli(
            [
                "invalidate",
                "--results",
                str(workdir / "results"),
                "--dataset",
                "bench",
                "--stage",
                "order",
                "--key",
                key,
                "scene_0003",
            ]
        )
        == 0
    )
    assert f"removed {folder}" in capsys.readouterr().out
    assert not folder.exists()
    assert stage_folder(workdir, "oracle_order", "scene_0003", "order").is_dir()  # another key: kept
    assert job_counts(snakemake(workdir, "--dry-run")) == DOWNSTREAM_OF_ORDER
    snakemake(workdir)
    assert (folder / "order.json").is_file()
    assert cli(["invalidate", "--results", str(workdir / "results"), "--stage", "order", "no_such_scene"]) == 1
    # without --key: every order folder of the instance (both experiments' keys)
    assert cli(["invalidate", "--results", str(workdir / "results"), "--stage", "order", "scene_0002"]) == 0
    assert list((workdir / "results" / "stages" / "bench" / "scene_0002" / "order").iterdir()) == []
    # with --experiment: only the folder that experiment's collected stages.json names
    oracle, geometric = (
        stage_folder(workdir, e, "scene_0001", "order") for e in ("oracle_order", "baseline_classical")
    )
    assert (
        cli(
            [
                "invalidate",
                "--results",
                str(workdir / "results"),
                "--stage",
                "order",
                "--experiment",
                "oracle_order",
                "scene_0001",
            ]
        )
        == 0
    )
    assert not oracle.exists() and geometric.is_dir()
    with pytest.raises(SystemExit) as exited:  # a bad argument: one line and status 2
        cli(["invalidate", "--results", str(workdir / "results"), "--stage", "ordr", "scene_0002"])
    assert exited.value.code == 2 and "argument --stage: invalid choice: 'ordr'" in capsys.readouterr().err


def test_a_corrupt_image_fails_only_its_instance_and_its_shard_goes_on(tmp_path):
    workdir = make_workdir(tmp_path, n_scenes=4, shard_size=3)
    snakemake(
        workdir,
        "results/shards/bench/scenes/synthetic/s00000.json",
        "results/shards/bench/scenes/synthetic/s00001.json",
    )
    (workdir / "results" / "datasets" / "bench" / "scene_0001" / "image.png").write_bytes(b"this is not a png")
    snakemake(workdir)
    table = pd.read_csv(workdir / "results" / "baseline_classical" / "bench" / "metrics.csv").set_index("id")
    assert table.loc["scene_0001", "status"] == "failed"
    reason = table.loc["scene_0001", "reason"]
    assert "scene_0001" in reason and "image.png" in reason
    assert (table.drop(index="scene_0001")["status"] == "ok").all()  # scene_0000 and _0002 shared its shard
    summary = (workdir / "results" / "tables" / "bench.md").read_text()
    assert "| baseline_classical | 4 | 3 | 0.250 |" in summary  # n, scored, failure rate
    manifest = next((workdir / "results" / "shards" / "bench" / "ground").glob("*/s00000.json"))
    assert json.loads(manifest.read_text())["instances"] == {
        "scene_0000": "ok",
        "scene_0001": "failed",
        "scene_0002": "ok",
    }


def test_appending_scenes_reruns_only_the_shards_that_gain_them(finished):
    workdir = finished  # shards: 0-2, 3
    write_config(workdir, n_scenes=7, shard_size=3)  # shards: 0-2, 3-5, 6
    planned = snakemake(workdir, "--dry-run")
    rules = planned_rules(planned)
    assert not [rule for rule in rules if rule.endswith("__s00000")]
    assert {rule.rsplit("__", 1)[-1] for rule in rules if "__" in rule} == {"s00001", "s00002"}
    per_shard = {
        "scenes": 1,
        "ground": 1,
        "tag": 1,
        "segment": 1,
        "prompt": 1,
        "order": 2,
        "complete": 2,
        "rgba": 2,
        "evaluate": 2,
        "collect": 2,
    }
    expected = {kind: 2 * n for kind, n in per_shard.items()}
    assert job_counts(planned) == dict(
        expected, aggregate=2, compare=1, paper_tables=1, ground_truth_tables=1, html_report=1, all=1
    )


@pytest.mark.parametrize("replaced", ["cutouts/tiger_01.png", "backgrounds/BACKGROUND", "cutouts/cutouts.csv"])
def test_replacing_a_source_file_rebuilds_the_scenes_made_from_it(tmp_path, replaced):
    # the scenes' own inputs are the cutouts and backgrounds they are built from, not only the listings
    sources = tmp_path / "sources"
    shutil.copytree(ROOT / "data" / "cutouts", sources / "cutouts")
    shutil.copytree(ROOT / "data" / "backgrounds", sources / "backgrounds")
    workdir = make_workdir(tmp_path / "run", n_scenes=2, shard_size=3)
    config_file = workdir / "config" / "config.yaml"
    config = yaml.safe_load(config_file.read_text())
    config["datasets"]["bench"].update(cutouts=str(sources / "cutouts"), backgrounds=str(sources / "backgrounds"))
    config_file.write_text(yaml.safe_dump(config))
    manifest = "results/shards/bench/scenes/synthetic/s00000.json"
    snakemake(workdir, manifest)
    assert planned_rules(snakemake(workdir, "--dry-run", manifest)) == {}

    if replaced == "backgrounds/BACKGROUND":
        replaced = "backgrounds/" + pd.read_csv(sources / "backgrounds" / "backgrounds.csv")["file"][0]
    path = sources / replaced
    if path.suffix == ".csv":
        path.write_text(path.read_text() + "\n")
    else:  # another picture under the same name: one pixel differs
        with Image.open(path) as im:
            changed = im.copy()
        changed.putpixel((0, 0), tuple(255 - v for v in changed.getpixel((0, 0))))
        changed.save(path, quality=100) if path.suffix == ".jpg" else changed.save(path)
    later = (workdir / manifest).stat().st_mtime + 10
    os.utime(path, (later, later))  # newer than the scenes, whatever the clock's resolution
    assert planned_rules(snakemake(workdir, "--dry-run", manifest)) == {"scenes__bench__s00000": 1}
