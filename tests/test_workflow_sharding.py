"""The real workflow at shard sizes 1, 3 and 16: the same files byte for byte, every stage file
and table present, and a killed run that resumes to the same result without redoing finished
shards. The runs of the fixture are only read; tests that change a run make their own."""

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest

from workflow_helpers import (
    EXPERIMENTS,
    ROOT,
    command,
    copy_run,
    environment,
    make_workdir,
    planned_rules,
    result_files,
    shared_run,
    snakemake,
)

IDS = ["scene_0000", "scene_0001", "scene_0002", "scene_0003"]
STAGE_FILES = {
    "ground": ["visible_mask.png", "ground.json"],
    "tag": ["tags.json"],
    "segment": ["segments.npz", "segments.json"],
    "order": ["order.json", "occluder_mask.png"],
    "prompt": ["prompt.json"],
    "complete": [
        "complete.json",
        "completion.png",
        "amodal_mask.png",
        "iterations/0/input.png",
        "iterations/0/mask.png",
        "iterations/0/completion.png",
        "iterations/0/amodal_mask.png",
        "iterations/0/occluder_mask.png",
    ],
    "rgba": ["amodal.png", "placement.json"],
    "evaluate": ["metrics.json"],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One complete run per shard size, each in its own folder (size 3: the session's shared run)."""
    found = {3: shared_run(tmp_path_factory, n_scenes=4, shard_size=3)}
    for size in (1, 16):
        workdir = make_workdir(tmp_path_factory.mktemp(f"shard{size}"), n_scenes=4, shard_size=size)
        snakemake(workdir)
        found[size] = workdir
    return found


def test_outputs_are_byte_identical_whatever_the_shard_size(runs):
    one, three, sixteen = (result_files(runs[size]) for size in (1, 3, 16))
    assert len(one) > 4 * 20  # every stage file of every instance, both experiments
    assert sorted(one) == sorted(three) == sorted(sixteen)
    differing = [name for name in one if not (one[name] == three[name] == sixteen[name])]
    assert differing == []


def test_every_per_instance_file_and_table_exists(runs):
    results = runs[3] / "results"
    for experiment in EXPERIMENTS:
        for instance in IDS:
            folder = results / experiment / "bench" / instance
            for name in ["amodal.png", "placement.json", "metrics.json", "stages.json"]:
                assert (folder / name).is_file(), folder / name
            stages = json.loads((folder / "stages.json").read_text())
            for stage, names in STAGE_FILES.items():
                assert stages[stage].startswith(f"results/stages/bench/{instance}/{stage}/")
                for name in names:
                    assert (runs[3] / stages[stage] / name).is_file(), f"{stages[stage]}/{name}"
            metrics = json.loads((folder / "metrics.json").read_text())
            assert metrics["status"] == "ok"
            assert 0.0 < metrics["metrics"]["amodal_iou"] <= 1.0
            assert metrics["metrics"]["visible_iou"] == 1.0  # oracle grounding
            assert metrics["clip_score"]["missing"]  # no weights: missing, never a number
        table = pd.read_csv(results / experiment / "bench" / "metrics.csv")
        assert sorted(table["id"]) == IDS
    comparison = (results / "tables" / "bench.md").read_text()
    for experiment in EXPERIMENTS:
        assert f"| {experiment} | 4 |" in comparison
    assert "Metric definitions" in comparison and "missing" in comparison


def test_every_shard_manifest_lists_its_instances_and_their_status(runs):
    manifests = sorted((runs[3] / "results" / "shards" / "bench" / "ground").rglob("*.json"))
    assert [m.name for m in manifests] == ["s00000.json", "s00001.json"]
    assert json.loads(manifests[0].read_text())["instances"] == {i: "ok" for i in IDS[:3]}
    assert json.loads(manifests[1].read_text())["instances"] == {"scene_0003": "ok"}


def test_experiments_share_upstream_stage_folders(runs):
    folder = runs[3] / "results"
    stages = {e: json.loads((folder / e / "bench" / IDS[0] / "stages.json").read_text()) for e in EXPERIMENTS}
    for stage in ("ground", "tag", "segment", "prompt"):
        assert stages[EXPERIMENTS[0]][stage] == stages[EXPERIMENTS[1]][stage]
    for stage in ("order", "complete", "rgba", "evaluate"):
        assert stages[EXPERIMENTS[0]][stage] != stages[EXPERIMENTS[1]][stage]


def read(workdir, *parts):
    return json.loads(workdir.joinpath(*parts).read_text())


def test_the_oracle_order_names_the_occluders_the_scene_files_list(runs):
    workdir, occluded = runs[3], 0
    for instance in IDS:
        # the truth as written: scene.json's pairs [front, behind], the target being object 0
        scene = read(workdir, "results", "datasets", "bench", instance, "scene.json")
        true_occluders = {front for front, behind in scene["occludes"] if behind == 0}
        stages = read(workdir, "results", "oracle_order", "bench", instance, "stages.json")
        segments = read(workdir, stages["segment"], "segments.json")["segments"]
        order = read(workdir, stages["order"], "order.json")
        named = {segments[i]["gt_index"] for i in order["occluders"]}
        segmented = {record["gt_index"] for record in segments if "gt_index" in record}
        assert named == true_occluders & segmented, instance
        occluded += bool(named)
    assert occluded >= 2  # not vacuous: most scenes hide part of the target


def test_order_accuracy_scores_a_wrong_order_by_the_scene_files(runs, tmp_path):
    from amodal.config.schema import load_experiment
    from amodal.stages.evaluate import run_evaluate

    workdir = runs[3]
    summary = read(workdir, "results", "oracle_order", "bench", "summary.json")
    assert summary["metrics"]["order_accuracy"]["pooled"] == 1.0
    spec = load_experiment("oracle_order", ROOT / "config" / "experiments")[1]["evaluate"]
    for name in ("clip_score", "lpips", "feature_similarity"):  # no weights here
        spec[name]["enabled"] = False
    instance = "scene_0002"
    dataset = workdir / "results" / "datasets" / "bench" / instance
    # scene_0002 of seed 1, by its scene.json: the target (object 0) and objects 1 and 2; object 1
    # occludes the target, the target occludes object 2. Two candidate pairs, one of them occluding.
    scene = read(dataset, "scene.json")
    assert len(scene["objects"]) == 3 and {front for front, behind in scene["occludes"] if behind == 0} == {1}
    stages = read(workdir, "results", "oracle_order", "bench", instance, "stages.json")
    segments = read(workdir, stages["segment"], "segments.json")["segments"]
    by_object = {record["gt_index"]: i for i, record in enumerate(segments) if "gt_index" in record}

    def accuracy(occluders):
        order = tmp_path / f"order_{len(list(tmp_path.iterdir()))}.json"
        order.write_text(json.dumps({"backend": "oracle", "occluders": occluders, "pairs": []}))
        record = run_evaluate(
            spec,
            image=dataset / "image.png",
            visible=workdir / stages["ground"] / "visible_mask.png",
            segments_npz=workdir / stages["segment"] / "segments.npz",
            segments_json=workdir / stages["segment"] / "segments.json",
            order=order,
            rgba=workdir / stages["rgba"] / "amodal.png",
            placement=workdir / stages["rgba"] / "placement.json",
            gt=dataset / "scene.json",
            instance=instance,
        )
        return record["order"], record["metrics"]["order_accuracy"]

    assert accuracy([by_object[1]]) == ({"tp": 1, "fp": 0, "fn": 0, "tn": 1, "pairs": 2}, 1.0)
    assert accuracy([]) == ({"tp": 0, "fp": 0, "fn": 1, "tn": 1, "pairs": 2}, 0.5)
    assert accuracy([by_object[2]]) == ({"tp": 0, "fp": 1, "fn": 1, "tn": 0, "pairs": 2}, 0.0)
    assert accuracy([by_object[1], by_object[2]]) == ({"tp": 1, "fp": 1, "fn": 0, "tn": 0, "pairs": 2}, 0.5)


def test_fused_stage_jobs_give_the_same_files_and_a_lost_folder_reruns_only_its_shard(runs, tmp_path):
    workdir = make_workdir(tmp_path / "fused", n_scenes=4, shard_size=3, fuse={"cpu": True})
    planned = planned_rules(snakemake(workdir, "--dry-run"))
    # shards 0-2 and 3: every stage of both experiments in one job each
    assert {rule: n for rule, n in planned.items() if "__" in rule and not rule.startswith(("scenes", "collect"))} == {
        "fused__bench__cpu__s00000": 1,
        "fused__bench__cpu__s00001": 1,
    }
    snakemake(workdir)
    assert result_files(workdir) == result_files(runs[3])
    log = (workdir / "results" / "logs" / "stages" / "bench" / "fused" / "cpu" / "s00000.log").read_text()
    assert log.count("fused: ") == 12  # ground, tag, segment, prompt, and order to evaluate per experiment
    assert "Nothing to be done" in snakemake(workdir, "--dry-run")

    stages = json.loads((workdir / "results" / "oracle_order" / "bench" / "scene_0001" / "stages.json").read_text())
    shutil.rmtree(workdir / stages["complete"])
    replanned = planned_rules(snakemake(workdir, "--dry-run"))
    assert [rule for rule in replanned if rule.startswith("fused")] == ["fused__bench__cpu__s00000"]
    snakemake(workdir)
    assert result_files(workdir) == result_files(runs[3])


def test_lint_is_clean(runs, tmp_path):
    assert "Congratulations" in snakemake(copy_run(runs[3], tmp_path / "run"), "--lint")


def _kill_during_a_completion(workdir, *args, since: float = 0.0):
    """Start the workflow, SIGKILL it (jobs included) while a completion job runs: a completion
    log written after `since` whose shard has no manifest yet. Returns when the run is dead."""
    process = subprocess.Popen(
        command(workdir, *args),
        env=environment(),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    logs = workdir / "results" / "logs" / "stages" / "bench" / "complete"
    manifests = workdir / "results" / "shards" / "bench" / "complete"

    def completion_running():
        return any(
            log.stat().st_mtime > since and not (manifests / log.parent.name / f"{log.stem}.json").exists()
            for log in logs.glob("*/*.log")
        )

    deadline = time.monotonic() + 300
    while not completion_running() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before a completion job could be caught"
    assert completion_running(), "no completion job started within 300 s"
    os.killpg(process.pid, signal.SIGKILL)  # the whole run, its job processes included
    process.wait()


def test_a_run_killed_during_completions_twice_resumes_to_the_uninterrupted_result(runs, tmp_path):
    workdir = make_workdir(tmp_path / "killed", n_scenes=4, shard_size=1)
    total = sum(planned_rules(snakemake(workdir, "--dry-run")).values())
    _kill_during_a_completion(workdir)
    manifests = workdir / "results" / "shards" / "bench"

    snakemake(workdir, "--unlock")
    replanned = planned_rules(snakemake(workdir, "--dry-run", "--rerun-incomplete"))
    assert 0 < sum(replanned.values()) < total  # finished shards are kept
    kept = {}
    for manifest in manifests.glob("*/*/*.json"):  # kind/key/shard.json, not a killed job's salvage
        kind, key, shard = manifest.parent.parent.name, manifest.parent.name, manifest.stem
        rule = "__".join(part.replace("-", "_") for part in (kind, "bench", key, shard))
        if kind == "scenes":
            rule = f"scenes__bench__{shard}"
        if rule not in replanned:
            kept[manifest] = manifest.stat().st_mtime_ns
    assert kept

    # the resumed run is killed too, again while a completion runs
    _kill_during_a_completion(workdir, "--rerun-incomplete", since=time.time())
    snakemake(workdir, "--unlock")
    snakemake(workdir, "--rerun-incomplete")
    assert {m: m.stat().st_mtime_ns for m in kept} == kept  # not one shard finished before a kill ran again
    assert result_files(workdir) == result_files(runs[1])  # and the result is the uninterrupted run's
    assert "Nothing to be done" in snakemake(workdir, "--dry-run")


def _kill_a_shard_job_half_way(workdir, process) -> tuple[dict, Path]:
    """SIGKILL the first shard job seen with one or two of its four instances finished (its
    salvage, amodal.run.salvage, says which and holds its pid), as the kernel's out-of-memory
    kill would; Snakemake itself lives on. Returns the finished instances' stage files with
    their mtimes, and the salvage folder."""
    shards = workdir / "results" / "shards" / "bench"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        for salvage in shards.glob("*/*/*.salvage"):
            finished = [p.parent.name for p in salvage.glob("*/finished.json")]
            running = [p for p in salvage.glob("*/running.json") if p.parent.name not in finished]
            if not 1 <= len(finished) <= 2 or not running:
                continue
            try:
                pid = json.loads(running[0].read_text())["pid"]
            except (OSError, ValueError):
                continue
            kind, key = salvage.parent.parent.name, salvage.parent.name
            folders = [workdir / "results" / "stages" / "bench" / i / kind / key for i in finished]
            files = {f: f.stat().st_mtime_ns for folder in folders for f in folder.rglob("*") if f.is_file()}
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:  # it ended meanwhile: wait for another
                continue
            return files, salvage
        time.sleep(0.005)
    raise AssertionError("no shard job was caught with one or two instances finished")


def test_a_shard_job_killed_half_way_is_retried_without_redoing_its_finished_instances(runs, tmp_path):
    workdir = make_workdir(tmp_path / "job_killed", n_scenes=4, shard_size=16)
    process = subprocess.Popen(
        command(workdir, "--max-threads", "1", "--retries", "1"),
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    kept, salvage = _kill_a_shard_job_half_way(workdir, process)
    output, _ = process.communicate(timeout=900)
    assert process.returncode == 0, output[-4000:]
    assert "Error in rule" in output  # the killed attempt failed, and Snakemake removed its outputs...
    assert kept and {f: f.stat().st_mtime_ns for f in kept} == kept  # ...yet these were linked back
    assert not salvage.exists()  # the retry succeeded: nothing is kept beside its outputs
    assert not list((workdir / "results" / "shards").rglob("*.salvage"))  # nor by any other job
    assert result_files(workdir) == result_files(runs[16])  # and the result is the uninterrupted run's
