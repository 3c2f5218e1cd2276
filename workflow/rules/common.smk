from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from amodal.datasets.cache import load_dataset_cached
from amodal.plan.preflight import missing_settings, missing_weights
from amodal.plan.keys import NAME_PATTERN, FolderKeys
from amodal.report.html import instance_rows
from amodal.config.schema import SCHEMAS, read_experiment, resolve_input_paths, validated
from amodal.config.strict import unknown_keys
from amodal.tables.paper_tables import METHOD_METRICS
from amodal.tables.reference import read_reference
from amodal.plan.jobs import Workplan
from amodal.plan.resources import job_resources

# The repository holding this workflow (workflow/rules/ is two levels down).
REPOSITORY = Path(workflow.current_basedir.get_path_or_uri(secret_free=True)).parents[1]
# Relative input paths (experiments_dir, wallpaper, dataset files): a key left out names the
# file shipped in REPOSITORY; a path written in the config is read from the working directory
# (--directory), else from REPOSITORY when only it has that path. See config/README.md, "Paths".
resolve_input_paths(config, root=REPOSITORY)
# A key the schema does not know, at any depth, is refused before anything else (a misspelt
# setting would otherwise leave its default in place unseen).
UNKNOWN_KEYS = unknown_keys(config, yaml.safe_load((SCHEMAS / "config.schema.yaml").read_text()))
if UNKNOWN_KEYS:
    CONFIG_FILES = ", ".join(str(f) for f in workflow.configfiles) or "--config"
    raise WorkflowError(f"config ({CONFIG_FILES}):\n" + "\n".join(UNKNOWN_KEYS))
# First without filling defaults: filling walks the schema into values of the wrong type (a
# string where an object belongs) and would fail with an AttributeError instead of naming the key.
# The schemas are the package's (amodal.config.schema.SCHEMAS): the library checks against them too.
validate(config, str(SCHEMAS / "config.schema.yaml"), set_default=False)
validate(config, str(SCHEMAS / "config.schema.yaml"))

RESULTS = config["results"]
LOGS = f"{RESULTS}/logs"
# The published rows are read by the tables job at the very end: a broken file is named now.
if config["tables"]["reference"]:
    try:
        read_reference(config["tables"]["reference"], METHOD_METRICS)
    except ValueError as error:
        raise WorkflowError(str(error)) from None


def load_experiment(name):
    path = Path(config["experiments_dir"]) / f"{name}.yaml"
    if not path.exists():
        raise WorkflowError(
            f"experiment {name!r} is listed in config 'experiments' but {path} does not exist; "
            f"create it or remove the name"
        )
    try:
        spec = read_experiment(path)  # with its `base` experiment merged under it
    except (ValueError, FileNotFoundError) as error:
        raise WorkflowError(f"experiment {name!r}: {error}") from None
    # amodal's validation: the schema's backend lists come from the stage declarations
    try:
        return validated(spec, "experiment.schema.yaml", source=str(path))
    except ValueError as error:
        raise WorkflowError(f"experiment {name!r}: {error}") from None


FOLDER_KEYS = FolderKeys({name: load_experiment(name) for name in config["experiments"]}, config.get("models"))
MISSING_WEIGHTS = missing_weights(FOLDER_KEYS.experiments, config.get("models"))
if MISSING_WEIGHTS:
    raise WorkflowError("checkpoints are missing:\n" + "\n".join(MISSING_WEIGHTS))
MISSING_SETTINGS = missing_settings(FOLDER_KEYS.experiments, config.get("models"))
if MISSING_SETTINGS:
    raise WorkflowError("settings are missing:\n" + "\n".join(MISSING_SETTINGS))
# Instance tables are cached per dataset version under results/.cache, so later parses (and
# every cluster job, which parses the workflow again) neither rebuild them nor reopen images.
WORK = Workplan(
    config,
    FOLDER_KEYS,
    {name: load_dataset_cached(name, spec, RESULTS) for name, spec in config["datasets"].items()},
)


def alternation(names):
    return "|".join(sorted(names))


wildcard_constraints:
    dataset=alternation(config["datasets"]),
    experiment=alternation(config["experiments"]),


# ------------------------------------------------------------------ shard jobs


def by_attempt(base):
    """A resource growing with each retry (a job killed for memory or time gets more of it)."""

    def grown(wildcards, attempt):
        return base * attempt

    return grown


def attempt_number(wildcards, attempt):
    return attempt


def resources_of(job):
    """A job's needs from config 'resources' (by device class), mem_mb and runtime scaled by
    attempt; `attempt` itself, which the job's script reads (a deterministic failure is not
    retried: amodal.run.retry), is no scheduler resource."""
    needs = job_resources(config, job)
    return needs["threads"], {
        "mem_mb": by_attempt(needs["mem_mb"]),
        "runtime": by_attempt(needs["runtime"]),
        "gpu": needs["gpu"],
        "attempt": attempt_number,
    }


# ------------------------------------------------------------------ targets


def experiment_metrics(wildcards):
    return WORK.metrics_files(wildcards.experiment, wildcards.dataset)


def collect_manifests(wildcards):
    return WORK.collect_manifests[(wildcards.experiment, wildcards.dataset)]


def not_ok_instances(wildcards):
    return WORK.not_ok(wildcards.dataset)


def missing_instance_folders(wildcards):
    """Instance folders removed since their shard ran (or new in a grown shard): asking for
    them reruns their jobs. Evaluated only when `all` or `tables` is planned."""
    return WORK.missing_outputs()


def comparison_tables(wildcards):
    return expand(f"{RESULTS}/tables/{{dataset}}.md", dataset=config["datasets"])


def experiment_description(wildcards):
    return FOLDER_KEYS.experiments[wildcards.experiment].get("description", "")


def experiment_evaluate(wildcards):
    """The experiment's evaluate settings, printed with its metric definitions."""
    return FOLDER_KEYS.experiments[wildcards.experiment]["evaluate"]


def experiment_descriptions(wildcards):
    return {name: FOLDER_KEYS.experiments[name].get("description", "") for name in config["experiments"]}


def instance_facts_rows(wildcards):
    """What the aggregate job writes into metrics.csv beside the metrics, from each instance's
    table row: its category and query, and its synthetic scene file (amodal.datasets.queries.instance_facts)."""
    return {
        i: {"category": row.get("category") or "", "query": row.get("query") or "", "gt": row["gt"]}
        for i, row in WORK.rows[wildcards.dataset].items()
    }


# ------------------------------------------------------------------ paper tables


PAPER_TABLES = ("methods", "failures")
GROUND_TRUTH_TABLES = ("ground_truth", "ground_truth_by_category")
TABLE_FORMATS = ("csv", "md", "tex")


def ground_truth_datasets():
    """Datasets with ground truth for at least one instance (the synthetic benchmark)."""
    return [d for d in config["datasets"] if any(row["gt"] for row in WORK.rows[d].values())]


def paper_table_keys():
    """(dataset, table) of every paper table, dataset by dataset (ground-truth tables only
    where there is ground truth)."""
    with_truth = set(ground_truth_datasets())
    return [
        (dataset, table)
        for dataset in config["datasets"]
        for table in PAPER_TABLES + (GROUND_TRUTH_TABLES if dataset in with_truth else ())
    ]


def paper_table_files(ext="md"):
    """The files of paper_table_keys() in one format."""
    return [f"{RESULTS}/tables/{dataset}/{table}.{ext}" for dataset, table in paper_table_keys()]


def all_paper_tables(wildcards):
    return [path for ext in TABLE_FORMATS for path in paper_table_files(ext)]


def paper_table_outputs(names):
    """A paper-tables rule's outputs: <table>_<format> for each table, marked for the report."""
    return {
        f"{name}_{ext}": report(
            f"{RESULTS}/tables/{{dataset}}/{name}.{ext}",
            caption="../report/paper_tables.rst",
            category="Tables",
            subcategory="{dataset}",
        )
        for name in names
        for ext in TABLE_FORMATS
    }


def paper_table_inputs(wildcards):
    """Every experiment's summary and per-instance metrics on the dataset, and the published
    reference rows' file when config tables.reference names one."""
    per_experiment = f"{RESULTS}/{{experiment}}/{wildcards.dataset}"
    found = {
        "summaries": expand(f"{per_experiment}/summary.json", experiment=config["experiments"]),
        "metrics": expand(f"{per_experiment}/metrics.csv", experiment=config["experiments"]),
    }
    if config["tables"]["reference"]:
        found["reference"] = config["tables"]["reference"]
    return found


def experiment_settings(wildcards):
    """Each experiment's file and description, printed beside the paper tables."""
    return {
        name: {
            "file": str(Path(config["experiments_dir"]) / f"{name}.yaml"),
            "description": FOLDER_KEYS.experiments[name].get("description", ""),
        }
        for name in config["experiments"]
    }


# ------------------------------------------------------------------ visual report


def report_pairs():
    """(experiment, dataset) of every per-experiment table, in the report's order."""
    return [(experiment, dataset) for dataset in config["datasets"] for experiment in config["experiments"]]


def report_tables(wildcards):
    """The tables the visual report shows, by kind (in report_pairs order for the experiments')."""
    pairs = report_pairs()
    experiments, datasets = zip(*pairs) if pairs else ((), ())
    per_experiment = dict(experiment=experiments, dataset=datasets)
    return {
        "tables": expand(f"{RESULTS}/tables/{{dataset}}.md", dataset=config["datasets"]),
        "table_csvs": expand(f"{RESULTS}/tables/{{dataset}}.csv", dataset=config["datasets"]),
        "paper_tables": paper_table_files("md"),
        "paper_csvs": paper_table_files("csv"),
        "paper_texs": paper_table_files("tex"),
        "experiment_tables": expand(f"{RESULTS}/{{experiment}}/{{dataset}}/table.md", zip, **per_experiment),
        "metrics": expand(f"{RESULTS}/{{experiment}}/{{dataset}}/metrics.csv", zip, **per_experiment),
    }


def report_instances(wildcards):
    """Every dataset's instances (also those it could not offer), in table order."""
    return instance_rows(WORK.rows)
