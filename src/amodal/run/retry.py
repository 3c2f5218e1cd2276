"""Retrying a job only where a retry can help.

The profiles' `retries` run a failed job again with more memory (`mem_mb × attempt`): that
helps a job that ran out of memory or was killed, never one that failed deterministically (bad
settings, a programming error), which would fail the same way after the same work. So a job's
exception other than running out of memory or an I/O error is written beside its log
(`<log>.error.json`); a later attempt of the same job that finds it fails at once with the
first attempt's message, running nothing. The first attempt of a run (`attempt` 1) removes an
old one, so a fixed job runs again.
"""

from __future__ import annotations

import traceback
from contextlib import contextmanager
from pathlib import Path

from amodal.imaging import io


class NotRetried(RuntimeError):
    """A deterministic failure of an earlier attempt, reported again without running."""


def error_record(log_path) -> Path:
    return Path(f"{log_path}.error.json")


def transient(error: BaseException) -> bool:
    """Whether a retry with more memory, or later, may succeed."""
    from amodal.models.gpu_memory import is_out_of_memory
    from amodal.run.isolation import host_out_of_memory

    return host_out_of_memory(error) or is_out_of_memory(error) or isinstance(error, OSError)


@contextmanager
def attempted_once(log_path, attempt: int):
    """Run the block unless an earlier attempt failed deterministically; record such a failure."""
    record = error_record(log_path)
    if attempt <= 1:
        record.unlink(missing_ok=True)
    elif record.exists():
        earlier = io.read_json(record)
        raise NotRetried(
            f"not retried: attempt {earlier['attempt']} of this job failed with an error that "
            f"does not depend on memory or time: {earlier['error']}"
        )
    try:
        yield
    except Exception as error:
        if not transient(error):
            io.write_json(
                record,
                {"attempt": attempt, "error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()},
            )
        raise
