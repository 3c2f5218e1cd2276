"""Relative paths never depend on the folder a command is started from: a config key left out
names the file shipped with the workflow, a relative path written in the config is read from
the working directory (--directory), else from the workflow's folder; `amodal make-benchmark`
finds the shipped cutouts and backgrounds from any folder."""

import json
import subprocess

import yaml

from amodal.config.schema import resolve_input_paths
from workflow_helpers import ROOT, SNAKEMAKE, environment, planned_rules

CUTOUTS = ROOT / "data" / "cutouts"
BACKGROUNDS = ROOT / "data" / "backgrounds"
WALLPAPER = ROOT / "data" / "seed_examples" / "gray_wallpaper.jpeg"


def dry_run(started_in, workdir, *args):
    """`snakemake -n` of this repository's Snakefile, started in another folder."""
    command = [
        str(SNAKEMAKE),
        "-n",
        "--cores",
        "1",
        "--snakefile",
        str(ROOT / "Snakefile"),
        "--directory",
        str(workdir),
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, env=environment(), cwd=started_in, timeout=300)


def inputs_of(output: str, rule_prefix: str) -> list[str]:
    """The input files the dry run lists for the first job whose rule starts with rule_prefix."""
    block = output.split(f"rule {rule_prefix}", 1)[1]
    line = next(line for line in block.splitlines() if line.strip().startswith("input:"))
    return [part.strip() for part in line.split("input:", 1)[1].split(",")]


def write_config(workdir, config):
    (workdir / "config").mkdir(parents=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config))


def test_defaults_name_the_shipped_files_from_any_working_directory(tmp_path):
    started_in, workdir = tmp_path / "elsewhere", tmp_path / "run"
    started_in.mkdir()
    write_config(workdir, {"datasets": {"bench": {"format": "synthetic", "n_scenes": 2}}})
    done = dry_run(started_in, workdir)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rules = planned_rules(done.stdout)
    assert "collect__bench__baseline_classical__s00000" in rules  # the default experiment, from ROOT/config/experiments
    scenes = inputs_of(done.stdout, "scenes__bench__")
    assert f"{CUTOUTS}/cutouts.csv" in scenes and f"{CUTOUTS}/tiger_01.png" in scenes
    assert all(path.startswith((str(CUTOUTS), str(BACKGROUNDS))) for path in scenes)
    assert str(WALLPAPER) in inputs_of(done.stdout, "complete__bench__")
    assert not (started_in / "results").exists() and not (started_in / ".snakemake").exists()


def test_the_shipped_config_runs_from_another_folder(tmp_path):
    started_in, workdir = tmp_path / "elsewhere", tmp_path / "run"
    started_in.mkdir()
    workdir.mkdir()
    done = dry_run(started_in, workdir, "--configfile", str(ROOT / "config" / "config.yaml"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rules = planned_rules(done.stdout)
    assert (
        rules["collect__bench__baseline_classical__s00000"] == 1 and rules["collect__bench__oracle_order__s00000"] == 1
    )
    assert str(WALLPAPER) in inputs_of(done.stdout, "complete__bench__")


def test_a_relative_path_in_the_config_is_read_from_the_working_directory_first(tmp_path):
    workdir = tmp_path / "run"
    (workdir / "mine").mkdir(parents=True)
    (workdir / "mine" / "telea.yaml").write_text("description: my own experiment\n")
    (workdir / "data" / "seed_examples").mkdir(parents=True)
    (workdir / "data" / "seed_examples" / "gray_wallpaper.jpeg").write_bytes(WALLPAPER.read_bytes())
    write_config(
        workdir,
        {
            "experiments_dir": "mine",  # only in the working directory
            "experiments": ["telea"],
            "wallpaper": "data/seed_examples/gray_wallpaper.jpeg",  # in both: the working directory's
            "datasets": {"bench": {"format": "synthetic", "n_scenes": 1, "cutouts": "data/cutouts"}},  # only in ROOT
        },
    )
    done = dry_run(tmp_path, workdir)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "collect__bench__telea__s00000" in planned_rules(done.stdout)
    assert "data/seed_examples/gray_wallpaper.jpeg" in inputs_of(done.stdout, "complete__bench__")
    assert f"{CUTOUTS}/cutouts.csv" in inputs_of(done.stdout, "scenes__bench__")


def test_a_relative_path_found_nowhere_is_reported_as_written(tmp_path):
    workdir = tmp_path / "run"
    write_config(
        workdir, {"experiments_dir": "no_such_folder", "datasets": {"bench": {"format": "synthetic", "n_scenes": 1}}}
    )
    done = dry_run(tmp_path, workdir)
    assert done.returncode != 0
    assert "no_such_folder/baseline_classical.yaml does not exist" in done.stdout + done.stderr


def test_paths_inside_the_working_directory_stay_relative(tmp_path):
    # A run inside the repository keeps the short paths it always had (job parameters, and so
    # the cache, do not change); elsewhere the shipped files are named absolutely.
    root = tmp_path / "repo"
    for folder in ("data/cutouts", "data/backgrounds", "config/experiments", "data/seed_examples"):
        (root / folder).mkdir(parents=True)
    spec = {"format": "synthetic"}
    here = resolve_input_paths({"datasets": {"bench": dict(spec)}}, root=root, workdir=root)
    assert here["experiments_dir"] == "config/experiments"
    assert here["wallpaper"] == "data/seed_examples/gray_wallpaper.jpeg"
    assert here["datasets"]["bench"]["cutouts"] == "data/cutouts"
    assert here["datasets"]["bench"]["backgrounds"] == "data/backgrounds"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    away = resolve_input_paths(
        {"datasets": {"bench": dict(spec), "photos": {"format": "seed", "images": "data/seed_examples"}}},
        root=root,
        workdir=elsewhere,
    )
    assert away["experiments_dir"] == str(root.resolve() / "config" / "experiments")
    assert away["datasets"]["bench"]["cutouts"] == str(root.resolve() / "data" / "cutouts")
    assert away["datasets"]["photos"]["images"] == str(root.resolve() / "data" / "seed_examples")
    assert "cutouts" not in away["datasets"]["photos"]  # only synthetic datasets use them
    given = resolve_input_paths(
        {"wallpaper": "/abs/wall.jpg", "experiments_dir": "nowhere", "datasets": {}}, root=root, workdir=elsewhere
    )
    assert given["wallpaper"] == "/abs/wall.jpg" and given["experiments_dir"] == "nowhere"
    inside = resolve_input_paths(
        {"datasets": {}}, root=root, workdir=tmp_path
    )  # the repository below the working directory
    assert inside["experiments_dir"] == "repo/config/experiments"


def test_make_benchmark_finds_the_shipped_data_from_any_folder(tmp_path):
    done = subprocess.run(
        [str(SNAKEMAKE.parent / "amodal"), "make-benchmark", "--out", "bench", "--n", "2", "--image-size", "128"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environment(),
    )
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    params = json.loads((tmp_path / "bench" / "benchmark.json").read_text())
    assert params["cutouts_dir"] == str(CUTOUTS) and params["backgrounds_dir"] == str(BACKGROUNDS)
    assert (tmp_path / "bench" / "scene_0001" / "scene.json").is_file()
