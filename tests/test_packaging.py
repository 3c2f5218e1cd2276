"""The environment files agree, and the console script works."""

import ast
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pandas as pd
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
AMODAL = Path(sys.executable).parent / "amodal"
# Needed by a job although amodal never imports them: diffusers' Stable Diffusion pipelines
# build their text encoder with transformers and load weights through accelerate (diffusers
# declares neither); groundingdino and open_clip import torchvision.
NEEDED_UNIMPORTED = {"transformers", "accelerate", "torchvision"}
# What runs the workflow or the tests, never a job.
ORCHESTRATION = {"snakemake", "snakemake-executor-plugin-slurm", "pytest", "pytest-xdist"}
# pip freeze (and so the lock) leaves these out; the environment's pip brings them.
INSTALLER = {"pip", "setuptools", "wheel"}


def lock_pins() -> list[str]:
    lines = (ROOT / "requirements.lock").read_text().splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def name_of(pin: str) -> str:
    return canonicalize_name(pin.split("==")[0])


def job_env() -> tuple[dict, list[str]]:
    env = yaml.safe_load((ROOT / "envs" / "amodal.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    return env, pip


def imported_distributions() -> dict[str, set[str]]:
    """Third-party module -> the installed distributions providing it, for every import (at module
    level or inside a function) of src/amodal and workflow/scripts."""
    providers = metadata.packages_distributions()
    found = {}
    files = [*(ROOT / "src" / "amodal").rglob("*.py"), *(ROOT / "workflow" / "scripts").glob("*.py")]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module]
            else:
                continue
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top == "amodal":
                    continue
                found[top] = {canonicalize_name(d) for d in providers.get(top, [])}
    return found


def requirement_closure(roots) -> set[str]:
    """The roots and everything they require in this environment (markers and extras honoured)."""
    extras_of: dict[str, set[str]] = {}
    todo = [(canonicalize_name(r), set()) for r in roots]
    while todo:
        name, extras = todo.pop()
        if name in extras_of and extras <= extras_of[name]:
            continue
        extras_of.setdefault(name, set()).update(extras)
        for line in metadata.requires(name) or []:
            req = Requirement(line)
            if req.marker and not any(req.marker.evaluate({"extra": e}) for e in ["", *extras_of[name]]):
                continue
            todo.append((canonicalize_name(req.name), set(req.extras)))
    return set(extras_of)


def test_conda_env_pins_equal_the_lock():
    env, pip = job_env()
    locked = set(lock_pins())
    pins = [p for p in pip if not p.startswith("-e")]
    assert pins, "envs/amodal.yaml lists no packages"
    assert [p for p in pins if p not in locked] == []  # each at its locked version, spelled as the lock
    assert pip[-1] == "-e ../"  # amodal itself, from this checkout
    assert "python=3.11" in env["dependencies"]


def test_job_env_holds_no_orchestration_or_test_package():
    _, pip = job_env()
    names = {name_of(p) for p in pip if not p.startswith("-e")}
    assert not names & ORCHESTRATION
    assert not {n for n in names if n.startswith(("snakemake", "pytest"))}
    # nor anything only they need (snakemake's and pytest's own dependencies)
    only_theirs = requirement_closure(ORCHESTRATION) - requirement_closure(
        {d for ds in imported_distributions().values() for d in ds} | NEEDED_UNIMPORTED
    )
    assert only_theirs and not names & only_theirs, sorted(names & only_theirs)


def test_job_env_holds_every_package_amodal_imports_and_what_they_need():
    _, pip = job_env()
    names = {name_of(p) for p in pip if not p.startswith("-e")}
    imported = imported_distributions()
    for expected in ("numpy", "cv2", "torch", "diffusers", "segment_anything", "groundingdino", "open_clip", "yaml"):
        assert expected in imported  # the scan sees lazy imports too
    for module, providers in imported.items():
        assert providers, f"{module} is imported by amodal but no installed distribution provides it"
        assert providers & names, f"{module} ({', '.join(sorted(providers))}) is missing from envs/amodal.yaml"
    # amodal's declared runtime dependencies too: the env's `-e ../` makes pip install them anyway
    declared = {
        canonicalize_name(Requirement(r).name)
        for r in tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    }
    assert not declared & ORCHESTRATION  # snakemake and its plugin are an extra, never a job's
    roots = set().union(*(p & names for p in imported.values())) | NEEDED_UNIMPORTED | declared
    needed = requirement_closure(roots) - INSTALLER
    assert sorted(needed - names) == []  # everything they require is pinned too
    assert sorted(names - needed) == []  # and nothing else


def test_every_direct_requirement_is_pinned_in_the_lock():
    pinned = {name_of(p) for p in lock_pins()}
    for line in (ROOT / "requirements.in").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            requirement = Requirement(line)
            assert canonicalize_name(requirement.name) in pinned, line
            for extra in requirement.extras:  # what the extra brings is pinned too
                needs = [Requirement(r) for r in metadata.requires(requirement.name) or []]
                wanted = [r for r in needs if r.marker and r.marker.evaluate({"extra": extra})]
                assert wanted and all(canonicalize_name(r.name) in pinned for r in wanted), line


def test_cli_makes_a_benchmark(tmp_path):
    done = subprocess.run(
        [
            str(AMODAL),
            "make-benchmark",
            "--out",
            str(tmp_path / "bench"),
            "--n",
            "2",
            "--seed",
            "3",
            "--image-size",
            "128",
            "--cutouts",
            str(ROOT / "data" / "cutouts"),
            "--backgrounds",
            str(ROOT / "data" / "backgrounds"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "wrote 2 scenes" in done.stdout
    table = pd.read_csv(tmp_path / "bench" / "instances.csv")
    assert list(table["id"]) == ["scene_0000", "scene_0001"]
    for gt in table["gt"]:
        assert (tmp_path / "bench" / gt).is_file()


def test_cli_prints_the_seed_instance_table():
    seed = ROOT / "data" / "seed_examples"
    done = subprocess.run(
        [
            str(AMODAL),
            "instances",
            "--annotations",
            str(seed / "example_annotation.json"),
            "--images",
            str(seed),
            "--filenames",
            str(seed / "img_filenames_example.txt"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.strip().splitlines()
    assert lines[0] == "id,image,query,gt,status,message"
    assert len(lines) == 8 and all(",ok," in line for line in lines[1:])
