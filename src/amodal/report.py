"""Per-experiment collection, metric tables and the comparison of experiments."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from . import io
from .evaluate import METRIC_DEFINITIONS, aggregate, failed_record, is_missing

TABLE_METRICS = (
    "visible_iou", "amodal_iou", "amodal_iou_in_frame", "hidden_psnr", "hidden_ssim",
    "visible_ssim", "order_accuracy", "clip_score", "lpips", "feature_similarity",
)


def instance_records(metric_paths: list, not_ok: list[dict]) -> tuple[list[str], list[dict]]:
    """Records by instance id; instances the dataset could not offer count as failed."""
    ids, records = [], []
    for path in metric_paths:
        ids.append(Path(path).parent.name)
        records.append(io.read_json(path))
    for row in not_ok:
        ids.append(row["id"])
        records.append(failed_record(f"{row['status']}: {row['message']}"))
    return ids, records


def per_instance_frame(ids: list[str], records: list[dict]) -> pd.DataFrame:
    rows = []
    for instance, record in zip(ids, records):
        row = {"id": instance, "status": record["status"], "reason": record.get("reason") or ""}
        ratios = record.get("metrics") or {}
        for name in TABLE_METRICS:
            value = ratios.get(name)
            row[name] = None if is_missing(value) else value
        rows.append(row)
    return pd.DataFrame(rows, columns=["id", "status", "reason", *TABLE_METRICS])


def format_value(entry, key: str = "mean") -> str:
    if entry is None:
        return "n/a"
    if is_missing(entry):
        return "missing"
    value = entry.get(key) if isinstance(entry, dict) else entry
    return "n/a" if value is None else f"{value:.3f}"


def definitions_block(names) -> str:
    lines = ["", "Metric definitions:", ""]
    lines += [f"- **{name}**: {METRIC_DEFINITIONS[name]}" for name in names]
    return "\n".join(lines) + "\n"


def missing_block(summary: dict) -> str:
    notes = [f"- {name}: missing ({entry['missing']})" for name, entry in summary["metrics"].items() if is_missing(entry)]
    return ("\nMissing metrics:\n\n" + "\n".join(notes) + "\n") if notes else ""


def aggregate_experiment(metric_paths, *, not_ok, experiment, dataset, description, csv_path, table_path, summary_path):
    ids, records = instance_records(metric_paths, not_ok)
    frame = per_instance_frame(ids, records)
    summary = aggregate(records)
    summary.update(experiment=experiment, dataset=dataset, description=description)
    lines = [
        f"# {experiment} on {dataset}",
        "",
        description,
        "",
        f"instances: {summary['n']}, failures: {summary['failures']} (failure rate {format_value(summary['failure_rate'])})",
        "",
        "| metric | mean over instances | pooled over pixels/pairs | n |",
        "|---|---|---|---|",
    ]
    for name in TABLE_METRICS:
        entry = summary["metrics"][name]
        n = "" if entry is None or is_missing(entry) else entry["n"]
        lines.append(f"| {name} | {format_value(entry)} | {format_value(entry, 'pooled')} | {n} |")
    failed = frame.loc[frame["status"] != "ok", ["id", "reason"]]
    if not failed.empty:
        lines += ["", "Failed instances:", ""] + [f"- {r.id}: {r.reason}" for r in failed.itertuples()]
    text = "\n".join(lines) + "\n" + missing_block(summary) + definitions_block([*TABLE_METRICS, "failure_rate"])
    with io.atomic_path(csv_path) as tmp:
        frame.to_csv(tmp, index=False)
    with io.atomic_path(table_path) as tmp:
        tmp.write_text(text)
    io.write_json(summary_path, summary)


def compare_experiments(summary_paths, *, experiments, descriptions, dataset, table_path, csv_path):
    """One row per experiment: the mean of each metric (pooled value in the CSV too)."""
    rows, lines = [], []
    header = ["experiment", "n", "failure_rate", *TABLE_METRICS]
    lines += [f"# {dataset}: experiments compared", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, path in zip(experiments, summary_paths):
        summary = io.read_json(path)
        metrics = summary["metrics"]
        cells = [name, str(summary["n"]), format_value(summary["failure_rate"])]
        cells += [format_value(metrics[m]) for m in TABLE_METRICS]
        lines.append("| " + " | ".join(cells) + " |")
        row = {"experiment": name, "n": summary["n"], "failure_rate": summary["failure_rate"]}
        for metric in TABLE_METRICS:
            entry = metrics[metric]
            row[f"{metric}_mean"] = None if entry is None or is_missing(entry) else entry["mean"]
            row[f"{metric}_pooled"] = None if entry is None or is_missing(entry) else entry["pooled"]
        rows.append(row)
    lines += ["", "Means over instances. Experiments:", ""] + [f"- **{n}**: {descriptions.get(n, '')}" for n in experiments]
    last = io.read_json(summary_paths[-1]) if summary_paths else {"metrics": {}}
    text = "\n".join(lines) + "\n" + missing_block(last) + definitions_block([*TABLE_METRICS, "failure_rate"])
    with io.atomic_path(table_path) as tmp:
        tmp.write_text(text)
    with io.atomic_path(csv_path) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
