"""Tables: each experiment's per-instance CSV, Markdown table and summary, and the comparison of
experiments; every table ends with the definitions of its metrics, settings filled in.

An experiment's summary (`summary.json`) is `amodal.tables.aggregate.aggregate` of its records
plus the experiment, dataset, description and the evaluate stage's settings, so the comparison
can print each experiment's definitions without reading its records again.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from amodal.imaging import io
from amodal.datasets.queries import DIFFICULTY, instance_facts
from amodal.stages.evaluate import failed_record
from amodal.metrics import is_missing
from amodal.metrics.definitions import METRICS, definitions
from amodal.tables.aggregate import aggregate

TABLE_METRICS = METRICS
COPIED = "by construction: the output copies every visible pixel of the input"


def instance_records(metric_paths: list, not_ok: list[dict]) -> tuple[list[str], list[dict]]:
    """Records by instance id; instances the dataset could not offer count as failed (bad_input)."""
    ids, records = [], []
    for path in metric_paths:
        ids.append(Path(path).parent.name)
        records.append(io.read_json(path))
    for row in not_ok:
        ids.append(row["id"])
        records.append(failed_record(f"{row['status']}: {row['message']}", "bad_input"))
    return ids, records


FACT_COLUMNS = ("category", "query", *DIFFICULTY)


def per_instance_frame(ids: list[str], records: list[dict], facts: dict[str, dict] | None = None) -> pd.DataFrame:
    """One row per instance: status, failure kind, reason, what the dataset says of it
    (`FACT_COLUMNS`: category, query and a synthetic scene's difficulty, "" where it does not
    say; `datasets.queries.instance_facts`) and every metric's ratio (empty where it has none)."""
    rows = []
    for instance, record in zip(ids, records):
        failure = (record.get("failure") or "stage_failure") if record["status"] != "ok" else ""
        row = {
            "id": instance,
            "status": record["status"],
            "failure": failure,
            "reason": record.get("reason") or "",
            **{name: (facts or {}).get(instance, {}).get(name, "") for name in FACT_COLUMNS},
        }
        ratios = record.get("metrics") or {}
        for name in TABLE_METRICS:
            value = ratios.get(name)
            row[name] = None if is_missing(value) else value
        rows.append(row)
    return pd.DataFrame(rows, columns=["id", "status", "failure", "reason", *FACT_COLUMNS, *TABLE_METRICS])


def format_value(entry, key: str = "mean") -> str:
    if entry is None:
        return "n/a"
    if is_missing(entry):
        return "missing"
    value = entry.get(key) if isinstance(entry, dict) else entry
    return "n/a" if value is None else f"{value:.3f}"


def definitions_block(summary: dict, names=(*TABLE_METRICS, "failure_rate"), title: str = "Metric definitions") -> str:
    """The definitions of `names` with the settings the summary's experiment was scored with."""
    texts = definitions(summary.get("evaluate"), summary.get("models"))
    lines = ["", f"{title}:", ""] + [f"- **{name}**: {texts[name]}" for name in names]
    return "\n".join(lines) + "\n"


def definitions_for(labelled: list[tuple[str, dict]], names=(*TABLE_METRICS, "failure_rate")) -> str:
    """The definitions of `names` for several (experiment, summary) pairs: once when every
    experiment was scored with the same settings, else one block per experiment."""
    blocks = {label: definitions_block(summary, names) for label, summary in labelled}
    if len(set(blocks.values())) <= 1:
        return next(iter(blocks.values()), "")
    return "".join(
        definitions_block(summary, names, title=f"Metric definitions ({label})") for label, summary in labelled
    )


def missing_block(*labelled: tuple[str, dict]) -> str:
    """'Missing metrics': each reason once, with the metrics (and, given several (label, summary)
    pairs, the experiments) it holds for."""
    by_reason: dict[str, tuple[dict, dict]] = {}
    for label, summary in labelled:
        for name, entry in summary["metrics"].items():
            if is_missing(entry):
                metrics, labels = by_reason.setdefault(entry["missing"], ({}, {}))
                metrics[name] = labels[label] = None
    notes = []
    for reason, (metrics, labels) in by_reason.items():
        where = f" ({', '.join(label for label in labels if label)})" if any(labels) else ""
        notes.append(f"- {', '.join(metrics)}{where}: {reason}")
    return ("\nMissing metrics:\n\n" + "\n".join(notes) + "\n") if notes else ""


def failure_line(summary: dict) -> str:
    kinds = ", ".join(f"{kind} {n}" for kind, n in (summary.get("failures_by_kind") or {}).items())
    line = (
        f"instances: {summary['n']}, failures: {summary['failures']} "
        f"(failure rate {format_value(summary['failure_rate'])})"
    )
    return f"{line}: {kinds}" if kinds else line


def aggregate_experiment(
    metric_paths,
    *,
    not_ok,
    experiment,
    dataset,
    description,
    csv_path,
    table_path,
    summary_path,
    evaluate: dict | None = None,
    instances: dict[str, dict] | None = None,
):
    """metrics.csv, table.md and summary.json of one experiment on one dataset; `evaluate` is the
    experiment's evaluate spec (its settings go into the definitions); `instances` are the
    instance-table rows by id (category, query, gt: `datasets.queries.instance_facts`)."""
    ids, records = instance_records(metric_paths, not_ok)
    facts = {i: instance_facts(row) for i, row in (instances or {}).items()}
    frame = per_instance_frame(ids, records, facts)
    summary = aggregate(records)
    summary.update(experiment=experiment, dataset=dataset, description=description, evaluate=evaluate)
    lines = [
        f"# {experiment} on {dataset}",
        "",
        description,
        "",
        failure_line(summary),
        "",
        "| metric | mean over instances | pooled over pixels/pairs | n |",
        "|---|---|---|---|",
    ]
    for name in TABLE_METRICS:
        entry = summary["metrics"][name]
        n = "" if entry is None or is_missing(entry) else entry["n"]
        mean = format_value(entry)
        if name == "visible_ssim" and summary["visible_copied"]:
            mean += f" ({COPIED})"
        lines.append(f"| {name} | {mean} | {format_value(entry, 'pooled')} | {n} |")
    failed = frame.loc[frame["status"] != "ok", ["id", "failure", "reason"]]
    if not failed.empty:
        lines += ["", "Failed instances:", ""] + [f"- {r.id} ({r.failure}): {r.reason}" for r in failed.itertuples()]
    text = "\n".join(lines) + "\n" + missing_block(("", summary)) + definitions_block(summary)
    with io.atomic_path(csv_path) as tmp:
        frame.to_csv(tmp, index=False)
    with io.atomic_path(table_path) as tmp:
        tmp.write_text(text)
    io.write_json(summary_path, summary)


def compare_experiments(summary_paths, metric_paths, *, experiments, descriptions, dataset, table_path, csv_path):
    """One row per experiment: n, scored (its instances that did not fail), the failure rate and
    each metric's mean over the instances that *every* compared experiment scored (read from the
    experiments' metrics.csv, `metric_paths`), so that no two means of a column cover different
    instances; then each experiment's missing metrics and the definitions (once when every
    experiment was scored with the same settings). The CSV's pooled values are over each
    experiment's own scored instances (its summary), as the column names say."""
    summaries = [io.read_json(path) for path in summary_paths]
    frames = [pd.read_csv(path, dtype={"id": str, "status": str}, keep_default_na=False) for path in metric_paths]
    scored_ids = [set(frame.loc[frame["status"] == "ok", "id"]) for frame in frames]
    common = set.intersection(*scored_ids) if scored_ids else set()
    rows, lines = [], []
    header = ["experiment", "n", "scored", "failure_rate", *TABLE_METRICS]
    lines += [f"# {dataset}: experiments compared", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for name, summary, frame, own in zip(experiments, summaries, frames, scored_ids):
        metrics = summary["metrics"]
        shared = frame[frame["id"].isin(common)]
        cells = [name, str(summary["n"]), str(len(own)), format_value(summary["failure_rate"])]
        row = {
            "experiment": name,
            "n": summary["n"],
            "scored": len(own),
            "compared": len(common),
            "failure_rate": summary["failure_rate"],
            **{f"failures_{kind}": n for kind, n in (summary.get("failures_by_kind") or {}).items()},
        }
        for metric in TABLE_METRICS:
            entry = metrics[metric]
            values = pd.to_numeric(shared[metric], errors="coerce").dropna() if metric in shared else pd.Series([])
            mean = None if is_missing(entry) or values.empty else float(values.mean())
            cell = "missing" if is_missing(entry) else format_value(mean)
            if mean is not None and len(values) != len(common):
                cell += f" (n {len(values)})"
            cells.append(cell + " (copied)" if metric == "visible_ssim" and summary.get("visible_copied") else cell)
            row[f"{metric}_mean"] = mean
            row[f"{metric}_pooled_own_scored"] = None if entry is None or is_missing(entry) else entry["pooled"]
        lines.append("| " + " | ".join(cells) + " |")
        row["visible_copied"] = bool(summary.get("visible_copied"))
        rows.append(row)
    lines += [
        "",
        f"Means over the {len(common)} instances that every experiment scored (an instance failed by any "
        "experiment is left out of every row, so each column compares the same instances); scored: the "
        "experiment's own instances that did not fail; (n k): only k of them have a value. Experiments:",
        "",
    ]
    lines += [
        f"- **{name}**: {descriptions.get(name, '')} ({failure_line(summary)})"
        for name, summary in zip(experiments, summaries)
    ]
    if any(s.get("visible_copied") for s in summaries):
        lines += ["", f"visible_ssim marked (copied): 1 {COPIED}, so it is no finding."]
    text = "\n".join(lines) + "\n"
    text += missing_block(*zip(experiments, summaries))
    text += definitions_for(list(zip(experiments, summaries)))
    with io.atomic_path(table_path) as tmp:
        tmp.write_text(text)
    with io.atomic_path(csv_path) as tmp:
        pd.DataFrame(rows).to_csv(tmp, index=False)
