"""GPU claiming with fake device ids: concurrent jobs get distinct devices, crashes free them,
SLURM's allocation is honoured, and Snakemake's --resources gpu=N with real jobs never puts two
running jobs on one device."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from amodal.run import devices

ROOT = Path(__file__).resolve().parent.parent
SNAKEMAKE = Path(sys.executable).parent / "snakemake"

HOLDER = """
import os, sys, time
from amodal.run.devices import claim
got = claim(1, timeout_s=30, poll_s=0.05)
print(json.dumps({"got": got, "visible": os.environ["CUDA_VISIBLE_DEVICES"], "pid": os.getpid()}), flush=True)
time.sleep(float(sys.argv[1]))
""".replace("import os, sys", "import json, os, sys")


def env_for(lock_dir, ids="0,1", **extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLURM_") and k != "CUDA_VISIBLE_DEVICES"}
    env.update(AMODAL_GPU_IDS=ids, AMODAL_GPU_LOCK_DIR=str(lock_dir), **extra)
    return env


def start_holder(lock_dir, hold_s, **extra):
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(hold_s)], env=env_for(lock_dir, **extra), stdout=subprocess.PIPE, text=True
    )


def first_line(process) -> dict:
    return json.loads(process.stdout.readline())


@pytest.fixture
def processes():
    started = []
    yield started
    for process in started:
        process.kill()
        process.wait()


def test_two_concurrent_jobs_get_different_devices_and_see_only_theirs(tmp_path, processes):
    processes += [start_holder(tmp_path, 60), start_holder(tmp_path, 60)]
    got_a, got_b = (first_line(p) for p in processes)
    assert {got_a["visible"], got_b["visible"]} == {"0", "1"}
    assert got_a["got"] == [got_a["visible"]] and got_b["got"] == [got_b["visible"]]


def test_a_third_job_waits_and_a_killed_job_frees_its_device(tmp_path, processes):
    processes += [start_holder(tmp_path, 60), start_holder(tmp_path, 60)]
    held = {first_line(p)["visible"]: p for p in processes}
    third = start_holder(tmp_path, 0)
    processes.append(third)
    time.sleep(1.0)
    assert third.poll() is None  # still waiting: both devices are held
    held["1"].send_signal(signal.SIGKILL)  # a crash: no clean-up code runs
    held["1"].wait()
    assert first_line(third)["got"] == ["1"]


def test_waiting_ends_with_a_clear_error_after_the_timeout(tmp_path, processes, monkeypatch):
    processes += [start_holder(tmp_path, 60), start_holder(tmp_path, 60)]
    [first_line(p) for p in processes]
    for name, value in env_for(tmp_path).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    with pytest.raises(devices.NoDeviceError, match="no free GPU among"):
        devices.claim(1, timeout_s=0.3, poll_s=0.05)
    assert devices._held == []


def test_a_job_can_claim_several_devices(tmp_path):
    code = "import json, os; from amodal.run.devices import claim; print(json.dumps([claim(2), os.environ['CUDA_VISIBLE_DEVICES']]))"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env_for(tmp_path, ids="4,6,7"), capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == [["4", "6"], "4,6"]


def test_a_gpu_job_claims_its_device_before_it_runs(tmp_path):
    code = (
        "import os; from amodal.run.job import run_job; "
        f"run_job('collect', {{}}, 'exp', [], manifest={str(tmp_path / 'm.json')!r}, gpus=1); "
        "print(os.environ['CUDA_VISIBLE_DEVICES'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env_for(tmp_path, ids="3"), capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "3"
    assert json.loads((tmp_path / "m.json").read_text()) == {"kind": "collect", "key": "exp", "instances": {}}


def test_under_slurm_the_allocation_is_used_and_nothing_is_locked(tmp_path):
    code = "import json; from amodal.run.devices import claim; print(json.dumps(claim(1)))"
    env = env_for(tmp_path / "locks", ids="", SLURM_JOB_ID="42", CUDA_VISIBLE_DEVICES="3")
    env.pop("AMODAL_GPU_IDS")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == ["3"]
    assert not (tmp_path / "locks").exists()


def test_a_slurm_allocation_smaller_than_asked_is_a_clear_error(tmp_path):
    code = "from amodal.run.devices import claim; claim(2)"
    env = env_for(tmp_path, ids="", SLURM_JOB_ID="42", CUDA_VISIBLE_DEVICES="3")
    env.pop("AMODAL_GPU_IDS")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode != 0 and "needs 2 GPU(s) but was given ['3']" in done.stderr


def test_no_device_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("AMODAL_GPU_IDS", raising=False)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # no nvidia-smi
    with pytest.raises(devices.NoDeviceError, match="needs 1 GPU"):
        devices.claim(1)


def test_candidates_come_from_the_override_then_the_inherited_list():
    from amodal.models.devices import candidate_ids

    assert candidate_ids({"AMODAL_GPU_IDS": "2, 5", "CUDA_VISIBLE_DEVICES": "0"}) == ["2", "5"]
    assert candidate_ids({"CUDA_VISIBLE_DEVICES": "1,3"}) == ["1", "3"]


GPU_WORKFLOW = """
rule all:
    input: expand("out/{i}.json", i=range(6))

rule gpu_job:
    output: "out/{i}.json"
    resources: gpu=1
    script: "job.py"
"""

GPU_JOB = """
import json, os, time
from amodal.run.devices import claim
claim(snakemake.resources.gpu, timeout_s=5)
start = time.time()
time.sleep(1.0)
record = {"device": os.environ["CUDA_VISIBLE_DEVICES"], "start": start, "end": time.time()}
open(snakemake.output[0], "w").write(json.dumps(record))
"""


def test_snakemake_gpu_jobs_never_share_a_device_while_running(tmp_path):
    (tmp_path / "Snakefile").write_text(GPU_WORKFLOW)
    (tmp_path / "job.py").write_text(GPU_JOB)
    env = env_for(tmp_path / "locks")
    done = subprocess.run(
        [
            str(SNAKEMAKE),
            "--snakefile",
            str(tmp_path / "Snakefile"),
            "--cores",
            "4",
            "--resources",
            "gpu=2",
            "--directory",
            str(tmp_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads((tmp_path / "out" / f"{i}.json").read_text()) for i in range(6)]
    assert {r["device"] for r in records} == {"0", "1"}
    overlapping = [
        (a, b)
        for i, a in enumerate(records)
        for b in records[i + 1 :]
        if a["start"] < b["end"] and b["start"] < a["end"]
    ]
    assert overlapping, "with 2 GPUs and 4 cores some jobs must have run at the same time"
    assert all(a["device"] != b["device"] for a, b in overlapping)
