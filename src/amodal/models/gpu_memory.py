"""Running out of GPU memory costs one instance, never the shard.

A batched call that runs out of device memory is retried on each half of its batch, down to
single instances (results are per instance and seeded per instance, so the split changes no
output); an instance that does not fit alone gets an `OutOfMemory` marker instead of a result,
which the caller turns into that instance's failed status. torch is never imported here: an
error can only be torch's out-of-memory error if torch is already loaded.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from typing import Callable, Sequence

log = logging.getLogger("amodal")


@dataclass
class OutOfMemory:
    """In place of one instance's result: it did not fit in device memory even alone."""

    reason: str


def is_out_of_memory(error: BaseException) -> bool:
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(error, getattr(torch, "OutOfMemoryError", ())):
        return True
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower() and "CUDA" in str(error)


def release() -> None:
    """Hand cached blocks back after an out-of-memory error, so the smaller retry can fit."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def map_splitting(call: Callable[[list], Sequence], items: list, most: int | None = None) -> list:
    """`call(items)`, one result per item; on out-of-memory, each half again, down to single
    items, whose failure becomes an `OutOfMemory` in its place. Other errors propagate. `most`
    (None: no bound) caps the items of one call: longer lists go in consecutive chunks of `most`."""
    if not items:
        return []
    if most is not None and len(items) > most:
        return [
            result
            for start in range(0, len(items), most)
            for result in map_splitting(call, items[start : start + most])
        ]
    try:
        results = list(call(items))
    except Exception as error:  # noqa: BLE001 - only out-of-memory is handled, the rest re-raised
        if not is_out_of_memory(error):
            raise
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
    else:
        if len(results) != len(items):
            raise RuntimeError(f"batched call returned {len(results)} results for {len(items)} items")
        return results
    # Retried only here, outside the except block: while it runs, the error's traceback keeps
    # the failed call's frames, and with them its tensors, alive on the device.
    release()
    if len(items) == 1:
        log.error("out of GPU memory even for one instance: %s", message)
        return [OutOfMemory(f"out of GPU memory even alone ({message})")]
    log.warning("out of GPU memory with a batch of %d; retrying in halves", len(items))
    half = len(items) // 2
    return map_splitting(call, items[:half]) + map_splitting(call, items[half:])
