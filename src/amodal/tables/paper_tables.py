"""The paper's tables of one dataset, as data: each experiment's per-instance metrics (its
`metrics.csv`, the aggregate step's per-instance frame) and summary (`summary.json`) turned
into rows of means with percentile bootstrap intervals over instances.

- `methods_table`: one row per experiment, the paper's reference-free metrics (Table 3's
  columns; over the ablation experiments it is Table 4), published reference rows after ours;
- `failures_table`: instances, failures, failure rate and a count per failure kind (Table 5);
- `ground_truth_table` and `ground_truth_by_category`: the metrics that compare with the ground
  truth, per experiment and per experiment and category.

A metric the summary gives as missing stays missing with its reason in every row, never a
number; one with no value (no ground truth, no instance scored) is "n/a". Files: `paper_files`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from amodal.metrics import is_missing
from amodal.metrics.definitions import FAILURE_KINDS, METRICS
from amodal.tables.bootstrap import Interval, mean_interval
from amodal.tables.reference import ReferenceRow

# The paper's Table 3 columns, in its order (SSIM is the visible part's: reference-free).
METHOD_METRICS = ("clip_score", "lpips", "feature_similarity", "visible_ssim")
GROUND_TRUTH_METRICS = ("visible_iou", "amodal_iou", "hidden_psnr", "hidden_ssim", "hidden_lpips", "order_accuracy")
UNKNOWN_CATEGORY = "(unknown)"


@dataclass
class Result:
    """One experiment on the dataset: its summary.json, its metrics.csv (as read by
    `read_metrics_csv`), the experiment file and its description."""

    name: str
    summary: dict
    frame: pd.DataFrame
    file: str = ""
    description: str = ""


@dataclass
class Table:
    """A table three ways: `rows` as printed (Markdown, LaTeX), `frame` with every number (CSV)."""

    name: str
    title: str
    header: list[str]
    rows: list[list[str]]
    frame: pd.DataFrame
    numeric: set[int] = field(default_factory=set)  # column indices right-aligned in LaTeX
    midrule_before: set[int] = field(default_factory=set)  # row indices starting a group
    metrics: tuple[str, ...] = ()  # the metrics whose definitions go with it
    intervals: bool = True  # cells are means with bootstrap intervals (else counts)


def read_metrics_csv(path) -> pd.DataFrame:
    """An experiment's metrics.csv: text columns as text ("" for empty), metrics as floats (NaN
    for none)."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    for name in METRICS:
        if name in frame.columns:
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)  # "" -> NaN
    if "category" not in frame.columns:
        frame["category"] = ""
    return frame


# ------------------------------------------------------------------ cells


def metric_cell(result: Result, rows: pd.DataFrame, metric: str, boot: dict):
    """missing(reason) as the summary says, None without any value, else the Interval of the
    scored instances of `rows` (sorted by id, so the interval does not depend on row order)."""
    entry = result.summary["metrics"].get(metric)
    if is_missing(entry):
        return entry
    if metric not in rows.columns:
        return None
    scored = rows[rows["status"] == "ok"].sort_values("id", kind="stable")
    found = mean_interval(scored[metric].dropna().tolist(), **boot)
    return found if found.n else None


def cell_text(cell, scored: int | None = None, copied: bool = False) -> str:
    if cell is None:
        return "n/a"
    if is_missing(cell):
        return "missing"
    interval = "n/a" if cell.low is None else f"{cell.low:.3f}, {cell.high:.3f}"  # n/a: one instance
    text = f"{cell.mean:.3f} [{interval}]"
    if scored is not None and cell.n != scored:
        text += f" (n {cell.n})"
    return text + (" (copied)" if copied else "")


def cell_columns(metric: str, cell) -> dict:
    interval = cell if isinstance(cell, Interval) else Interval(None, None, None, 0)
    return {
        f"{metric}_mean": interval.mean,
        f"{metric}_ci_low": interval.low,
        f"{metric}_ci_high": interval.high,
        f"{metric}_n": interval.n,
        f"{metric}_missing": cell["missing"] if is_missing(cell) else "",
    }


def _counts_as_integers(frame: pd.DataFrame) -> pd.DataFrame:
    """Count columns as integers with empty cells (a published row has no counts), not floats."""
    for column in frame.columns:
        if column in ("n", "scored") or column.endswith("_n"):
            frame[column] = frame[column].astype("Int64")
    return frame


def _scored(frame: pd.DataFrame) -> int:
    return int((frame["status"] == "ok").sum())


# ------------------------------------------------------------------ tables


def methods_table(results: list[Result], boot: dict, reference: list[ReferenceRow] = ()) -> Table:
    header = ["experiment", "n", "scored", *METHOD_METRICS]
    rows, records = [], []
    for result in results:
        scored = _scored(result.frame)
        copied = bool(result.summary.get("visible_copied"))
        cells = {m: metric_cell(result, result.frame, m, boot) for m in METHOD_METRICS}
        rows.append(
            [result.name, str(result.summary["n"]), str(scored)]
            + [cell_text(cells[m], scored, copied and m == "visible_ssim") for m in METHOD_METRICS]
        )
        record = {
            "experiment": result.name,
            "kind": "experiment",
            "n": result.summary["n"],
            "scored": scored,
            "visible_copied": copied,
            "file": result.file,
            "description": result.description,
            "source": "",
        }
        for m in METHOD_METRICS:
            record.update(cell_columns(m, cells[m]))
        records.append(record)
    first_reference = len(rows)
    for ref in reference:
        rows.append([ref.label, "", ""] + [f"{ref.metrics[m]:.3f}" if m in ref.metrics else "" for m in METHOD_METRICS])
        record = {
            "experiment": ref.label,
            "kind": "published",
            "n": None,
            "scored": None,
            "visible_copied": False,
            "file": "",
            "description": "",
            "source": ref.source,
        }
        for m in METHOD_METRICS:
            record.update(
                {
                    f"{m}_mean": ref.metrics.get(m),
                    f"{m}_ci_low": None,
                    f"{m}_ci_high": None,
                    f"{m}_n": None,
                    f"{m}_missing": "",
                }
            )
        records.append(record)
    return Table(
        "methods",
        "methods (the paper's Table 3; over the ablation experiments, Table 4)",
        header,
        rows,
        _counts_as_integers(pd.DataFrame(records)),
        numeric={1, 2},
        midrule_before={first_reference} if reference else set(),
        metrics=METHOD_METRICS,
    )


def failures_table(results: list[Result]) -> Table:
    kinds = list(FAILURE_KINDS)
    for result in results:  # a kind no table knows yet still gets its column
        kinds += [k for k in (result.summary.get("failures_by_kind") or {}) if k not in kinds]
    header = ["experiment", "n", "failures", "failure_rate", *kinds]
    rows, records = [], []
    for result in results:
        summary = result.summary
        counts = {k: int((summary.get("failures_by_kind") or {}).get(k, 0)) for k in kinds}
        rate = summary.get("failure_rate")
        rows.append(
            [result.name, str(summary["n"]), str(summary["failures"]), "n/a" if rate is None else f"{rate:.3f}"]
            + [str(counts[k]) for k in kinds]
        )
        records.append(
            {
                "experiment": result.name,
                "n": summary["n"],
                "failures": summary["failures"],
                "failure_rate": rate,
                **counts,
            }
        )
    return Table(
        "failures",
        "failures (the paper's Table 5)",
        header,
        rows,
        pd.DataFrame(records, columns=header),
        numeric=set(range(1, len(header))),
        metrics=("failure_rate",),
        intervals=False,
    )


def ground_truth_table(results: list[Result], boot: dict) -> Table:
    header = ["experiment", "n", "scored", *GROUND_TRUTH_METRICS]
    rows, records = [], []
    for result in results:
        row, record = _ground_truth_row(result, result.frame, boot)
        rows.append([result.name, *row])
        records.append({"experiment": result.name, **record})
    return Table(
        "ground_truth",
        "metrics against the ground truth",
        header,
        rows,
        pd.DataFrame(records),
        numeric={1, 2},
        metrics=GROUND_TRUTH_METRICS,
    )


def ground_truth_by_category(results: list[Result], boot: dict) -> Table:
    """Rows experiment x category (categories sorted; an instance whose category is not known
    counts under "(unknown)"), each over that category's instances."""
    header = ["experiment", "category", "n", "scored", *GROUND_TRUTH_METRICS]
    rows, records, starts = [], [], set()
    for result in results:
        categories = result.frame["category"].replace("", UNKNOWN_CATEGORY)
        starts.add(len(rows))
        for category in sorted(set(categories)):
            row, record = _ground_truth_row(result, result.frame[categories == category], boot)
            rows.append([result.name, category, *row])
            records.append({"experiment": result.name, "category": category, **record})
    return Table(
        "ground_truth_by_category",
        "metrics against the ground truth, by category",
        header,
        rows,
        pd.DataFrame(records, columns=None if records else ["experiment", "category"]),
        numeric={2, 3},
        midrule_before=starts,
        metrics=GROUND_TRUTH_METRICS,
    )


def _ground_truth_row(result: Result, rows: pd.DataFrame, boot: dict) -> tuple[list[str], dict]:
    scored = _scored(rows)
    cells = {m: metric_cell(result, rows, m, boot) for m in GROUND_TRUTH_METRICS}
    record = {"n": len(rows), "scored": scored}
    for m in GROUND_TRUTH_METRICS:
        record.update(cell_columns(m, cells[m]))
    return [str(len(rows)), str(scored)] + [cell_text(cells[m], scored) for m in GROUND_TRUTH_METRICS], record
