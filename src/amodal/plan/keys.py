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

STAGES = ("ground", "tag", "segment", "order", "prompt", "complete", "rgba", "evaluate")

# Which stages' files each stage reads directly (ancestors come along through their keys).
UPSTREAM = {
    "ground": (),
    "tag": (),
    "segment": ("ground", "tag"),
    "order": ("segment",),
    "prompt": ("ground", "tag"),
    "complete": ("order", "prompt"),
    "rgba": ("complete",),
    "evaluate": ("rgba",),
}

# Completion backends that read none of the stages above them but grounding: `external` scores
# another method's saved outputs, so tag, segment, order and prompt are not planned for it (the
# visible mask stays: the visible-region metrics compare the same pixels for every method).
GROUND_ONLY_COMPLETIONS = frozenset({"external"})


def upstream(stage: str, spec: dict) -> tuple[str, ...]:
    """The stages whose files `stage` reads directly in the experiment `spec` (`UPSTREAM`, except
    for a completion backend that needs only the grounding)."""
    if stage == "complete" and spec["complete"]["backend"] in GROUND_ONLY_COMPLETIONS:
        return ("ground",)
    return UPSTREAM[stage]


def planned_stages(spec: dict) -> tuple[str, ...]:
    """The stages the experiment runs, in `STAGES` order: evaluate and every stage it reaches
    through `upstream` (all of them, unless the completion backend needs less)."""
    return tuple(stage for stage in STAGES if stage == "evaluate" or stage in ancestors("evaluate", spec))


# Backends that run on a GPU: their jobs take the `gpu` shard size and resources, and each job
# claims a device of its own (amodal.run.devices) unless config `models.device` is cpu. The evaluate
# stage is GPU-class when one of its model metrics is on and has its checkpoint (`device_class`).
# ground/lisa is absent on purpose: LISA runs in its own server; the job only waits on the network (docs/lisa.md).
GPU_BACKENDS: frozenset[tuple[str, str]] = frozenset(
    {
        ("ground", "grounded_sam"),
        ("segment", "grounded_sam"),
        ("tag", "clip_vocab"),
        ("tag", "ram_plus"),
        ("prompt", "clip"),
        ("order", "instaorder"),
        ("order", "depth"),
        ("complete", "diffusers"),
    }
)

# The evaluate stage's metrics that run a network: one on, with its checkpoint found, makes it GPU-class.
MODEL_METRIC_SETTINGS = ("clip_score", "lpips", "feature_similarity")

# Backends that read the ground truth: a dataset without it cannot run them.
GT_BACKENDS: frozenset[tuple[str, str]] = frozenset(
    {("ground", "oracle"), ("tag", "oracle"), ("segment", "oracle"), ("order", "oracle")}
)

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
        found = _metric_checkpoints_found(spec[stage], models) if stage == "evaluate" else None
        keys[stage] = stage_key(stage, spec[stage], reads, found)
    return keys


def _metric_checkpoints_found(spec: dict, models: dict | None) -> dict[str, bool]:
    from amodal.models.weights.locate import locate

    names = sorted({spec[m]["model"] for m in MODEL_METRIC_SETTINGS if (spec.get(m) or {}).get("enabled")})
    paths = (models or {}).get("paths", {})
    return {name: locate(name, paths.get(name)) is not None for name in names}


def device_class(stage: str, spec: dict, models: dict | None = None) -> str:
    """ "gpu" if the stage's backend runs on a GPU, else "cpu". The evaluate stage is GPU-class when
    a model metric is on and its checkpoint is on this machine (`models`: the config's section);
    without any, its metrics are `missing` and the job needs no GPU (a weight-free run asks
    its cluster for none)."""
    if (stage, spec["backend"]) in GPU_BACKENDS:
        return "gpu"
    if stage == "evaluate" and any(_metric_checkpoints_found(spec, models).values()):
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


class Plan:
    """All experiments of a run, indexed by stage folder key; `models` is the config's section
    (where this machine keeps checkpoints: see `experiment_keys`)."""

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
