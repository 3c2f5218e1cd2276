"""Shard membership: consecutive rows, stable when a table grows at its end or a row's status changes."""

import pytest

from amodal.plan.shards import shard_rows, shards

IDS = list("abcdefghij")


def test_consecutive_rows_of_the_given_size():
    assert shards(IDS, [True] * 10, 3) == {
        "s00000": ["a", "b", "c"],
        "s00001": ["d", "e", "f"],
        "s00002": ["g", "h", "i"],
        "s00003": ["j"],
    }
    assert shards(IDS[:2], [True, True], 1) == {"s00000": ["a"], "s00001": ["b"]}
    assert shards([], [], 4) == {}


def test_appending_rows_changes_only_the_last_partial_shard_and_adds_new_ones():
    before = shards(IDS, [True] * 10, 4)
    after = shards(IDS + ["k", "l", "m", "n", "o"], [True] * 15, 4)
    assert before == {"s00000": list("abcd"), "s00001": list("efgh"), "s00002": list("ij")}
    assert after == {"s00000": list("abcd"), "s00001": list("efgh"), "s00002": list("ijkl"), "s00003": list("mno")}


def test_an_instance_that_cannot_run_keeps_everyone_else_in_place():
    runnable = [True] * 10
    runnable[4] = False  # e.g. its image went missing
    assert shards(IDS, runnable, 3) == {
        "s00000": ["a", "b", "c"],
        "s00001": ["d", "f"],
        "s00002": ["g", "h", "i"],
        "s00003": ["j"],
    }
    runnable[9] = False
    assert "s00003" not in shards(IDS, runnable, 3)  # a shard with nothing to run is no job


def test_rows_and_bad_sizes():
    assert [list(r) for r in shard_rows(5, 2)] == [[0, 1], [2, 3], [4]]
    for size in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="positive integer"):
            shard_rows(5, size)
    with pytest.raises(ValueError, match="runnable"):
        shards(IDS, [True], 2)
