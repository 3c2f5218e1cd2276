"""Occlusion-order accuracy, kept as confusion counts of 'this neighbour occludes the target'."""

from __future__ import annotations

from typing import Iterable


def order_counts(pred_occluder_ids: Iterable, true_occluder_ids: Iterable, candidate_ids: Iterable) -> dict:
    """Confusion counts of 'candidate occludes the target' over the candidate neighbours."""
    predicted = set(pred_occluder_ids)
    truth = set(true_occluder_ids)
    counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
    for candidate in dict.fromkeys(candidate_ids):  # deduplicated, order kept
        said, actual = candidate in predicted, candidate in truth
        key = ("t" if said == actual else "f") + ("p" if said else "n")
        counts[key] += 1
    counts["pairs"] = sum(counts.values())
    return counts


def order_accuracy(counts: dict | None) -> float | None:
    if counts is None or counts["pairs"] == 0:
        return None
    return (counts["tp"] + counts["tn"]) / counts["pairs"]
