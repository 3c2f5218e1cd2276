"""One GPU per job on a multi-GPU host, and the allocation the scheduler gives under SLURM.

Snakemake's local executor counts GPUs (`--resources gpu=N`) but never says which one a job
should use, so two jobs would both land on device 0. A GPU job therefore claims devices
itself, before CUDA starts: it takes an exclusive `flock` on `<lock_dir>/gpu<id>.lock`
for each device it gets and sets `CUDA_VISIBLE_DEVICES` to them. The kernel drops a flock when
its process ends, however it ends (exit, exception, SIGKILL), so a crashed job never keeps a
device. Under SLURM (`SLURM_JOB_ID` set) the scheduler has already chosen the devices and
set `CUDA_VISIBLE_DEVICES`; nothing is locked.

Devices to choose from, in order: `AMODAL_GPU_IDS` (comma-separated), else the
`CUDA_VISIBLE_DEVICES` the job inherited, else the indices `nvidia-smi` lists.
Lock folder: `AMODAL_GPU_LOCK_DIR`, else `<tmp>/amodal-gpu-locks-<uid>` (host-local).
"""

from __future__ import annotations

import fcntl
import os
import sys
import tempfile
import time
from pathlib import Path

from amodal.models.devices import candidate_ids

_held: list = []  # open lock files: kept for the life of the process


class NoDeviceError(RuntimeError):
    pass


def lock_dir(environ=None) -> Path:
    environ = os.environ if environ is None else environ
    folder = environ.get("AMODAL_GPU_LOCK_DIR") or os.path.join(
        tempfile.gettempdir(), f"amodal-gpu-locks-{os.getuid()}"
    )
    Path(folder).mkdir(parents=True, exist_ok=True)
    return Path(folder)


def _try_lock(path: Path):
    handle = open(path, "a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    handle.seek(0)
    handle.truncate()
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def claim(count: int = 1, *, timeout_s: float = 600, poll_s: float = 0.5) -> list[str]:
    """Claim `count` devices for this process and expose only them to CUDA; returns their ids.

    Waits (up to `timeout_s`) while every device is held by another job, which happens only
    when something besides this workflow's scheduler uses the locks.
    """
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_initialized():
        raise RuntimeError("claim GPUs before CUDA starts: it reads CUDA_VISIBLE_DEVICES once, when first used")
    if os.environ.get("SLURM_JOB_ID"):
        granted = candidate_ids()
        if len(granted) < count:
            raise NoDeviceError(
                f"this SLURM job needs {count} GPU(s) but was given {granted or 'none'}; "
                "ask for them with the rule's gpu resource (profiles/slurm)"
            )
        return granted[:count]
    ids = candidate_ids()
    if len(ids) < count:
        raise NoDeviceError(
            f"this job needs {count} GPU(s) but {len(ids)} are visible ({ids}); set AMODAL_GPU_IDS, "
            "or run GPU stages on a host with GPUs"
        )
    folder = lock_dir()
    deadline = time.monotonic() + timeout_s
    got: list[str] = []
    while True:
        for device in ids:
            if len(got) == count:
                break
            if device in got:
                continue
            handle = _try_lock(folder / f"gpu{device}.lock")
            if handle is not None:
                _held.append(handle)
                got.append(device)
        if len(got) == count:
            break
        if time.monotonic() > deadline:
            release()
            raise NoDeviceError(f"no free GPU among {ids} after {timeout_s:.0f} s (locks in {folder})")
        time.sleep(poll_s)
    os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(got)
    return got


def release() -> None:
    """Give back every device this process holds (ending the process does the same)."""
    while _held:
        _held.pop().close()
