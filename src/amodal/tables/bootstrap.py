"""Confidence intervals of a mean over instances: the percentile bootstrap, instances resampled
with replacement (scipy.stats.bootstrap, method 'percentile').

The settings (`config` key `tables.bootstrap`: resamples, seed, confidence) are all that the
interval depends on besides the values, so a table is reproducible: every interval draws from
its own generator seeded with `seed`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

# The schema's defaults (src/amodal/data/schemas/config.schema.yaml, tables.bootstrap).
DEFAULTS = {"resamples": 1000, "seed": 0, "confidence": 0.95}

# Resamples drawn per call of the statistic: bounds the memory to BATCH x n values whatever
# `resamples` is (10,000 instances: 20 MB). Part of what the interval depends on: the draws
# are taken batch by batch.
BATCH = 256


@dataclass(frozen=True)
class Interval:
    """Mean of `n` values and its bootstrap interval [low, high]; all None when n is 0, the
    interval None when n is 1."""

    mean: float | None
    low: float | None
    high: float | None
    n: int


def settings(given: dict | None = None) -> dict:
    """`given` (config `tables.bootstrap`, possibly partial) over the defaults."""
    return {**DEFAULTS, **(given or {})}


def mean_interval(
    values,
    *,
    resamples: int = DEFAULTS["resamples"],
    seed: int = DEFAULTS["seed"],
    confidence: float = DEFAULTS["confidence"],
) -> Interval:
    """Mean of `values` (None and NaN left out) with its percentile bootstrap interval.

    One value has no interval (low and high None: resampling one instance says nothing about the
    spread, and a zero-width interval would claim certainty). Two or more equal values give
    [v, v]: every resample has that mean.
    """
    x = np.asarray([float(v) for v in values if v is not None], dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return Interval(None, None, None, 0)
    mean = float(np.mean(x))
    if x.size == 1:
        return Interval(mean, None, None, 1)
    if np.all(x == x[0]):
        return Interval(float(x[0]), float(x[0]), float(x[0]), int(x.size))
    found = stats.bootstrap(
        (x,),
        np.mean,
        n_resamples=resamples,
        batch=BATCH,
        vectorized=True,
        confidence_level=confidence,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    ci = found.confidence_interval
    return Interval(mean, float(ci.low), float(ci.high), int(x.size))
