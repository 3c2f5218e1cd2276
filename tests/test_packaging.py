"""The environment files agree, the console script works, and the package installed outside the
repository (a wheel, installed into a folder of its own) runs from another folder: it finds its
schemas, experiments, wallpaper and model configs as package data, and the repository's
Snakefile plans with it."""

import ast
import os
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pandas as pd
import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
import pytest

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


# ------------------------------------------------------------------ installed outside the repository

PHOTO = ROOT / "data" / "seed_examples" / "cat-7875506_640_cat.jpg"


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(site folder, environment): the package built as a wheel from a copy of its sources and
    installed with pip into a folder outside the repository; the environment puts that folder
    first, so neither this checkout nor the venv's editable install is what runs."""
    base = tmp_path_factory.mktemp("installed")
    source = base / "source"  # a copy: the build's own files (build/, egg-info) stay out of the checkout
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).is_file():
            shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(base / "wheel"), str(source)],
        check=True,
        capture_output=True,
        cwd=base,
    )
    (wheel,) = (base / "wheel").glob("amodal-*.whl")
    site = base / "site"
    subprocess.run([*pip, "install", "--no-deps", "--target", str(site), str(wheel)], check=True, capture_output=True)
    shutil.rmtree(source)
    env = dict(os.environ, PYTHONPATH=str(site), HF_HUB_OFFLINE="1", PATH=f"{AMODAL.parent}:{os.environ['PATH']}")
    return site, env


def run_installed(installed, *args, cwd):
    site, env = installed
    return subprocess.run(
        [str(site / "bin" / "amodal"), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300
    )


def test_the_installed_package_is_what_runs_and_holds_its_data(installed, tmp_path):
    site, env = installed
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import amodal; from amodal.config import schema as s; "
            "print(amodal.__file__); print(s.SCHEMAS); print(s.EXPERIMENTS); print(s.WALLPAPER); print(s.checkout())",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=True,
    )
    module, schemas, experiments, wallpaper, checkout = done.stdout.splitlines()
    package = site / "amodal"
    assert Path(module) == package / "__init__.py"
    assert (Path(schemas), Path(experiments), Path(wallpaper)) == (
        package / "data" / "schemas",
        package / "data" / "experiments",
        package / "data" / "gray_wallpaper.jpeg",
    )
    assert checkout == "None"  # no repository around it: the demo data is not the package's
    names = sorted(p.name for p in (package / "data" / "schemas").iterdir())
    assert names == ["config.schema.yaml", "experiment.schema.yaml"]
    shipped = {p.name for p in (package / "data" / "experiments").iterdir()}
    assert {"paper.yaml", "baseline_classical.yaml", "oracle_order.yaml", "ablation_query.yaml"} <= shipped
    assert (package / "data" / "gray_wallpaper.jpeg").read_bytes() == (
        ROOT / "data" / "seed_examples" / "gray_wallpaper.jpeg"
    ).read_bytes()
    assert (package / "models" / "configs" / "grounding_dino_swint_ogc.yaml").is_file()
    assert not list(site.rglob("*.jpg"))  # the demo's photos stay in the repository


def test_installed_weights_list_from_another_folder(installed, tmp_path):
    done = run_installed(installed, "weights", "list", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    table, folder = done.stdout.strip().split("\n\n")
    header, *rows = table.splitlines()
    assert header.split()[:2] == ["name", "needed_by"]
    listed = {row.split()[0] for row in rows}
    assert {"sam_vit_h", "instaorder_od", "clip_vit_b32_openai", "lpips_alex"} <= listed
    assert folder.startswith("weights folder: ")


def test_installed_complete_from_another_folder_reads_the_shipped_experiments(installed, tmp_path):
    # No shipped experiment completes a photo without ground truth and without checkpoints (the
    # weight-free ones ground with the true mask), so each stops at the driver's planning, after
    # the installed package found the experiment, checked it and the config against its schemas
    # and looked for the checkpoints its manifest names.
    empty = tmp_path / "no_weights"
    empty.mkdir()
    site, env = installed
    env = dict(env, AMODAL_WEIGHTS=str(empty), HF_HOME=str(empty), TORCH_HOME=str(empty), XDG_CACHE_HOME=str(empty))
    photo = ["complete", str(PHOTO), "--query", "the cat", "--out", "out"]
    classical = run_installed((site, env), *photo, "--experiment", "baseline_classical", cwd=tmp_path)
    assert classical.returncode == 1
    assert "experiment 'baseline_classical' uses ground backend 'oracle', which needs ground truth" in classical.stderr
    paper = run_installed((site, env), *photo, "--experiment", "paper", cwd=tmp_path)
    assert paper.returncode == 1 and "checkpoints are missing" in paper.stderr
    for name in ("sam_vit_h", "ram_plus_swin_large_14m", "instaorder_od", "sd2_inpainting"):
        assert name in paper.stderr
    mistyped = tmp_path / "mistyped.yaml"
    mistyped.write_text("base: paper\ncomplete: {max_passes: many}\n")  # `base` is not in the folder: not found
    bad = run_installed((site, env), *photo, "--experiment", str(mistyped), cwd=tmp_path)
    assert bad.returncode == 2 and "paper.yaml" in bad.stderr
    mistyped.write_text("complete: {max_passes: many}\n")
    bad = run_installed((site, env), *photo, "--experiment", str(mistyped), cwd=tmp_path)
    assert bad.returncode == 2 and "mistyped.yaml: complete/max_passes" in bad.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mistyped.yaml", "no_weights"]  # nothing ran


def test_installed_make_benchmark_asks_for_the_demo_data_it_does_not_ship(installed, tmp_path):
    done = run_installed(installed, "make-benchmark", "--out", "bench", "--n", "1", cwd=tmp_path)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "data/cutouts is not part of the installed package" in done.stderr and "give the folder" in done.stderr
    done = run_installed(
        installed,
        *("make-benchmark", "--out", "bench", "--n", "1", "--image-size", "128"),
        *("--cutouts", str(ROOT / "data" / "cutouts"), "--backgrounds", str(ROOT / "data" / "backgrounds")),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "bench" / "scene_0000" / "scene.json").is_file()


def test_the_repository_snakefile_plans_with_the_installed_package(installed, tmp_path):
    site, env = installed
    workdir = tmp_path / "run"
    (workdir / "config").mkdir(parents=True)
    (workdir / "config" / "config.yaml").write_text(
        yaml.safe_dump({"datasets": {"bench": {"format": "synthetic", "n_scenes": 2}}})
    )
    # Snakemake in this process, after amodal is imported from the site folder: the workflow's
    # `from amodal...` lines (and its schema validation) use the installed package.
    script = (
        "import sys, amodal; assert amodal.__file__.startswith(sys.argv[1]), amodal.__file__; "
        "from snakemake.cli import main; main(sys.argv[2:])"
    )
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            script,
            str(site),
            "-n",
            "--cores",
            "1",
            "--snakefile",
            str(ROOT / "Snakefile"),
            "--directory",
            str(workdir),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "collect__bench__baseline_classical__s00000" in done.stdout  # the default experiment, through the link
    assert not (tmp_path / ".snakemake").exists()
