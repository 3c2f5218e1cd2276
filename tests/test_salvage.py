"""A shard job that dies keeps what it finished: the next attempt links finished instances back
(same files, same mtimes), runs the one it died on alone, and records an instance that kills
its job twice as `killed`; a deterministic failure is attempted once; an instance too large for
the job's memory fails alone."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import salvage_probe
from amodal.errors import TooLarge
from amodal.imaging import io
from amodal.run.memory import MemoryLimit
from amodal.run.retry import NotRetried, attempted_once, error_record
from amodal.run.salvage import Salvage

IDS = ["a", "b", "c", "d"]


def first_attempt(folder: Path, spec: dict) -> int:
    """One attempt of the job in a process of its own; its exit status (negative: a signal)."""
    process = subprocess.run(
        [sys.executable, str(Path(salvage_probe.__file__)), str(folder), json.dumps(spec), *IDS],
        env=dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(salvage_probe.__file__).parent), *sys.path])),
        capture_output=True,
        text=True,
    )
    return process.returncode


def record(folder: Path, instance: str) -> Path:
    return folder / "stages" / instance / "record.json"


def test_the_next_attempt_keeps_what_the_killed_one_finished_and_runs_the_culprit_alone(tmp_path):
    spec = {"calls": str(tmp_path / "calls.txt"), "kill": {"c": 1}}
    assert first_attempt(tmp_path, spec) == -signal.SIGKILL
    assert salvage_probe.calls(spec) == ["a", "b", "c"]
    before = {i: record(tmp_path, i).stat().st_mtime_ns for i in ("a", "b")}
    for instance in ("a", "b"):  # as Snakemake does with a failed job's outputs
        record(tmp_path, instance).unlink()
    statuses = salvage_probe.run(tmp_path, IDS, spec)
    assert statuses == {"a": "ok", "b": "ok", "c": "ok", "d": "ok"}
    assert salvage_probe.calls(spec) == ["a", "b", "c", "c", "d"]  # a and b not again; c alone, then d
    assert {i: record(tmp_path, i).stat().st_mtime_ns for i in ("a", "b")} == before
    assert [io.read_json(record(tmp_path, i))["value"] for i in IDS] == IDS


def test_an_instance_that_kills_its_job_twice_is_recorded_killed_and_the_shard_completes(tmp_path):
    spec = {"calls": str(tmp_path / "calls.txt"), "kill": {"b": 2}}
    assert first_attempt(tmp_path, spec) == -signal.SIGKILL
    statuses = salvage_probe.run(tmp_path, IDS, spec)
    assert statuses == {"a": "ok", "b": "failed", "c": "ok", "d": "ok"}
    assert salvage_probe.calls(spec) == ["a", "b", "b", "c", "d"]
    failed = io.read_json(record(tmp_path, "b"))
    assert failed["status"] == "failed" and failed["failure"] == "killed" and failed["signal"] == "SIGKILL"
    assert "'b'" in failed["reason"] and "probe" in failed["reason"] and "memory limit" in failed["reason"]


def test_the_killed_record_names_the_jobs_memory_limit(tmp_path):
    spec = {"calls": str(tmp_path / "calls.txt"), "kill": {"b": 2}}
    assert first_attempt(tmp_path, spec) == -signal.SIGKILL
    limit = MemoryLimit(123_456)
    limit.address_space = None
    salvage_probe.run(tmp_path, IDS, spec, limit=limit)
    assert io.read_json(record(tmp_path, "b"))["memory_limit"] == "mem_mb 123456"


def test_an_instance_that_did_not_fit_is_tried_again_with_more_memory(tmp_path):
    """A retry has mem_mb x attempt: what failed for memory runs again, the rest is linked back."""
    from amodal.run.job import run_stage_job
    from amodal.run.memory import resident_bytes

    spec = {"calls": str(tmp_path / "calls.txt"), "backend": "only"}
    big = tmp_path / "images" / "big.png"
    big.parent.mkdir(parents=True)
    io.write_mask(big, np.zeros((3000, 4000), bool))  # 12 Mpx at 100 bytes a pixel: 1.2 GB
    items = salvage_probe.items(tmp_path, ["a", "big"])
    kept = Salvage(tmp_path / "salvage")
    small, large = (MemoryLimit(resident_bytes() / 2**20 + mb) for mb in (500, 5000))
    small.address_space = large.address_space = None
    first = run_stage_job("probe", spec, "k", items, {}, salvage_probe.DECLARATIONS, salvage=kept, limit=small)
    assert first == {"a": "ok", "big": "failed"}  # ...and the job died before its manifest
    again = run_stage_job("probe", spec, "k", items, {}, salvage_probe.DECLARATIONS, salvage=kept, limit=small)
    assert again == first and salvage_probe.calls(spec) == ["a"]  # the same limit: linked back
    more = run_stage_job("probe", spec, "k", items, {}, salvage_probe.DECLARATIONS, salvage=kept, limit=large)
    assert more == {"a": "ok", "big": "ok"} and salvage_probe.calls(spec) == ["a", "big"]


@pytest.mark.parametrize("stage", ["probe", "undeclared"])
def test_an_instance_whose_input_changed_is_computed_again(tmp_path, stage):
    spec = {"calls": str(tmp_path / "calls.txt"), "kill": {"c": 1}, "stage": stage}
    assert first_attempt(tmp_path, spec) == -signal.SIGKILL
    image = tmp_path / "images" / "b.png"
    io.write_mask(image, np.ones((3, 3), bool))  # a new file: other size and mtime
    salvage_probe.run(tmp_path, IDS, spec)
    assert salvage_probe.calls(spec) == ["a", "b", "c", "c", "b", "d"]
    assert io.read_json(record(tmp_path, "b"))["image_bytes"] == image.stat().st_size


def test_a_finished_job_leaves_no_salvage_and_a_plain_run_keeps_each_instance(tmp_path):
    spec = {"calls": str(tmp_path / "calls.txt")}
    salvage_probe.run(tmp_path, ["a", "b"], spec)
    kept = Salvage(tmp_path / "salvage")
    assert kept.interrupted("a") == 0
    assert io.read_json(tmp_path / "salvage" / "a" / "finished.json")["status"] == "ok"
    linked = tmp_path / "salvage" / "a" / "files" / "record.json"
    assert linked.stat().st_ino == record(tmp_path, "a").stat().st_ino  # a hard link, not a copy
    kept.discard()
    assert not (tmp_path / "salvage").exists()


def test_a_programming_error_in_the_instance_run_alone_fails_the_job(tmp_path):
    spec = {"calls": str(tmp_path / "calls.txt"), "kill": {"a": 1}, "broken": ["a"]}
    assert first_attempt(tmp_path, spec) == -signal.SIGKILL
    with pytest.raises(RuntimeError, match="a programming error"):
        salvage_probe.run(tmp_path, IDS, spec)


def test_a_deterministic_failure_is_attempted_once(tmp_path):
    log = tmp_path / "job.log"
    runs = []

    def job():
        runs.append(1)
        raise KeyError("settings that cannot work")

    with pytest.raises(KeyError):
        with attempted_once(log, attempt=1):
            job()
    assert "settings that cannot work" in io.read_json(error_record(log))["error"]
    with pytest.raises(NotRetried, match="attempt 1 of this job failed .*settings that cannot work"):
        with attempted_once(log, attempt=2):
            job()
    assert len(runs) == 1
    with pytest.raises(KeyError):  # a new run (attempt 1) tries again
        with attempted_once(log, attempt=1):
            job()
    assert len(runs) == 2


@pytest.mark.parametrize("error", [MemoryError(), OSError(28, "No space left on device")])
def test_running_out_of_memory_or_disk_is_retried(tmp_path, error):
    log = tmp_path / "job.log"
    with pytest.raises(type(error)):
        with attempted_once(log, attempt=1):
            raise error
    assert not error_record(log).exists()
    with attempted_once(log, attempt=2):
        pass


def test_an_instance_too_large_for_what_the_job_has_left_fails_alone(tmp_path):
    spec = {"calls": str(tmp_path / "calls.txt"), "backend": "only"}
    big = tmp_path / "images" / "big.png"
    big.parent.mkdir(parents=True)
    io.write_mask(big, np.zeros((3000, 4000), bool))  # 12 Mpx at 100 bytes a pixel: 1.2 GB
    from amodal.run.job import run_stage_job
    from amodal.run.memory import resident_bytes

    mem_mb = resident_bytes() / 2**20 + 500  # 500 MB left
    items = salvage_probe.items(tmp_path, ["a", "big", "b"])
    statuses = run_stage_job("probe", spec, "k", items, {}, salvage_probe.DECLARATIONS, limit=MemoryLimit(mem_mb))
    assert statuses == {"a": "ok", "big": "failed", "b": "ok"}
    assert salvage_probe.calls(spec) == ["a", "b"]
    failed = io.read_json(record(tmp_path, "big"))
    assert failed["failure"] == "too_large"
    assert "4000x3000" in failed["reason"] and "probe" in failed["reason"] and "mem_mb" in failed["reason"]


def test_the_estimate_is_the_stage_rate_times_the_pixels(tmp_path):
    limit = MemoryLimit(mem_mb=None)
    limit.address_space = None
    limit.check("x", "probe", (10_000, 10_000), 1000.0, "x.png")  # no limit stated: nothing to check
    limit.mem_mb = 5_000.0  # less what this process holds
    with pytest.raises(TooLarge, match="about 9537 MB"):  # 1e8 px x 100 bytes = 1e10 bytes = 9537 MiB
        limit.check("x", "probe", (10_000, 10_000), 100.0, "x.png")
    limit.check("x", "probe", (100, 100), 100.0, "x.png")  # 1 MB fits


def test_invalidate_removes_what_a_failed_job_kept_of_the_instance(tmp_path):
    from amodal.run.invalidate import invalidate

    for instance in ("x", "y"):
        (tmp_path / "stages" / "ds" / instance / "order" / "geo-1").mkdir(parents=True)
        (tmp_path / "shards" / "ds" / "order" / "geo-1" / "0000.salvage" / instance / "files").mkdir(parents=True)
    invalidate(tmp_path, "order", ["x"])
    assert not (tmp_path / "stages" / "ds" / "x" / "order" / "geo-1").exists()
    assert not (tmp_path / "shards" / "ds" / "order" / "geo-1" / "0000.salvage" / "x").exists()
    assert (tmp_path / "shards" / "ds" / "order" / "geo-1" / "0000.salvage" / "y").exists()


def test_a_batch_that_died_runs_as_one_batch_again(tmp_path):
    spec = {"calls": str(tmp_path / "calls.txt"), "kill": {"c": 1}, "stage": "batched"}
    assert first_attempt(tmp_path, spec) == -signal.SIGKILL
    assert salvage_probe.run(tmp_path, IDS, spec) == dict.fromkeys(IDS, "ok")
    assert salvage_probe.calls(spec) == ["a", "b", "c", "a", "b", "c", "d"]  # one batch again, in one child


def test_a_batch_that_dies_again_runs_one_by_one_and_only_the_culprit_is_killed(tmp_path):
    spec = {"calls": str(tmp_path / "calls.txt"), "kill": {"c": 3}, "stage": "batched"}
    assert first_attempt(tmp_path, spec) == -signal.SIGKILL
    statuses = salvage_probe.run(tmp_path, IDS, spec)
    assert statuses == {"a": "ok", "b": "ok", "c": "failed", "d": "ok"}
    # the job; the batch alone; then a, b, c, d each alone
    assert salvage_probe.calls(spec) == ["a", "b", "c"] * 2 + ["a", "b", "c", "d"]
    assert io.read_json(record(tmp_path, "c"))["failure"] == "killed"


def test_an_instance_two_attempts_died_on_is_recorded_killed_without_running(tmp_path):
    spec = {"calls": str(tmp_path / "calls.txt"), "kill": {"b": 5}}
    assert first_attempt(tmp_path, spec) == -signal.SIGKILL
    Salvage(tmp_path / "salvage").started("b")  # as if the second attempt died with its child
    assert salvage_probe.run(tmp_path, IDS, spec)["b"] == "failed"
    assert salvage_probe.calls(spec) == ["a", "b", "c", "d"]
    assert "its job died twice" in io.read_json(record(tmp_path, "b"))["reason"]


def test_through_the_workflow_a_job_that_fails_deterministically_runs_once(tmp_path):
    """A scenes job asked for a hidden fraction no placement reaches fails the same way however
    much memory it gets: its retry reports the first attempt's error and runs nothing."""
    import subprocess as run

    import yaml

    from workflow_helpers import command, environment, make_workdir

    workdir = make_workdir(tmp_path / "run", n_scenes=1, shard_size=16)
    config = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
    config["datasets"]["bench"]["hidden_fraction"] = [0.97, 0.99]
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    done = run.run(command(workdir, "--retries", "1"), env=environment(), capture_output=True, text=True)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert output.count("Error in rule scenes__bench__s00000") == 2  # Snakemake tried twice...
    log = next((workdir / "results" / "logs").rglob("s00000.log")).read_text()
    assert "not retried: attempt 1 of this job failed" in log and "no placement with a hidden fraction" in log
    assert "Traceback" in log and log.count("build_scenes") == 0  # ...the second attempt built nothing


def test_an_instance_of_a_batch_too_large_for_the_job_fails_alone_and_the_batch_runs(tmp_path):
    from amodal.run.job import run_stage_job
    from amodal.run.memory import resident_bytes

    spec = {"calls": str(tmp_path / "calls.txt"), "backend": "only"}
    big = tmp_path / "images" / "big.png"
    big.parent.mkdir(parents=True)
    io.write_mask(big, np.zeros((3000, 4000), bool))  # 12 Mpx at 100 bytes a pixel: 1.2 GB
    limit = MemoryLimit(resident_bytes() / 2**20 + 500)
    limit.address_space = None
    items = salvage_probe.items(tmp_path, ["a", "big", "b"])
    statuses = run_stage_job("batched", spec, "k", items, {}, salvage_probe.DECLARATIONS, limit=limit)
    assert statuses == {"a": "ok", "big": "failed", "b": "ok"}
    assert salvage_probe.calls(spec) == ["a", "b"]  # the batch, without it
    assert io.read_json(record(tmp_path, "big"))["failure"] == "too_large"
