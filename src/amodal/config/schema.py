"""Config and experiment files read outside Snakemake (the command line, benchmarks): checked
against the config and experiment JSON schemas (package data, the files the workflow validates
against too), with every omitted key set to its schema default, as Snakemake's `validate` does
for the workflow; the package's shipped files and the default input paths."""

from __future__ import annotations

import copy
from pathlib import Path

import yaml

# The package's own files (package data, installed with it): the config and experiment schemas
# (the workflow validates against these same files), the shipped experiments and the seed's
# wallpaper. The checkout's config/experiments and data/seed_examples/gray_wallpaper.jpeg are
# links to them (docs/design.md, "Package data").
DATA = Path(__file__).resolve().parents[1] / "data"
SCHEMAS = DATA / "schemas"
EXPERIMENTS = DATA / "experiments"
WALLPAPER = DATA / "gray_wallpaper.jpeg"

# Config keys that name input files or folders: top-level, and of each dataset.
INPUT_PATHS = ("experiments_dir", "wallpaper")
DATASET_INPUT_PATHS = ("cutouts", "backgrounds", "annotations", "images", "filenames")


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


def validated(data: dict, schema_name: str, source: str | None = None) -> dict:
    """`data` (changed in place and returned) with defaults filled; ValueError naming the problem,
    after `source` (the file the settings came from; default the schema's name). A key the schema
    does not know is refused first, wherever it is (`amodal.config.strict`)."""
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import ValidationError

    from amodal.config.strict import unknown_keys

    schema = _schema(schema_name)
    unknown = unknown_keys(data, schema)
    if unknown:
        raise ValueError(f"{source or schema_name}: " + "\n".join(unknown))
    try:
        _with_defaults(Draft202012Validator)(schema).validate(data)
    except ValidationError as error:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise ValueError(f"{source or schema_name}: {where}: {error.message}") from None
    return data


def load_experiment(name_or_path: str, experiments_dir=None) -> tuple[str, dict]:
    """(name, validated spec) of an experiment given by name (in `experiments_dir`, default the
    shipped experiments, EXPERIMENTS) or by the path of its YAML file."""
    path = Path(name_or_path)
    if not path.suffix:
        path = Path(experiments_dir or EXPERIMENTS) / f"{name_or_path}.yaml"
    if not path.is_file():
        raise FileNotFoundError(
            f"experiment file {path} not found; give a name in {experiments_dir or EXPERIMENTS} or a .yaml path"
        )
    return path.stem, validated(read_experiment(path), "experiment.schema.yaml", source=f"experiment {path}")


def read_experiment(path: Path, _seen: tuple = ()) -> dict:
    """An experiment file's settings, unvalidated. A file that names `base: <experiment>` (a file
    of the same folder) is that experiment with this file's keys merged over it, mapping by
    mapping (so `prompt: {backend: query}` changes only the prompt's backend); bases chain."""
    path = Path(path)
    if path.resolve() in _seen:
        chain = " -> ".join(p.stem for p in (*_seen, path.resolve()))
        raise ValueError(f"experiment {path}: its bases form a cycle ({chain})")
    if not path.is_file():
        raise FileNotFoundError(f"experiment file {path} not found")
    own = yaml.safe_load(path.read_text()) or {}
    if not isinstance(own, dict):
        raise ValueError(f"experiment {path}: a mapping of settings is expected, got {type(own).__name__}")
    base = own.pop("base", None)
    if base is None:
        return own
    if not isinstance(base, str) or not base:
        raise ValueError(f"experiment {path}: base must name an experiment of {path.parent}")
    return _merged(read_experiment(path.parent / f"{base}.yaml", (*_seen, path.resolve())), own)


def _merged(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in over.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _schema(name: str) -> dict:
    """The schema `name`; the experiment schema with each stage's backend list, which its stage
    declaration gives (amodal.declarations), so the file does not repeat them."""
    schema = yaml.safe_load((SCHEMAS / name).read_text())
    if name == "experiment.schema.yaml":
        from amodal.declarations import STAGES

        for stage, declared in STAGES.items():
            schema["properties"][stage]["properties"]["backend"]["enum"] = list(declared.backends)
    return schema


def checkout() -> Path | None:
    """The source checkout this package runs from, when it does (`make` installs it editable):
    the folder of the workflow, whose data/ holds the demo's cutouts, backgrounds and photos (not
    package data). None for an installed package."""
    package = Path(__file__).resolve().parents[1]
    root = package.parents[1]
    return root if package.parent.name == "src" and (root / "Snakefile").is_file() else None


def shipped_default(key: str, root=None) -> Path:
    """The file a config path key names when it is left out: its schema default (a path inside
    the workflow's folder, e.g. `data/cutouts` for a dataset's `cutouts`) under `root`, the
    folder of the workflow. Without `root`, `experiments_dir` and `wallpaper` name the package's
    own files (EXPERIMENTS, WALLPAPER) and the demo data the checkout's (`checkout`); an
    installed package has none, and asking for it is a FileNotFoundError."""
    schema = _schema("config.schema.yaml")["properties"]
    if key in INPUT_PATHS:
        default = schema[key]["default"]
    else:
        default = schema["datasets"]["additionalProperties"]["properties"][key]["default"]
    if root is None:
        if key in INPUT_PATHS:
            return {"experiments_dir": EXPERIMENTS, "wallpaper": WALLPAPER}[key]
        root = checkout()
        if root is None:
            raise FileNotFoundError(
                f"{key}: the shipped {default} is not part of the installed package (it lies in the "
                f"repository); give the folder"
            )
    return Path(root) / default


def resolve_input_paths(config: dict, root=None, workdir=None) -> dict:
    """The workflow's rule for relative input paths, applied to a config before validation
    (`config` is changed in place and returned; `root` is the workflow's folder, default this
    package's checkout; `workdir` the working directory, default the current one):

    - a key left out names the file shipped with the workflow (`shipped_default`);
    - a relative path written in the config is read from the working directory, as Snakemake
      reads every path; if nothing is there but the workflow's folder has it, that is used;
    - otherwise the value stays as written (the missing file is reported by name later).

    A path found in the workflow's folder is written relative to the working directory when it
    lies inside it (so a run in the repository keeps its short paths and its cache), else
    absolute. A link is named as such, not by its target (the checkout's config/experiments
    links into the package). Keys of a wrong type are left for validation to report.
    """
    root = root or checkout()
    if root is None:
        raise FileNotFoundError("an installed package has no workflow folder: give it as root")
    root = Path(root)
    workdir = Path(workdir or Path.cwd())

    def inside(path: Path) -> str:
        absolute = path.parent.resolve() / path.name
        try:
            return str(absolute.relative_to(workdir.resolve()))
        except ValueError:
            return str(absolute)

    def located(value):
        if not isinstance(value, str) or not value or Path(value).is_absolute():
            return value
        if not (workdir / value).exists() and (root / value).exists():
            return inside(root / value)
        return value

    for key in INPUT_PATHS:
        config[key] = located(config[key]) if key in config else inside(shipped_default(key, root))
    tables = config.get("tables")
    if isinstance(tables, dict) and "reference" in tables:  # no default: published rows are opt-in
        tables["reference"] = located(tables["reference"])
    datasets = config.get("datasets")
    for spec in datasets.values() if isinstance(datasets, dict) else []:
        if not isinstance(spec, dict):
            continue
        for key in DATASET_INPUT_PATHS:
            if key in spec:
                spec[key] = located(spec[key])
            elif key in ("cutouts", "backgrounds") and spec.get("format") == "synthetic":
                spec[key] = inside(shipped_default(key, root))
    return config
