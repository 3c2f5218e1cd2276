"""Shard membership: which instances one job processes.

Shards are consecutive runs of `size` rows of a dataset's instance table, counted over every
row, runnable or not. So:

- an unchanged table always gives the same shards;
- appending rows changes only the last shard (if it was not full) and adds new ones;
- an instance whose status changes (an image goes missing, then comes back) leaves every
  other instance in its shard, and every other shard, as it was.

Inserting or deleting rows in the middle of a table shifts every later shard; datasets
that grow should grow at the end (the synthetic benchmark does: scene i is row i).
"""

from __future__ import annotations

from typing import Sequence


def shard_name(index: int) -> str:
    return f"s{index:05d}"


def shard_rows(n_rows: int, size: int) -> list[range]:
    """Row ranges of each shard of a table of `n_rows` rows."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"shard size must be a positive integer, got {size!r}")
    return [range(start, min(start + size, n_rows)) for start in range(0, n_rows, size)]


def shards(ids: Sequence[str], runnable: Sequence[bool], size: int) -> dict[str, list[str]]:
    """Shard name -> the runnable ids in it, in table order; shards with none are left out."""
    if len(ids) != len(runnable):
        raise ValueError(f"{len(ids)} ids but {len(runnable)} runnable flags")
    found = {}
    for index, rows in enumerate(shard_rows(len(ids), size)):
        members = [ids[row] for row in rows if runnable[row]]
        if members:
            found[shard_name(index)] = members
    return found
