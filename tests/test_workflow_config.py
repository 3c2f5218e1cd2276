"""A malformed config, experiment or instance source stops the workflow while it is parsed,
before any job, with a message naming the key, file or row."""

import subprocess

import pytest
import yaml

from workflow_helpers import ROOT, SNAKEMAKE, environment

GOOD_DATASET = {"format": "synthetic", "n_scenes": 2}


def run(workdir, config, experiment=None):
    (workdir / "config").mkdir(parents=True)
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    if experiment is not None:
        (workdir / "exps").mkdir()
        (workdir / "exps" / "mine.yaml").write_text(yaml.safe_dump(experiment))
    command = [str(SNAKEMAKE), "--cores", "1", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir)]
    return subprocess.run(command, capture_output=True, text=True, env=environment(), timeout=300)


@pytest.mark.parametrize(
    "config,named",
    [
        ({"shard_size": "many", "datasets": {"bench": GOOD_DATASET}}, "On instance['shard_size']"),
        ({"datasets": {"bench": {"format": "sed", "n_scenes": 2}}}, "On instance['datasets']['bench']['format']"),
        (
            {"datasets": {"bench": {"format": "synthetic", "n_scenes": 0}}},
            "On instance['datasets']['bench']['n_scenes']",
        ),
        (
            {"datasets": {"bench": GOOD_DATASET}, "experiments": ["no_such_experiment"]},
            "experiment 'no_such_experiment' is listed in config 'experiments'",
        ),
        (
            {"datasets": {"bench": GOOD_DATASET}, "resources": {"gpu": {"mem_mb": -5}}},
            "On instance['resources']['gpu']['mem_mb']",
        ),
        (
            {"datasets": {"bench": GOOD_DATASET}, "tables": {"bootstrap": {"confidence": 1.5}}},
            "On instance['tables']['bootstrap']['confidence']",
        ),
        (
            {"datasets": {"bench": GOOD_DATASET}, "tables": {"bootstrap": {"resamples": 5}}},
            "On instance['tables']['bootstrap']['resamples']",
        ),
        (
            {"datasets": {"bench": GOOD_DATASET}, "models": {"batch": {"inpaint": 0}}},
            "On instance['models']['batch']['inpaint']",
        ),
        (
            {"datasets": {"bench": GOOD_DATASET}, "tables": {"reference": "no_such_file.yaml"}},
            "reference file no_such_file.yaml: cannot be read",
        ),
        ({"datasets": {"bench": GOOD_DATASET}, "shard_sise": 1}, "`shard_sise`: unknown; did you mean `shard_size`?"),
        (
            {"datasets": {"bench": {**GOOD_DATASET, "image_sise": 64}}},
            "`datasets.bench.image_sise`: unknown; did you mean `image_size`?",
        ),
    ],
)
def test_a_bad_config_key_is_named_before_any_job(tmp_path, config, named):
    done = run(tmp_path, config)
    assert done.returncode != 0
    assert named in done.stdout + done.stderr, (done.stdout + done.stderr)[-2000:]
    assert not (tmp_path / "results" / "shards").exists() and not (tmp_path / "results" / "datasets").exists()


def test_a_bad_experiment_file_is_named_before_any_job(tmp_path):
    done = run(
        tmp_path,
        {"datasets": {"bench": GOOD_DATASET}, "experiments": ["mine"], "experiments_dir": str(tmp_path / "exps")},
        experiment={"ground": {"backend": "lisa_typo"}},
    )
    assert done.returncode != 0 and "lisa_typo" in done.stdout + done.stderr
    assert not (tmp_path / "results" / "shards").exists()


def test_an_annotation_file_that_is_not_json_is_named_with_its_line(tmp_path):
    images = tmp_path / "images"
    images.mkdir()
    (tmp_path / "ann.json").write_text('{"annotations": [\n  {"filename": "a.jpg", "labels": ["cat"]\n')
    done = run(
        tmp_path / "run",
        {"datasets": {"mine": {"format": "seed", "annotations": str(tmp_path / "ann.json"), "images": str(images)}}},
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0 and str(tmp_path / "ann.json") in output and "line 3" in output, output[-2000:]
    assert not (tmp_path / "run" / "results" / "shards").exists()


def test_a_misspelt_experiment_setting_is_named_with_its_file_before_any_job(tmp_path):
    done = run(
        tmp_path,
        {"datasets": {"bench": GOOD_DATASET}, "experiments": ["mine"], "experiments_dir": str(tmp_path / "exps")},
        experiment={"complete": {"backend": "classical", "classical": {"methd": "ns"}}},
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0, output[-2000:]
    assert f"{tmp_path / 'exps' / 'mine.yaml'}: `complete.classical.methd`: unknown; did you mean `method`?" in output
    assert not (tmp_path / "results" / "shards").exists()


def test_the_local_profile_prints_no_empty_shell_commands(tmp_path):
    # Every rule runs a script: with printshellcmds, each job printed "Shell command: None".
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(yaml.safe_dump({"datasets": {"bench": GOOD_DATASET}}))
    command = [str(SNAKEMAKE), "--profile", str(ROOT / "profiles" / "local"), "--snakefile", str(ROOT / "Snakefile")]
    done = subprocess.run(
        [*command, "--directory", str(tmp_path), "--dry-run"],
        capture_output=True,
        text=True,
        env=environment(),
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0 and "rule scenes__bench__s00000" in output, output[-2000:]
    assert "Shell command" not in output
