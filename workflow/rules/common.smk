from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.io import is_flagged
from snakemake.utils import validate

from amodal import datasets as amodal_datasets
from amodal.experiments import KEY_PATTERN, NAME_PATTERN, STAGES, Plan


validate(config, "../schemas/config.schema.yaml")

RESULTS = config["results"]
STAGE_ROOT = f"{RESULTS}/stages/{{dataset}}/{{instance}}"
DATASET_ROOT = f"{RESULTS}/datasets/{{dataset}}"
LOGS = f"{RESULTS}/logs"


def load_experiment(name):
    path = Path(config["experiments_dir"]) / f"{name}.yaml"
    if not path.exists():
        raise WorkflowError(
            f"experiment {name!r} is listed in config 'experiments' but {path} does not exist; "
            f"create it or remove the name"
        )
    spec = yaml.safe_load(path.read_text()) or {}
    validate(spec, "../schemas/experiment.schema.yaml")
    return spec


PLAN = Plan({name: load_experiment(name) for name in config["experiments"]})
INSTANCES = {
    name: amodal_datasets.load_dataset(name, spec, RESULTS)
    for name, spec in config["datasets"].items()
}


def ok_ids(dataset):
    table = INSTANCES[dataset]
    return list(table.loc[table["status"] == "ok", "id"])


def alternation(names):
    return "|".join(sorted(names))


wildcard_constraints:
    dataset=alternation(config["datasets"]),
    experiment=alternation(config["experiments"]),
    instance=NAME_PATTERN,
    ground=KEY_PATTERN,
    tag=KEY_PATTERN,
    segment=KEY_PATTERN,
    order=KEY_PATTERN,
    prompt=KEY_PATTERN,
    complete=KEY_PATTERN,
    rgba=KEY_PATTERN,
    evaluate=KEY_PATTERN,


# ------------------------------------------------------------------ instances


def instance_row(wildcards):
    table = INSTANCES[wildcards.dataset]
    rows = table.loc[table["id"] == wildcards.instance]
    if rows.empty:
        raise WorkflowError(f"dataset {wildcards.dataset!r} has no instance {wildcards.instance!r}")
    return rows.iloc[0]


def instance_image(wildcards):
    return instance_row(wildcards)["image"]


def instance_gt(wildcards):
    gt = instance_row(wildcards)["gt"]
    if not gt:
        raise WorkflowError(
            f"instance {wildcards.instance!r} of dataset {wildcards.dataset!r} has no ground truth, "
            f"which an oracle backend needs; choose a non-oracle backend for this dataset"
        )
    return gt


def instance_query(wildcards):
    return instance_row(wildcards)["query"]


# ------------------------------------------------------------------ stage folders


def stage_dir(stage, key):
    return f"{RESULTS}/stages/{{dataset}}/{{instance}}/{stage}/{key}"


def lineage(stage, wildcards):
    """Keys of every stage that `stage`'s folder (named by its wildcard) was made from."""
    key = getattr(wildcards, stage)
    keys = dict(PLAN.run(stage, key).lineage)
    keys[stage] = key
    return keys


def stage_file(stage, name, wildcards, keys):
    folder = stage_dir(stage, keys[stage])
    return f"{folder}/{name}".format(dataset=wildcards.dataset, instance=wildcards.instance)


def stage_spec(stage):
    def spec(wildcards):
        return PLAN.run(stage, getattr(wildcards, stage)).spec

    spec.__name__ = f"{stage}_spec"
    return spec


def upstream_files(stage, wanted):
    """An input function giving named files of upstream stages, e.g. {"visible": ("ground", "visible_mask.png")}."""

    def files(wildcards):
        keys = lineage(stage, wildcards)
        return {name: stage_file(up, fname, wildcards, keys) for name, (up, fname) in wanted.items()}

    files.__name__ = f"{stage}_upstream"
    return files


# ------------------------------------------------------------------ targets


def experiment_instance_files(wildcards):
    keys = PLAN.keys[wildcards.experiment]
    return {
        "metrics": stage_file("evaluate", "metrics.json", wildcards, keys),
        "rgba": stage_file("rgba", "amodal.png", wildcards, keys),
        "placement": stage_file("rgba", "placement.json", wildcards, keys),
    }


def experiment_metrics(wildcards):
    return expand(
        f"{RESULTS}/{{experiment}}/{{dataset}}/{{instance}}/metrics.json",
        experiment=wildcards.experiment,
        dataset=wildcards.dataset,
        instance=ok_ids(wildcards.dataset),
    )


def not_ok_instances(wildcards):
    table = INSTANCES[wildcards.dataset]
    return table.loc[table["status"] != "ok", ["id", "status", "message"]].to_dict("records")


def comparison_tables(wildcards):
    return expand(f"{RESULTS}/tables/{{dataset}}.md", dataset=config["datasets"])


def instance_files(experiment, dataset, instance):
    """Every per-instance file of one experiment, read off the rules' own outputs (directories
    aside). `all` asks for them, so that deleting any one of them reruns that stage for that
    instance and what depends on it."""
    where = dict(PLAN.keys[experiment], experiment=experiment, dataset=dataset, instance=instance)
    files = []
    for rule_name in ("collect", *STAGES):
        for pattern in getattr(rules, rule_name).output:
            if not is_flagged(pattern, "directory"):
                files.append(pattern.format(**where))
    return files


def all_targets(wildcards):
    targets = comparison_tables(wildcards)
    for dataset in config["datasets"]:
        for experiment in config["experiments"]:
            targets.append(f"{RESULTS}/{experiment}/{dataset}/table.md")
            for instance in ok_ids(dataset):
                targets += instance_files(experiment, dataset, instance)
    return list(dict.fromkeys(targets))


def experiment_description(wildcards):
    return PLAN.experiments[wildcards.experiment].get("description", "")


def experiment_descriptions(wildcards):
    return {name: PLAN.experiments[name].get("description", "") for name in config["experiments"]}


def experiment_keys(wildcards):
    return PLAN.keys[wildcards.experiment]


def dataset_spec(wildcards):
    return config["datasets"][wildcards.dataset]


def memory_by_attempt(base_mb):
    """mem_mb growing with each retry, for rules that can run out of memory."""

    def mem_mb(wildcards, attempt):
        return base_mb * attempt

    return mem_mb


def benchmark_sources(wildcards):
    """The listings of the cutouts and backgrounds a synthetic dataset is composed from."""
    spec = config["datasets"][wildcards.dataset]
    return {
        "cutouts": f"{spec['cutouts']}/cutouts.csv",
        "backgrounds": f"{spec['backgrounds']}/backgrounds.csv",
    }
