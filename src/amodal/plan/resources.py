"""What a job asks its scheduler for: shard sizes per device class (config `shard_size`), threads,
memory, runtime and GPUs (config `resources`), and whether GPU-class jobs ask for a GPU at all
(config `models.device`, the GPUs this machine shows)."""

from __future__ import annotations

import math
from functools import lru_cache

from amodal.plan.job import Job

DEFAULT_SHARD_SIZE = {"cpu": 16, "gpu": 32}
# cpu mem_mb: the job's start (~200 MB) plus the costliest CPU-class stage (rgba: 95 bytes a
# pixel, amodal.declarations) at the default max_side, a 4096 x 4096 image: 1.8 GB.
DEFAULT_RESOURCES = {
    "cpu": {"threads": 1, "mem_mb": 2000, "gpu": 0, "runtime_base_min": 5, "runtime_per_instance_s": 10},
    "gpu": {"threads": 4, "mem_mb": 16000, "gpu": 1, "runtime_base_min": 10, "runtime_per_instance_s": 60},
}


def shard_size(config: dict, device: str) -> int:
    sizes = config.get("shard_size", DEFAULT_SHARD_SIZE)
    if isinstance(sizes, dict):
        return sizes.get(device, DEFAULT_SHARD_SIZE[device])
    if isinstance(sizes, int) and not isinstance(sizes, bool):
        return sizes
    raise ValueError(f"config 'shard_size' must be an integer or {{cpu: n, gpu: n}}, got {sizes!r}")


def job_resources(config: dict, job: Job) -> dict:
    """threads, mem_mb (before scaling by attempt), runtime in minutes and gpu count; a GPU-class
    job asks for no GPU when config `models.device` is cpu (or auto on a machine without one)."""
    spec = dict(DEFAULT_RESOURCES[job.device], **(config.get("resources", {}).get(job.device) or {}))
    runtime = spec["runtime_base_min"] + math.ceil(spec["runtime_per_instance_s"] * job.instance_runs / 60)
    gpu = spec["gpu"] if models_on_gpu(config) else 0
    return {"threads": spec["threads"], "mem_mb": spec["mem_mb"], "runtime": runtime, "gpu": gpu}


def models_on_gpu(config: dict) -> bool:
    device = (config.get("models") or {}).get("device", "auto")
    return _gpu_visible() if device == "auto" else device.startswith("cuda")


@lru_cache(maxsize=1)
def _gpu_visible() -> bool:
    """Whether this machine shows a GPU (asked once per process: it may run nvidia-smi)."""
    from amodal.models.devices import candidate_ids

    return bool(candidate_ids())
