"""Experiments and the settings keys that name every stage's output folder.

An experiment is a set of stage specs (backend + parameters). A stage's folder is named
`<backend>-<hash>` where the hash covers the stage's own spec and the keys of the stages it
reads. Two experiments that differ only downstream therefore share every upstream folder,
and a folder's name changes whenever anything that produced its files changes.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from amodal.declarations import STAGE_ORDER, STAGES, Stage

Declarations = dict[str, Stage]


def upstream(stage: str, spec: dict) -> tuple[str, ...]:
    """The stages whose files `stage` reads directly in the experiment `spec` (its declaration's,
    or its backend's where that reads less: an external completion reads only the grounding)."""
    return STAGES[stage].upstream_of(spec[stage])


def planned_stages(spec: dict) -> tuple[str, ...]:
    """The stages the experiment runs, in stage order: evaluate and every stage it reaches
    through `upstream` (all of them, unless the completion backend needs less)."""
    return tuple(stage for stage in STAGE_ORDER if stage == "evaluate" or stage in ancestors("evaluate", spec))


KEY_PATTERN = r"[a-z0-9_]+-[0-9a-f]{8}"
NAME_PATTERN = r"[A-Za-z0-9_.-]+"
# Folder names under results/ that an experiment may not take.
RESERVED_NAMES = {"stages", "datasets", "tables", "logs", "benchmarks", "report", "shards"}


def stage_key(stage: str, spec: dict, upstream_keys: dict[str, str], found: dict | None = None) -> str:
    content = {"stage": stage, "spec": spec, "upstream": upstream_keys}
    if found:
        content["checkpoints_found"] = found
    digest = hashlib.sha1(json.dumps(content, sort_keys=True).encode()).hexdigest()[:8]
    return f"{spec['backend']}-{digest}"


def experiment_keys(spec: dict, models: dict | None = None) -> dict[str, str]:
    """The folder key of every planned stage of one experiment (`planned_stages`). The evaluate
    stage's key also covers which of its model metrics' checkpoints this machine has (`models`:
    the config's section): a metric scored `missing` for want of one is scored again once the
    checkpoint is there."""
    keys: dict[str, str] = {}
    for stage in planned_stages(spec):
        reads = {name: keys[name] for name in upstream(stage, spec)}
        found = _metric_checkpoints_found(stage, spec[stage], models) or None
        keys[stage] = stage_key(stage, spec[stage], reads, found)
    return keys


def _metric_checkpoints_found(stage: str, spec: dict, models: dict | None) -> dict[str, bool]:
    """Weights name -> whether this machine has it, for each enabled optional metric of `stage`."""
    from amodal.models.weights.locate import locate

    names = sorted(set(STAGES[stage].metric_weights_of(spec).values()))
    paths = (models or {}).get("paths", {})
    return {name: locate(name, paths.get(name)) is not None for name in names}


def device_class(stage: str, spec: dict, models: dict | None = None, declarations: Declarations = STAGES) -> str:
    """ "gpu" if the stage's backend runs on a GPU (its declaration), else "cpu". A stage with
    optional model metrics (evaluate) is GPU-class when one is on and its checkpoint is on this
    machine (`models`: the config's section); without any, its metrics are `missing` and the job
    needs no GPU (a weight-free run asks its cluster for none). `declarations` stands in for the
    shipped ones in tests."""
    if declarations[stage].backend(spec).device == "gpu":
        return "gpu"
    if any(_metric_checkpoints_found(stage, spec, models).values()):
        return "gpu"
    return "cpu"


@dataclass
class StageRun:
    """What one stage folder was made from."""

    stage: str
    key: str
    spec: dict
    upstream: dict[str, str]
    lineage: dict[str, str] = field(default_factory=dict)  # every ancestor stage -> key


class FolderKeys:
    """The stage folder keys of all experiments of a run (what made each folder: `StageRun`),
    indexed by (stage, key); `models` is the config's section (where this machine keeps
    checkpoints: see `experiment_keys`). The jobs that fill the folders are `amodal.plan.jobs.Workplan`'s."""

    def __init__(self, experiments: dict[str, dict], models: dict | None = None):
        for name in experiments:
            if not re.fullmatch(NAME_PATTERN, name) or name in RESERVED_NAMES:
                raise ValueError(
                    f"experiment name {name!r} is not allowed: use letters, digits, '_', '.', '-' "
                    f"and none of {sorted(RESERVED_NAMES)}"
                )
        self.experiments = experiments
        self.keys = {name: experiment_keys(spec, models) for name, spec in experiments.items()}
        self.runs: dict[tuple[str, str], StageRun] = {}
        for name, spec in experiments.items():
            keys = self.keys[name]
            for stage in keys:
                lineage = {s: keys[s] for s in keys if s in ancestors(stage, spec)}
                reads = {s: keys[s] for s in upstream(stage, spec)}
                self.runs[(stage, keys[stage])] = StageRun(stage, keys[stage], spec[stage], reads, lineage)

    def run(self, stage: str, key: str) -> StageRun:
        try:
            return self.runs[(stage, key)]
        except KeyError:
            known = sorted(k for s, k in self.runs if s == stage)
            raise KeyError(f"no experiment in the config has {stage} folder {key!r}; known: {known}") from None


def ancestors(stage: str, spec: dict) -> set[str]:
    """Every stage whose files reach `stage` in the experiment `spec`, directly or through others."""
    found: set[str] = set()
    todo = list(upstream(stage, spec))
    while todo:
        name = todo.pop()
        if name not in found:
            found.add(name)
            todo.extend(upstream(name, spec))
    return found
