"""The environment files agree, and the console script works."""

import subprocess
import sys
from pathlib import Path

import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parent.parent
AMODAL = Path(sys.executable).parent / "amodal"


def lock_pins() -> list[str]:
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def test_conda_env_pins_equal_the_lock():
    env = yaml.safe_load((ROOT / "envs" / "amodal.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert [p for p in pip if not p.startswith("-e")] == lock_pins()
    assert "python=3.11" in env["dependencies"]


def test_every_direct_requirement_is_pinned_in_the_lock():
    pinned = {p.split("==")[0].lower().replace("_", "-") for p in lock_pins()}
    for line in (ROOT / "requirements.in").read_text().splitlines():
        name = line.split("#")[0].split("==")[0].strip().lower().replace("_", "-")
        if name:
            assert name in pinned, name


def test_cli_makes_a_benchmark(tmp_path):
    done = subprocess.run(
        [str(AMODAL), "make-benchmark", "--out", str(tmp_path / "bench"), "--n", "2", "--seed", "3",
         "--image-size", "128", "--cutouts", str(ROOT / "data" / "cutouts"),
         "--backgrounds", str(ROOT / "data" / "backgrounds")],
        capture_output=True, text=True, check=True,
    )
    assert "wrote 2 scenes" in done.stdout
    table = pd.read_csv(tmp_path / "bench" / "instances.csv")
    assert list(table["id"]) == ["scene_0000", "scene_0001"]
    for gt in table["gt"]:
        assert (tmp_path / "bench" / gt).is_file()


def test_cli_prints_the_seed_instance_table():
    seed = ROOT / "data" / "seed_examples"
    done = subprocess.run(
        [str(AMODAL), "instances", "--annotations", str(seed / "example_annotation.json"), "--images", str(seed),
         "--filenames", str(seed / "img_filenames_example.txt")],
        capture_output=True, text=True, check=True,
    )
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "id,image,query,gt,status,message"
    assert len(lines) == 8 and all(",ok," in line for line in lines[1:])
