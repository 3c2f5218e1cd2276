"""Running one stage for one instance so that bad input fails only that instance.

A stage that raises InstanceError (unreadable image, inconsistent ground truth, ...) writes
every declared output as a placeholder and its JSON record as {"status": "failed", "reason"},
naming the instance and the file. A RemoteFailure (a remote model that gave no usable answer)
is written the same way, with its details in the record and `remote_failed` as the
instance's status in the shard's manifest. Downstream stages see the failed record among
their inputs and pass the failure on without running (its reason, and its `failure` kind when
it has one, e.g. `remote_failed`), so the run finishes, the tables count the instance as a
failure with its reason and kind, and every other instance's files are kept.
"""

from __future__ import annotations

import gc
import logging
import sys
from pathlib import Path
from typing import Callable

import numpy as np

from amodal.errors import InstanceError
from amodal.imaging import io
from amodal.imaging.segments import Segments

log = logging.getLogger("amodal")


def upstream_failure(inputs: dict) -> tuple[str | None, dict]:
    """The reason of the first failed record among the JSON inputs (None if there is none), and
    its `failure` kind when it names one (to be passed on)."""
    for name, path in inputs.items():
        if str(path).endswith(".json") and Path(path).exists():
            try:
                record = io.read_json(path)
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("status") == "failed":
                kind = {"failure": record["failure"]} if record.get("failure") else {}
                return record.get("reason") or f"upstream {name} failed", kind
    return None, {}


def write_failed(outputs: dict, reason: str, record: dict | None = None) -> None:
    """Placeholders for every output: the JSON record carries the failure."""
    record = record if record is not None else {"status": "failed", "reason": reason}
    for path in outputs.values():
        path = str(path)
        if path.endswith(".json"):
            io.write_json(path, record)
        elif path.endswith(".png"):
            io.write_mask(path, np.zeros((1, 1), bool))
        elif path.endswith(".npz"):
            io.write_segments(path, Segments(np.zeros((0, 1, 1), bool)))
        else:
            Path(path).mkdir(parents=True, exist_ok=True)


def host_out_of_memory(error: BaseException) -> bool:
    """A MemoryError, or OpenCV's failed allocation (it raises cv2.error, not MemoryError)."""
    if isinstance(error, MemoryError):
        return True
    text = str(error)
    return type(error).__name__ == "error" and ("Insufficient memory" in text or "Failed to allocate" in text)


def run_stage(
    inputs: dict,
    outputs: dict,
    body: Callable[[], None],
    failed_record: Callable[[str], dict] | None = None,
    instance: str = "",
    stage: str = "",
) -> str:
    """Run `body` unless an input record failed; returns "ok", "failed" or the status of the
    InstanceError raised ("remote_failed"). Running out of GPU memory on this instance fails
    only this instance (`amodal.models.gpu_memory`), and so does running out of host memory
    (a MemoryError: kind `out_of_memory`)."""
    from amodal.models.gpu_memory import is_out_of_memory, release

    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(message)s")
    status = "failed"
    reason, details = upstream_failure(inputs)
    if reason is None:
        try:
            body()
            return "ok"
        except InstanceError as error:
            reason, status, details = str(error), error.status, error.details
        except Exception as error:  # noqa: BLE001 - only out-of-memory is this instance's failure
            if host_out_of_memory(error):
                gc.collect()
                where = f" in stage {stage}" if stage else ""
                first_line = (str(error).strip().splitlines() or [""])[0]
                reason = f"instance {instance!r}: out of host memory{where} ({type(error).__name__}: {first_line})"
                details = {"failure": "out_of_memory"}
            elif is_out_of_memory(error):
                release()
                reason = f"instance {instance!r}: out of GPU memory ({str(error).splitlines()[0]})"
            else:
                raise
    record_failure(outputs, reason, failed_record, details)
    return status


def record_failure(outputs: dict, reason: str, failed_record: Callable[[str], dict] | None = None, details=None):
    """Log why the instance failed and write its failed record (the stage's own, made by
    `failed_record`, else the default) with `details` joined, placeholders for the rest."""
    log.error(reason)
    record = failed_record(reason) if failed_record else {"status": "failed", "reason": reason}
    write_failed(outputs, reason, {**record, **(details or {})})
