"""Config and experiment files read outside Snakemake (the command line, benchmarks): checked
against the workflow's JSON schemas, with every omitted key set to its schema default, as
Snakemake's `validate` does for the workflow."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

SCHEMAS = Path(__file__).resolve().parents[2] / "workflow" / "schemas"
EXPERIMENTS = Path(__file__).resolve().parents[2] / "config" / "experiments"


def _with_defaults(validator_class):
    check_properties = validator_class.VALIDATORS["properties"]

    def fill_then_check(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub:
                    instance.setdefault(name, copy.deepcopy(sub["default"]))
        yield from check_properties(validator, properties, instance, schema)

    from jsonschema import validators

    return validators.extend(validator_class, {"properties": fill_then_check})


def validated(data: dict, schema_name: str) -> dict:
    """`data` (changed in place and returned) with defaults filled; ValueError naming the problem."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

    schema = yaml.safe_load((SCHEMAS / schema_name).read_text())
    try:
        _with_defaults(Draft202012Validator)(schema).validate(data)
    except ValidationError as error:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise ValueError(f"{schema_name}: {where}: {error.message}") from None
    return data


def load_experiment(name_or_path: str, experiments_dir=None) -> tuple[str, dict]:
    """(name, validated spec) of an experiment given by name (in `experiments_dir`, default the
    repository's config/experiments) or by the path of its YAML file."""
    path = Path(name_or_path)
    if not path.suffix:
        path = Path(experiments_dir or EXPERIMENTS) / f"{name_or_path}.yaml"
    if not path.is_file():
        raise FileNotFoundError(f"experiment file {path} not found; give a name in {experiments_dir or EXPERIMENTS} or a .yaml path")
    return path.stem, validated(yaml.safe_load(path.read_text()) or {}, "experiment.schema.yaml")
