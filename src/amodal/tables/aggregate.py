"""Dataset aggregation: per-instance records (`amodal.stages.evaluate`) to one summary per experiment.

Only the records' raw quantities are read, so every value here can be recomputed from the
`metrics.json` files without rerunning a stage. Per metric the summary gives the mean over the
instances that have a value and, where pixels or pairs can be pooled, the pooled value; a model
metric missing for any instance is missing for the dataset, with the reasons.
"""

from __future__ import annotations

import numpy as np

from amodal.metrics import is_missing, missing
from amodal.metrics.appearance import psnr_from_sse
from amodal.metrics.definitions import FAILURE_KINDS, MODEL_METRICS
from amodal.metrics.masks import iou
from amodal.metrics.order import order_accuracy


def aggregate(records: list[dict]) -> dict:
    """Dataset summary of instance records.

    Returns {"n", "failures", "failure_rate", "failures_by_kind": {kind: count},
    "metrics": {name: {"mean", "pooled", "n"} or missing(reason)}, "visible_copied": bool,
    "models": {metric: what its network reported}, "versions": {package: version(s) the records
    were written with}}. "n" inside a metric counts the instances that
    gave it a value. Failed instances enter only the failure counts. `visible_copied` is true
    when every scored instance's output kept every visible pixel of the input unchanged (then
    visible_ssim is 1 by construction, not a finding).
    """
    ok = [r for r in records if r.get("status") == "ok"]
    failed = [r for r in records if r.get("status") != "ok"]
    metrics = {
        "visible_iou": _pooled_iou(ok, "visible"),
        "amodal_iou": _pooled_iou(ok, "amodal"),
        "amodal_iou_in_frame": _pooled_iou(ok, "amodal_in_frame"),
        "hidden_psnr": _pooled_psnr(ok),
        "hidden_ssim": _pooled_ssim(ok, "hidden", "hidden_pixels"),
        "visible_ssim": _pooled_ssim(ok, "visible_consistency", "visible_pixels"),
        "order_accuracy": _pooled_order(ok),
    }
    for name in MODEL_METRICS:
        metrics[name] = _model_summary(ok, name)
    consistency = _entries(ok, "visible_consistency")
    return {
        "n": len(records),
        "failures": len(failed),
        "failure_rate": len(failed) / len(records) if records else None,
        "failures_by_kind": failure_counts(failed),
        "metrics": metrics,
        "visible_copied": bool(consistency) and all(c.get("changed_pixels") == 0 for c in consistency),
        "models": model_facts(ok),
        "versions": recorded_versions(records),
    }


def failure_counts(failed: list[dict]) -> dict[str, int]:
    """Failed records counted by kind, in `FAILURE_KINDS` order (a record without one is a stage failure)."""
    counts = {kind: 0 for kind in FAILURE_KINDS}
    for record in failed:
        kind = record.get("failure") or "stage_failure"
        counts[kind] = counts.get(kind, 0) + 1
    return {kind: n for kind, n in counts.items() if n}


def model_facts(records: list[dict]) -> dict:
    """Per model metric, what its network reported (the first instance that loaded it)."""
    facts: dict = {}
    for record in records:
        for metric, found in (record.get("models") or {}).items():
            facts.setdefault(metric, found)
    return facts


def recorded_versions(records: list[dict]) -> dict[str, str]:
    """The package versions the records say they were written with (`amodal.provenance`), each
    package's distinct versions joined by ' / '; packages not installed are left out."""
    found: dict[str, list[str]] = {}
    for record in records:
        for package, version in (record.get("versions") or {}).items():
            if version != "not installed" and version not in found.setdefault(package, []):
                found[package].append(version)
    return {package: " / ".join(sorted(versions)) for package, versions in found.items() if versions}


def _summary(per_instance: list, pooled: float | None) -> dict:
    values = [v for v in per_instance if v is not None]
    mean = float(np.mean(values)) if values else None
    return {"mean": mean, "pooled": pooled, "n": len(values)}


def _entries(records: list[dict], key: str) -> list[dict]:
    return [r[key] for r in records if r.get(key) is not None]


def _pooled_iou(records: list[dict], key: str) -> dict:
    counts = _entries(records, key)
    union = sum(c["union"] for c in counts)
    pooled = sum(c["intersection"] for c in counts) / union if union else None
    return _summary([iou(c) for c in counts], pooled)


def _pooled_psnr(records: list[dict]) -> dict:
    hidden = _entries(records, "hidden")
    sse = sum(h["sse"] for h in hidden)
    values = 3 * sum(h["hidden_pixels"] for h in hidden)  # three channels per pixel
    return _summary([h["psnr"] for h in hidden], psnr_from_sse(sse, values))


def _pooled_ssim(records: list[dict], key: str, pixels_key: str) -> dict:
    entries = _entries(records, key)
    pixels = sum(e[pixels_key] for e in entries)
    pooled = sum(e["ssim_sum"] for e in entries) / pixels if pixels else None
    return _summary([e["ssim"] for e in entries], pooled)


def _pooled_order(records: list[dict]) -> dict:
    counts = _entries(records, "order")
    pairs = sum(c["pairs"] for c in counts)
    pooled = sum(c["tp"] + c["tn"] for c in counts) / pairs if pairs else None
    return _summary([order_accuracy(c) for c in counts], pooled)


def _model_summary(records: list[dict], name: str) -> dict:
    entries = _entries(records, name)
    reasons = sorted({e["missing"] for e in entries if is_missing(e)})
    if reasons:
        # One instance without its network means the column cannot be trusted as a dataset value.
        return missing("; ".join(reasons))
    # Embedding scores have no pixel-level pooling: pooled is left empty.
    values = [None if e.get("value") is None else float(e["value"]) for e in entries]
    return _summary(values, None)
