"""Running one instance in a process of its own: the instance an earlier attempt of its job died on.

A job that dies (the kernel's out-of-memory kill, a signal, a lost node) leaves `running.json`
in its salvage (`amodal.run.salvage`) for the instance it was on. The next attempt runs that
instance first, alone, in a fresh child process (a new interpreter: no CUDA state or models
inherited, so it costs a start and a model load), with the job's memory limits. If the child
dies by a signal too, the instance has killed its job twice: it is recorded as failed,
`killed`, with the signal and the memory limit, and the job goes on with the others. A child that raises (a programming error) fails the job with its
message, as the instance would have in the job itself.
"""

from __future__ import annotations

import logging
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback
from pathlib import Path

from amodal.imaging import io
from amodal.plan import layout


def run_alone(stage: str, spec: dict, key: str, items: list[dict], shared: dict, declarations, limit) -> dict:
    """Each instance's status after running them in a child process; if the child dies by a
    signal, each instance again in a child of its own, and one whose child dies too is recorded
    killed. `limit` (amodal.run.memory.MemoryLimit) is the job's, checked in the child and
    named in that record. (A stage that takes its shard as one batch leaves every instance of
    the batch running when it dies: they run as one batch first, and one by one only if that
    batch dies as well.)"""
    outcome = _in_child(stage, spec, key, items, shared, declarations, limit)
    if isinstance(outcome, dict):
        return outcome
    if len(items) > 1:
        statuses = {}
        for item in items:
            statuses.update(run_alone(stage, spec, key, [item], shared, declarations, limit))
        return statuses
    return {items[0]["id"]: record_kill(stage, items[0], outcome, limit.describe(), declarations)}


def _in_child(stage, spec, key, items, shared, declarations, limit) -> dict | int:
    """The statuses of a child process that ran the items, or the number of the signal it died
    of. The child is a fresh interpreter (`python -m amodal.run.alone`), not a fork or a
    multiprocessing spawn, which would import the job's script again as its main module."""
    models = shared.get("models")
    files = {name: value for name, value in shared.items() if name != "models"}
    with tempfile.TemporaryDirectory(prefix="amodal-alone-") as scratch:
        job, result = Path(scratch) / "job.pickle", Path(scratch) / "result.json"
        with open(job, "wb") as handle:  # written and read by this job's own processes only
            pickle.dump(
                (stage, spec, key, items, files, models.config if models is not None else {}, declarations, limit),
                handle,
            )
        child = subprocess.run(
            [sys.executable, "-m", "amodal.run.alone", str(job), str(result)],
            env=dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p)),
        )
        if child.returncode == 0:
            return io.read_json(result)["statuses"]
        if child.returncode < 0:
            return -child.returncode
        error = io.read_json(result)["error"] if result.exists() else f"exit status {child.returncode}"
        names = ", ".join(item["id"] for item in items)
        raise RuntimeError(f"{stage} {names}, run alone after its job died: {error}")


def _child(job: str, result: str) -> None:
    from amodal.models.cache import ModelCache
    from amodal.run.job import run_stage_job

    with open(job, "rb") as handle:
        stage, spec, key, items, files, models, declarations, limit = pickle.load(handle)
    shared = dict(files, models=ModelCache(models))
    try:
        statuses = run_stage_job(stage, spec, key, items, shared, declarations, limit=limit)
    except Exception:  # noqa: BLE001 - handed to the parent, which fails the job with it
        io.write_json(result, {"error": traceback.format_exc(limit=-3)})
        raise SystemExit(1) from None
    io.write_json(result, {"statuses": statuses})


def record_kill(stage: str, item: dict, number: int | None, limit: str, declarations) -> str:
    """Write the instance's failed record (`killed`; `number`: the signal its child died of, None
    when two attempts of its job died while it ran); returns its status."""
    from amodal.declarations import resolve
    from amodal.run.isolation import record_failure

    if number is None:
        name, how = "unknown", "its job died twice while it ran"
    else:
        name = signal.Signals(number).name if number in signal.Signals._value2member_map_ else f"signal {number}"
        how = f"killed by {name} twice (its job, then run alone)"
    reason = f"instance {item['id']!r}: {how} in stage {stage}, memory limit {limit}"
    declared = declarations[stage]
    shutil.rmtree(item["folder"], ignore_errors=True)  # what the killed runs left half-written
    record_failure(
        layout.files_in(item["folder"], declared.writes),
        reason,
        resolve(declared.failed_record) if declared.failed_record else None,
        {"failure": "killed", "signal": name, "memory_limit": limit},
    )
    return "failed"


if __name__ == "__main__":
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(message)s")
    _child(sys.argv[1], sys.argv[2])
