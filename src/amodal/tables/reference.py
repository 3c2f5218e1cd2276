"""Published figures printed beside ours as clearly labelled reference rows (config
`tables.reference`: a YAML file; its format is in config/README.md, "Tables").

No such file ships: the paper's Table 3 could not be checked against the paper itself here, and
a reference row is only worth printing when its numbers are the published ones.

    source: "Ao et al., Open-World Amodal Appearance Completion, CVPR 2025, Table 3"
    rows:
      - label: "Ao et al. 2025"              # printed as "Ao et al. 2025 (published)"
        metrics: {clip_score: ..., lpips: ..., feature_similarity: ..., visible_ssim: ...}
        datasets: [bench]                    # optional: print it only beside these datasets
        source: "..."                        # optional: overrides the file's source
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

PUBLISHED = "(published)"


@dataclass(frozen=True)
class ReferenceRow:
    label: str  # ends with "(published)"
    metrics: dict[str, float]
    source: str
    datasets: tuple[str, ...] | None  # None: every dataset


def read_reference(path, metrics: tuple[str, ...]) -> list[ReferenceRow]:
    """The rows of a reference file; `metrics` are the names a row may give. Raises ValueError
    naming the file and what to fix."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"reference file {path}: cannot be read ({error}); fix it or unset tables.reference") from None
    if not isinstance(data, dict) or not isinstance(data.get("rows"), list) or not data["rows"]:
        raise ValueError(
            f"reference file {path}: expected a mapping with a non-empty 'rows' list (config/README.md, Tables)"
        )
    rows = []
    for k, row in enumerate(data["rows"], start=1):
        where = f"reference file {path}, row {k}"
        if not isinstance(row, dict) or not isinstance(row.get("label"), str) or not row["label"].strip():
            raise ValueError(f"{where}: needs a 'label'")
        source = row.get("source", data.get("source"))
        if not isinstance(source, str) or not source.strip():
            raise ValueError(f"{where}: needs a 'source' (its own or the file's): where the figures were published")
        values = row.get("metrics")
        if not isinstance(values, dict) or not values:
            raise ValueError(f"{where}: needs 'metrics', a mapping of metric name to number")
        unknown = sorted(set(values) - set(metrics))
        if unknown:
            raise ValueError(f"{where}: unknown metrics {unknown}; a row may give {list(metrics)}")
        bad = [name for name, v in values.items() if isinstance(v, bool) or not isinstance(v, (int, float))]
        if bad:
            raise ValueError(f"{where}: metrics {bad} are not numbers")
        datasets = row.get("datasets")
        if datasets is not None and (not isinstance(datasets, list) or not all(isinstance(d, str) for d in datasets)):
            raise ValueError(f"{where}: 'datasets' must be a list of dataset names")
        label = row["label"].strip()
        rows.append(
            ReferenceRow(
                label if label.endswith(PUBLISHED) else f"{label} {PUBLISHED}",
                {name: float(v) for name, v in values.items()},
                source.strip(),
                None if datasets is None else tuple(datasets),
            )
        )
    return rows


def rows_for(rows: list[ReferenceRow], dataset: str) -> list[ReferenceRow]:
    return [r for r in rows if r.datasets is None or dataset in r.datasets]
