"""The paper's tables of one dataset as files (`results/tables/<dataset>/<table>.{csv,md,tex}`):
the CSV holds every number (means, interval bounds, counts, missing reasons), the Markdown and
the LaTeX the table as printed. Beside each table, in the Markdown and as LaTeX comments: how
the intervals were computed, the published rows' source, the missing metrics with their
reasons, the experiments (file, description), the metric definitions with their settings and
the package versions. The tables themselves: `paper_tables`.
"""

from __future__ import annotations

from importlib import metadata

from amodal.imaging import io
from amodal.provenance import versions
from amodal.tables import bootstrap
from amodal.tables.latex import booktabs
from amodal.tables.paper_tables import (
    METHOD_METRICS,
    Result,
    Table,
    failures_table,
    ground_truth_by_category,
    ground_truth_table,
    methods_table,
    read_metrics_csv,
)
from amodal.tables.reference import read_reference, rows_for
from amodal.tables.render import COPIED, definitions_for, missing_block

# What the table job itself used (the numbers' own versions are the evaluate records').
WRITER_PACKAGES = ("amodal", "numpy", "pandas", "scipy")


def load_results(summary_paths, metrics_paths, *, experiments, settings: dict | None = None) -> list[Result]:
    """Each experiment's summary.json and metrics.csv, in `experiments` order; `settings` gives
    each experiment's file and description ({name: {"file", "description"}})."""
    settings = settings or {}
    return [
        Result(
            name,
            io.read_json(summary),
            read_metrics_csv(frame),
            str((settings.get(name) or {}).get("file", "")),
            str((settings.get(name) or {}).get("description", "")),
        )
        for name, summary, frame in zip(experiments, summary_paths, metrics_paths)
    ]


def write_paper_tables(
    summary_paths,
    metrics_paths,
    *,
    experiments,
    settings,
    dataset,
    outputs: dict,
    bootstrap_settings: dict | None = None,
    reference=None,
) -> None:
    """methods.* and failures.* of one dataset; `outputs` maps "<table>_<csv|md|tex>" to paths,
    `reference` is the published rows' file (config tables.reference) or None."""
    results = load_results(summary_paths, metrics_paths, experiments=experiments, settings=settings)
    boot = bootstrap.settings(bootstrap_settings)
    published = rows_for(read_reference(reference, METHOD_METRICS), dataset) if reference else []
    write_table(methods_table(results, boot, published), results, dataset, boot, outputs)
    write_table(failures_table(results), results, dataset, boot, outputs)


def write_ground_truth_tables(
    summary_paths,
    metrics_paths,
    *,
    experiments,
    settings,
    dataset,
    outputs: dict,
    bootstrap_settings: dict | None = None,
) -> None:
    """ground_truth.* and ground_truth_by_category.* of one dataset with ground truth."""
    results = load_results(summary_paths, metrics_paths, experiments=experiments, settings=settings)
    boot = bootstrap.settings(bootstrap_settings)
    write_table(ground_truth_table(results, boot), results, dataset, boot, outputs)
    write_table(ground_truth_by_category(results, boot), results, dataset, boot, outputs)


def write_table(table: Table, results: list[Result], dataset: str, boot: dict, outputs: dict) -> None:
    text = notes(table, results, boot)
    with io.atomic_path(outputs[f"{table.name}_csv"]) as tmp:
        table.frame.to_csv(tmp, index=False)
    with io.atomic_path(outputs[f"{table.name}_md"]) as tmp:
        tmp.write_text(markdown(table, dataset, text))
    with io.atomic_path(outputs[f"{table.name}_tex"]) as tmp:
        tmp.write_text(
            booktabs(
                table.header,
                table.rows,
                caption=caption(table, dataset, boot),
                label=f"tab:{dataset}-{table.name}",
                notes=f"{dataset}: {table.title}\n{text}",
                numeric=table.numeric,
                midrule_before=table.midrule_before,
            )
        )


def markdown(table: Table, dataset: str, notes_text: str) -> str:
    lines = [
        f"# {dataset}: {table.title}",
        "",
        "| " + " | ".join(table.header) + " |",
        "|" + "---|" * len(table.header),
    ]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in row) + " |" for row in table.rows]
    return "\n".join(lines) + "\n" + notes_text


def caption(table: Table, dataset: str, boot: dict) -> str:
    if not table.intervals:
        return f"{dataset}: {table.title}. Instances by failure kind."
    return (
        f"{dataset}: {table.title}. Mean over instances [{_percent(boot['confidence'])} percentile bootstrap interval]."
    )


def notes(table: Table, results: list[Result], boot: dict) -> str:
    """What a reader needs beside the table (Markdown; also the LaTeX file's comments)."""
    parts = []
    if table.intervals:
        parts.append(
            f"Mean over the scored instances, with its {_percent(boot['confidence'])} confidence interval in brackets: "
            f"percentile bootstrap, instances resampled with replacement ({boot['resamples']} resamples, seed "
            f"{boot['seed']}; scipy.stats.bootstrap). n: instances; scored: instances that did not fail (failures "
            "count only in failures.md); (n k): only k instances have a value; [n/a]: one instance has a value, and one has no interval; n/a: no value (no ground truth, "
            "or no instance scored); missing: could not be computed (below)."
        )
    else:
        parts.append("Instances by what failed; failure_rate = failures / n.")
    published = table.frame[table.frame["kind"] == "published"] if "kind" in table.frame else table.frame.iloc[0:0]
    if not published.empty:
        parts.append(
            "Rows marked (published) are figures published elsewhere, printed for reference: not computed "
            "here, on other data, without intervals. "
            + " ".join(f"{r.experiment}: {r.source}." for r in published.itertuples())
        )
    if "visible_ssim" in table.metrics and any(r.summary.get("visible_copied") for r in results):
        parts.append(f"visible_ssim marked (copied): 1 {COPIED}, so it is no finding.")
    text = "\n" + "\n\n".join(parts) + "\n"
    shown = [
        (r.name, {"metrics": {m: r.summary["metrics"].get(m) for m in table.metrics if m in r.summary["metrics"]}})
        for r in results
    ]
    text += missing_block(*shown)
    text += "\nExperiments:\n\n" + "".join(
        f"- **{r.name}**"
        + (f" (`{r.file}`)" if r.file else "")
        + (f": {r.description}" if r.description else "")
        + "\n"
        for r in results
    )
    text += definitions_for([(r.name, r.summary) for r in results], table.metrics)
    return text + versions_block(results)


def versions_block(results: list[Result]) -> str:
    recorded: dict[str, list[str]] = {}
    for result in results:
        for package, version in (result.summary.get("versions") or {}).items():
            if version not in recorded.setdefault(package, []):
                recorded[package].append(version)
    computed = (
        ", ".join(f"{p} {' / '.join(v)}" for p, v in recorded.items()) or "not recorded (rerun the aggregate step)"
    )
    own = versions()
    written = ", ".join(f"{p} {own.get(p) or _version(p)}" for p in WRITER_PACKAGES)
    return (
        f"\nPackage versions: the metrics were computed with {computed} (as the evaluate stage recorded them); "
        f"the tables were written with {written}.\n"
    )


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _percent(confidence: float) -> str:
    return f"{confidence * 100:g} %"
