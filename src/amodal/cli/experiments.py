"""`amodal experiments`: every experiment of a folder, with the checkpoints its stages load and
the ground truth it reads (an experiment that reads ground truth cannot run on your own photos)."""

from __future__ import annotations

from pathlib import Path


def experiment_rows(folder: Path) -> list[dict]:
    """One row per experiment file of `folder` (sorted by name): name, weights (the checkpoints
    its planned stages load; the evaluate stage's optional metric checkpoints are not counted),
    ground_truth (the "stage/backend"s that read it, or "no") and the first sentence of its
    description; a file that does not validate has its error as description."""
    from amodal.config.schema import load_experiment
    from amodal.plan.preflight import backends_in_use, weights_needed

    rows = []
    for path in sorted(Path(folder).glob("*.yaml")):
        try:
            _, spec = load_experiment(str(path))
        except (ValueError, FileNotFoundError) as error:
            rows.append({"name": path.stem, "weights": "?", "ground_truth": "?", "description": f"error: {error}"})
            continue
        truth = [f"{stage}/{backend.name}" for stage, backend in backends_in_use(spec) if backend.needs_truth]
        description = " ".join(str(spec.get("description", "")).split())
        rows.append(
            {
                "name": path.stem,
                "weights": ", ".join(weights_needed(spec)) or "none",
                "ground_truth": ", ".join(truth) or "no",
                "description": description.split(". ")[0].rstrip("."),
            }
        )
    return rows


def experiments_list(args) -> int:
    from amodal.cli.weights_table import format_rows
    from amodal.config.schema import EXPERIMENTS

    folder = args.experiments_dir or EXPERIMENTS
    rows = experiment_rows(folder)
    if not rows:
        print(f"no experiment files (*.yaml) in {folder}")
        return 1
    print(format_rows(rows, columns=("name", "weights", "ground_truth", "description")))
    print(f"\nexperiments folder: {folder}")
    return 1 if any(row["weights"] == "?" for row in rows) else 0
