"""Which GPUs this machine offers a job: `AMODAL_GPU_IDS` (comma-separated), else the
`CUDA_VISIBLE_DEVICES` it inherited, else the indices `nvidia-smi` lists. Read by planning
(whether GPU-class jobs ask for a GPU) and by the claim a GPU job makes (amodal.run.devices).
"""

from __future__ import annotations

import os
import subprocess


def candidate_ids(environ=None) -> list[str]:
    environ = os.environ if environ is None else environ
    for name in ("AMODAL_GPU_IDS", "CUDA_VISIBLE_DEVICES"):
        value = environ.get(name, "").strip()
        if value:
            return [part.strip() for part in value.split(",") if part.strip()]
    try:
        listed = subprocess.run(
            ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in listed.splitlines() if line.strip()]
