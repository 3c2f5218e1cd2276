"""The demo through `snakemake --executor slurm` on a real one-node SLURM cluster started on this
machine (tools/slurm_local.sh), with profiles/slurm: every shard job is a SLURM job, and the
files are those of a local run, byte for byte.

Needs root (slurmd, munged) and Debian's slurm-wlm and munge, which it installs when they are
missing; CI runs as root. Without root it fails, saying why: it is never skipped."""

import os
import re
import shutil
import signal
import subprocess
import time

import pytest
import yaml

from workflow_helpers import ROOT, SNAKEMAKE, command, environment, make_workdir, planned_rules, result_files, snakemake

CLUSTER = ROOT / "tools" / "slurm_local.sh"
TOOLS = ("sinfo", "squeue", "scontrol", "slurmctld", "slurmd", "munged")
N_SCENES = 3
LOCAL_RULES = {
    "aggregate",
    "compare",
    "paper_tables",
    "ground_truth_tables",
    "html_report",
    "all",
}  # run by Snakemake itself, not submitted
RUN_TIMEOUT_S = 600


def install_slurm():
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if not missing:
        return
    if os.geteuid() != 0:
        pytest.fail(
            f"SLURM is not installed ({', '.join(missing)} not found) and this test is not root: "
            f"run it as root (it installs them) or `apt-get install slurm-wlm munge` first"
        )
    done = subprocess.run(
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge",
        shell=True,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, f"installing slurm-wlm and munge failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    install_slurm()
    if os.geteuid() != 0:
        pytest.fail("a local SLURM cluster needs root (slurmd and munged run as root and munge)")
    folder = tmp_path_factory.mktemp("slurm")
    try:
        started = subprocess.run(
            ["bash", str(CLUSTER), "start", str(folder)], capture_output=True, text=True, timeout=120
        )
        assert started.returncode == 0, f"the local SLURM cluster did not start:\n{started.stdout}{started.stderr}"
        yield folder
    finally:
        subprocess.run(["bash", str(CLUSTER), "stop", str(folder)], capture_output=True, timeout=60)


def test_the_profile_retries_with_memory_and_runtime_growing_with_attempt(tmp_path):
    """profiles/slurm as Snakemake reads it, on the local executor: a job that fails twice runs a
    third time, with the profile's default resources times the attempt."""
    (tmp_path / "Snakefile").write_text(
        'rule grow:\n'
        '    output: "grown.txt"\n'
        '    shell: "echo {resources.mem_mb} {resources.runtime} >> tries.txt; '
        '[ $(wc -l < tries.txt) -ge 3 ] && cp tries.txt {output}"\n'
    )
    done = subprocess.run(
        [
            str(SNAKEMAKE),
            "--snakefile",
            str(tmp_path / "Snakefile"),
            "--directory",
            str(tmp_path),
            "--profile",
            str(ROOT / "profiles" / "slurm"),
            "--executor",
            "local",
            "--cores",
            "1",
        ],
        capture_output=True,
        text=True,
        env=environment(),
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert (tmp_path / "grown.txt").read_text() == "1000 10\n2000 20\n3000 30\n"


def test_lint_with_the_slurm_profile_is_clean(tmp_path):
    workdir = make_workdir(tmp_path / "lint", n_scenes=2, shard_size=2)
    assert "Congratulations" in snakemake(workdir, "--profile", str(ROOT / "profiles" / "slurm"), "--lint")


def start(args, log):
    with open(log, "w") as out:
        return subprocess.Popen(args, env=environment(), stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def finish(process, log, timeout):
    """Snakemake under SLURM ignores SIGTERM when it hangs; SIGINT ends it and cancels its jobs."""
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=60)
        pytest.fail(f"the run in {process.args[4]} did not finish within {timeout} s:\n{log.read_text()[-6000:]}")
    output = log.read_text()
    assert process.returncode == 0, output[-6000:]
    return output


def test_demo_through_slurm_equals_a_local_run(cluster, tmp_path):
    local = make_workdir(tmp_path / "local", n_scenes=N_SCENES, shard_size=N_SCENES)
    on_slurm = make_workdir(tmp_path / "slurm", n_scenes=N_SCENES, shard_size=N_SCENES)
    planned = planned_rules(snakemake(on_slurm, "--dry-run"))
    submitted = sum(n for rule, n in planned.items() if rule not in LOCAL_RULES)

    # The user-facing profile, with what a cluster without accounting and a quick test need. The
    # plugin checks 2 s after a submission, then every 10 s more until a job has ended: a job of
    # this demo (two Snakemake starts, ~5 s) is seen at the second check.
    profile = yaml.safe_load((ROOT / "profiles" / "slurm" / "config.yaml").read_text())
    profile.update(
        {
            "jobs": 4,
            "latency-wait": 5,
            "slurm-status-command": "squeue",
            "slurm-init-seconds-before-status-checks": 2,
            "slurm-keep-successful-logs": True,
        }
    )
    (tmp_path / "profile").mkdir()
    (tmp_path / "profile" / "config.yaml").write_text(yaml.safe_dump(profile))

    # The local run alongside: the SLURM run mostly waits for its status checks.
    began = time.monotonic()
    slurm_run = start(command(on_slurm, "--profile", str(tmp_path / "profile")), tmp_path / "slurm.log")
    local_run = start(command(local), tmp_path / "local.log")
    try:
        finish(local_run, tmp_path / "local.log", RUN_TIMEOUT_S)
        output = finish(slurm_run, tmp_path / "slurm.log", RUN_TIMEOUT_S)
    finally:
        for process in (local_run, slurm_run):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGINT)
                process.wait(timeout=60)
    wall = time.monotonic() - began
    job_ids = re.findall(r"submitted with SLURM jobid (\d+)", output)
    print(f"\nSLURM run: {len(job_ids)} SLURM jobs, {wall:.1f} s wall")

    expected, got = result_files(local), result_files(on_slurm)
    assert len(expected) > N_SCENES * 20  # every stage file of every instance, both experiments
    assert sorted(got) == sorted(expected)
    assert [name for name in expected if got[name] != expected[name]] == []

    # SLURM ran every shard job: one job id and one kept log per job, and the controller
    # remembers each as completed with the memory and time limit config 'resources' gives a
    # weight-free job of 3 instances (2000 MB; 5 min + 10 s × 3 = 6 min).
    assert len(set(job_ids)) == len(job_ids) == submitted
    logs = sorted((on_slurm / ".snakemake" / "slurm_logs").rglob("*.log"))
    assert sorted(log.stem for log in logs) == sorted(job_ids)
    states = subprocess.run(
        ["squeue", "-h", "--states=all", "-o", "%i %T"], capture_output=True, text=True, check=True
    ).stdout
    state_of = dict(line.split() for line in states.splitlines())
    assert {state_of.get(job) for job in job_ids} == {"COMPLETED"}
    for job in job_ids:
        details = subprocess.run(["scontrol", "show", "job", job], capture_output=True, text=True, check=True).stdout
        assert "TimeLimit=00:06:00" in details and re.search(r"\bmem=2000M\b", details), details
