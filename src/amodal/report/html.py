"""The visual report: `results/report/index.html`, a folder that opens in any browser offline.

The page shows the comparison tables, the paper's tables and each experiment's table, then one
strip per instance:
the photo with its query and the ground truth (synthetic scenes), and for each experiment its
status (and reason, if it failed), its metrics and its pictures: the result on a checkerboard,
the visible mask, the occluders, and every inpainting pass. The instance data lies in
`data.js` (a script, since browsers refuse to read JSON files from a folder opened as
file://); `report.js` sorts, filters and draws it one page at a time, so a report of
thousands of instances stays fast. Records are read as the workflow wrote them: each
experiment's `metrics.csv` (every instance, also those the dataset could not offer),
`stages.json` (the stage folders an instance used) and the stage folders themselves.
"""

from __future__ import annotations

import csv
import html
import json
import math
import os
import shutil
from importlib import resources
from pathlib import Path

from amodal.imaging import io
from amodal.plan import layout
from amodal.report.markdown_lite import to_html
from amodal.report.thumbnails import Thumbnails
from amodal.tables.render import FACT_COLUMNS

ASSETS = ("report.js", "report.css")
RECORD_COLUMNS = ("id", "status", "reason")
# Columns of metrics.csv that are no metric (text, or a scene's difficulty), even where numeric.
TEXT_COLUMNS = ("failure", *FACT_COLUMNS)
# One inpainting pass's files (amodal.stages.complete.stage.write_completion): iterations/<pass>/...


def instance_rows(rows: dict[str, dict[str, dict]]) -> dict[str, list[dict]]:
    """Each dataset's instance-table rows (amodal.plan.jobs.Workplan.rows) as the report reads
    them: id, image, query and gt as text ("" for an empty cell)."""

    def text(value) -> str:
        return "" if value is None or value != value else str(value)  # value != value: pandas' NaN

    return {
        dataset: [{name: text(row.get(name)) for name in ("id", "image", "query", "gt")} for row in table.values()]
        for dataset, table in rows.items()
    }


def read_metrics_table(path) -> tuple[list[str], dict[str, dict]]:
    """An experiment's metrics.csv: the numeric metric columns, and each instance's row
    (status, reason, {metric: float or None}, other columns as text)."""
    with open(path, newline="") as handle:
        rows = list(csv.DictReader(handle))
    extra = [c for c in (rows[0].keys() if rows else []) if c not in RECORD_COLUMNS]
    numeric = [
        c for c in extra if c not in TEXT_COLUMNS and all(row[c] in ("", None) or _parses(row[c]) for row in rows)
    ]
    by_id = {}
    for row in rows:
        by_id[row["id"]] = {
            "status": row["status"],
            "reason": row.get("reason") or "",
            "values": {c: _number(row[c]) for c in numeric},
            "notes": {c: row[c] for c in extra if c not in numeric and row[c]},
        }
    return numeric, by_id


def _parses(text) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _number(text) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def scene_truth(gt_path) -> dict | None:
    """A synthetic scene's record (scene.json) with its files' paths, or None without one."""
    if not gt_path or not Path(gt_path).is_file():
        return None
    try:
        record = io.read_json(gt_path)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    root = Path(gt_path).parent
    files = {name: root / record[name] for name in ("image", "whole", "amodal_mask") if record.get(name)}
    return {"query": record.get("query", ""), **files}


class ReportBuilder:
    """Collects every instance's records and pictures into the page's data."""

    def __init__(self, out_dir, *, results, cache_dir):
        self.out_dir, self.results = Path(out_dir), results
        self.thumbs = Thumbnails(self.out_dir, cache_dir)

    def tile(self, label: str, src: str | None, full, checker: bool = False) -> dict | None:
        if src is None:
            return None
        tile = {"label": label, "src": src, "full": os.path.relpath(full, self.out_dir)}
        return dict(tile, checker=True) if checker else tile

    def stage_folders(self, experiment: str, dataset: str, instance: str) -> dict[str, Path]:
        """The stage folders the experiment used for the instance, under this run's results root."""
        path = layout.collected_outputs(layout.experiment_folder(self.results, experiment, dataset, instance))["stages"]
        if not Path(path).is_file():
            return {}
        return {
            stage: Path(layout.stage_folder(self.results, dataset, instance, stage, Path(folder).name))
            for stage, folder in io.read_json(path).items()
        }

    def run_tiles(self, experiment: str, dataset: str, instance: str, image) -> list[dict]:
        """One experiment's pictures of an instance; those drawn over its photo only with one."""
        folders = self.stage_folders(experiment, dataset, instance)
        collected = layout.collected_outputs(layout.experiment_folder(self.results, experiment, dataset, instance))
        tiles = [self.tile("result (RGBA)", self.thumbs.cutout(collected["rgba"]), collected["rgba"], checker=True)]
        if "ground" in folders and image:
            visible = layout.stage_outputs(folders["ground"], "ground")["mask"]
            tiles.append(self.tile("visible mask", self.thumbs.photo(image, [(visible, "visible")]), visible))
            if "order" in folders:
                occluders = layout.stage_outputs(folders["order"], "order")["occluders"]
                tiles.append(
                    self.tile(
                        "occluders (red)",
                        self.thumbs.photo(image, [(visible, "visible"), (occluders, "occluders")]),
                        occluders,
                    )
                )
        if "complete" in folders:
            passes = Path(layout.stage_outputs(folders["complete"], "complete")["iterations"])
            numbers = sorted((int(p.name) for p in passes.iterdir() if p.name.isdigit()) if passes.is_dir() else [])
            for number in numbers:
                files = {name: Path(path) for name, path in layout.pass_files(passes, number).items()}
                tiles.append(
                    self.tile(
                        f"pass {number + 1}: input, inpainted region",
                        self.thumbs.photo(files["input"], [(files["mask"], "inpaint")]),
                        files["input"],
                    )
                )
                tiles.append(
                    self.tile(
                        f"pass {number + 1}: completion",
                        self.thumbs.photo(files["completion"]),
                        files["completion"],
                    )
                )
        return [t for t in tiles if t is not None]

    def instance(self, dataset: str, row: dict, experiments: list[str], records: dict, metrics: list[str]) -> dict:
        """An instance's data: query, photo, ground truth, and each experiment's record and pictures."""
        truth = scene_truth(row.get("gt"))
        image = row.get("image") or (truth or {}).get("image")
        query = row.get("query") or (truth or {}).get("query", "")
        photo = self.tile("photo", self.thumbs.photo(image), image) if image else None
        truth_tiles = []
        if truth:
            if "whole" in truth:
                truth_tiles.append(
                    self.tile("true whole object", self.thumbs.cutout(truth["whole"]), truth["whole"], checker=True)
                )
            if "amodal_mask" in truth and image:
                truth_tiles.append(
                    self.tile(
                        "true amodal mask (blue)",
                        self.thumbs.photo(image, [(truth["amodal_mask"], "amodal")]),
                        truth["amodal_mask"],
                    )
                )
        runs = {}
        for experiment in experiments:
            record = records.get((experiment, dataset), {}).get(row["id"])
            if record is None:
                continue
            runs[experiment] = {
                "status": record["status"],
                "reason": record["reason"],
                "values": [record["values"].get(m) for m in metrics],
                "notes": record["notes"],
                "tiles": self.run_tiles(experiment, dataset, row["id"], image),
            }
        return {
            "dataset": dataset,
            "id": row["id"],
            "query": query,
            "photo": photo,
            "truth": [t for t in truth_tiles if t is not None],
            "runs": runs,
        }


def build_report(
    out_dir,
    *,
    cache_dir,
    experiments: list[str],
    instances: dict[str, list[dict]],
    comparison_tables: dict[str, tuple[str, str]],
    experiment_tables: dict[tuple[str, str], tuple[str, str]],
    paper_tables: dict[str, list[tuple[str, str, str, str]]] | None = None,
    results=None,
    title: str = "amodal: visual report",
) -> None:
    """Write the report folder.

    instances: dataset -> its instance-table rows (id, image, query, gt), in table order.
    comparison_tables: dataset -> (Markdown, CSV) of the experiments compared.
    experiment_tables: (experiment, dataset) -> (table.md, metrics.csv).
    paper_tables: dataset -> [(table name, Markdown, CSV, LaTeX)] (amodal.tables.paper_files).
    results: the results root the records lie in (default: the report folder's parent,
    as in the workflow's `<results>/report`).
    """
    out = Path(out_dir)
    results = str(out.parent) if results is None else results
    out.mkdir(parents=True, exist_ok=True)
    metrics, records = [], {}
    for pair, (_, metrics_csv) in experiment_tables.items():
        columns, records[pair] = read_metrics_table(metrics_csv)
        metrics += [c for c in columns if c not in metrics]
    builder = ReportBuilder(out, results=results, cache_dir=cache_dir)
    rows = [
        builder.instance(dataset, row, experiments, records, metrics)
        for dataset, table in instances.items()
        for row in table
    ]
    data = {
        "title": title,
        "datasets": list(instances),
        "experiments": experiments,
        "metrics": metrics,
        "statuses": sorted({run["status"] for row in rows for run in row["runs"].values()}),
        "instances": rows,
    }
    _write(out / "data.js", "window.AMODAL_REPORT = " + json.dumps(data, separators=(",", ":"), sort_keys=True) + ";\n")
    tables_html = _tables_section(out, comparison_tables, experiment_tables, paper_tables or {})
    assets = resources.files("amodal") / "data" / "report"
    for name in ASSETS:
        _write(out / name, (assets / name).read_text())
    page = (assets / "index.html").read_text()
    _write(out / "index.html", page.replace("{{title}}", html.escape(title)).replace("{{tables}}", tables_html))
    builder.thumbs.prune_cache()


def paper_tables_by_dataset(keys, markdown, csv_paths, tex_paths) -> dict[str, list[tuple[str, str, str, str]]]:
    """`build_report`'s paper_tables from aligned lists: keys (dataset, table name) and the
    table's Markdown, CSV and LaTeX files."""
    found: dict[str, list[tuple[str, str, str, str]]] = {}
    for (dataset, name), md, csv_path, tex in zip(keys, markdown, csv_paths, tex_paths):
        found.setdefault(dataset, []).append((name, md, csv_path, tex))
    return found


def _write(path: Path, text: str) -> None:
    with io.atomic_path(path) as tmp:
        tmp.write_text(text)
        os.chmod(tmp, 0o644)  # readable when the folder is served (mkstemp makes files private)


def _tables_section(out: Path, comparison_tables, experiment_tables, paper_tables) -> str:
    """The tables as HTML, their CSV (and LaTeX) files copied into the report (tables/...)."""
    parts = []
    for dataset, (markdown, csv_path) in comparison_tables.items():
        link = _copy(csv_path, out, f"tables/{dataset}.csv")
        parts.append(
            f'<section class="table">{to_html(Path(markdown).read_text(), shift=1)}'
            f'<p><a href="{link}">{html.escape(dataset)}.csv</a></p></section>'
        )
        for name, markdown, csv_path, tex_path in paper_tables.get(dataset, []):
            links = [
                (_copy(path, out, f"tables/{dataset}/{name}.{ext}"), f"{name}.{ext}")
                for path, ext in ((csv_path, "csv"), (tex_path, "tex"))
            ]
            anchors = " · ".join(f'<a href="{link}">{html.escape(text)}</a>' for link, text in links)
            parts.append(
                f'<details class="table"><summary>{html.escape(dataset)}: {html.escape(name)}</summary>'
                f'{to_html(Path(markdown).read_text(), shift=2)}<p>{anchors}</p></details>'
            )
    for (experiment, dataset), (markdown, metrics_csv) in experiment_tables.items():
        link = _copy(metrics_csv, out, f"tables/{experiment}/{dataset}/metrics.csv")
        parts.append(
            f'<details class="table"><summary>{html.escape(experiment)} on {html.escape(dataset)}</summary>'
            f'{to_html(Path(markdown).read_text(), shift=2)}'
            f'<p><a href="{link}">per-instance metrics (CSV)</a></p></details>'
        )
    return "\n".join(parts)


def _copy(source, out: Path, name: str) -> str:
    """Copy `source` to `name` inside the report folder; returns the link to it."""
    target = out / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return html.escape(name)
