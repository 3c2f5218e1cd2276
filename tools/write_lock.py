"""Write requirements.lock and envs/amodal.yaml from the packages of a resolved virtual environment."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main(venv: str) -> None:
    frozen = subprocess.run([f"{venv}/bin/pip", "freeze", "--exclude-editable"], check=True, capture_output=True, text=True).stdout
    pins = sorted((line for line in frozen.splitlines() if line and not line.startswith("amodal")), key=str.lower)
    header = [
        "# Exact pins of everything the project installs (Python 3.11, pip). Regenerate with 'make lock'.",
        "# envs/amodal.yaml lists the same pins for Snakemake's --use-conda (tests check they agree).",
    ]
    (ROOT / "requirements.lock").write_text("\n".join(header + pins) + "\n")
    env = [
        "# Conda environment of every rule (Snakemake --use-conda). Its pip pins equal requirements.lock;",
        "# tests/test_packaging.py checks that they agree.",
        "name: amodal", "channels:", "  - conda-forge", "dependencies:", "  - python=3.11", "  - pip", "  - pip:",
    ]
    env += [f"      - {pin}" for pin in pins] + ["      - -e ../"]
    (ROOT / "envs" / "amodal.yaml").write_text("\n".join(env) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
