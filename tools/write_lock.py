"""Write requirements.lock (every package of a resolved virtual environment) and
envs/amodal.yaml (the packages a job needs: amodal's runtime dependencies from pyproject.toml
and everything they require, at the lock's versions; snakemake, its plugins and pytest stay out)."""

import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CLOSURE = """
import json, sys
from importlib import metadata
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
seen, todo = {}, [(canonicalize_name(Requirement(r).name), set(Requirement(r).extras)) for r in json.loads(sys.argv[1])]
while todo:
    name, extras = todo.pop()
    if name in seen and extras <= seen[name]:
        continue
    seen.setdefault(name, set()).update(extras)
    for line in metadata.requires(name) or []:
        req = Requirement(line)
        if req.marker and not any(req.marker.evaluate({"extra": e}) for e in ["", *seen[name]]):
            continue
        todo.append((canonicalize_name(req.name), set(req.extras)))
print(json.dumps(sorted(seen)))
"""


def job_packages(venv: str) -> set[str]:
    """amodal's runtime dependencies and what they require, as installed in `venv`."""
    import json

    roots = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    out = subprocess.run(
        [f"{venv}/bin/python", "-c", CLOSURE, json.dumps(roots)], check=True, capture_output=True, text=True
    )
    return set(json.loads(out.stdout))


def canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def main(venv: str) -> None:
    frozen = subprocess.run(
        [f"{venv}/bin/pip", "freeze", "--exclude-editable"], check=True, capture_output=True, text=True
    ).stdout
    pins = sorted((line for line in frozen.splitlines() if line and not line.startswith("amodal")), key=str.lower)
    header = [
        "# Exact pins of everything the project installs (Python 3.11, pip). Regenerate with 'make lock'.",
        "# envs/amodal.yaml pins the subset a job needs, at these versions (tests check they agree).",
    ]
    (ROOT / "requirements.lock").write_text("\n".join(header + pins) + "\n")
    needed = job_packages(venv)
    env = [
        "# Conda environment of every rule (Snakemake --use-conda): amodal's runtime dependencies",
        "# (pyproject.toml) and what they require, each at its requirements.lock version; nothing that only",
        "# runs the workflow or the tests (snakemake, its plugins, pytest). A job needs no snakemake: the",
        "# script preamble imports it from the Snakemake that runs the workflow. Written by tools/write_lock.py;",
        "# tests/test_packaging.py checks it.",
        "name: amodal",
        "channels:",
        "  - conda-forge",
        "dependencies:",
        "  - python=3.11",
        "  - pip",
        "  - pip:",
    ]
    env += [f"      - {pin}" for pin in pins if canonical(pin.split("==")[0]) in needed] + ["      - -e ../"]
    (ROOT / "envs" / "amodal.yaml").write_text("\n".join(env) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
