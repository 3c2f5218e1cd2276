"""Model families: each module builds its network from a config (random weights) and loads a
checkpoint in a second, explicit step, with device and dtype as arguments.

Nothing here is downloaded at run time: checkpoints come from a configured local path or
the user's caches (`amodal.models.weights`), and a missing one is a `MissingCheckpoint` that
names the file and the command that fetches it. Besides the families: `cache` (`ModelCache`,
the models of one job, handed to each stage), `weights/` (manifest, locate, verify, download),
`devices` (the GPUs this machine offers) and `gpu_memory` (an instance that runs out of GPU
memory fails alone; a batch is retried in halves). Imports `config` only.
"""

from __future__ import annotations

from pathlib import Path


class MissingCheckpoint(FileNotFoundError):
    """A checkpoint a backend needs is not on disk. The message names the path looked at, the
    command that fetches it (`amodal weights fetch <weights name>`, which prints the instructions
    for a checkpoint fetched by hand) and the setting that points at it: `config_key`, by default
    `models.paths.<weights name>`, where the run's config says where this machine keeps it."""

    def __init__(self, what: str, path, weights_name: str, config_key: str | None = None):
        self.path = str(path)
        self.weights_name = weights_name
        config_key = config_key or f"models.paths.{weights_name}"
        # the same without this machine's folders, for records that reach the tables
        self.portable = (
            f"{what} checkpoint {Path(str(path)).name} not found on the machine that ran it; "
            f"`amodal weights fetch {weights_name}` or {config_key} gives it"
        )
        super().__init__(
            f"{what} checkpoint not found at {path}; run `amodal weights fetch {weights_name}` on a machine "
            f"with internet, or set {config_key} to the file"
        )


def require_file(path, what: str, weights_name: str, config_key: str | None = None) -> Path:
    """`path` as a Path if it is an existing file (or folder), else MissingCheckpoint."""
    if path is None or not Path(path).exists():
        raise MissingCheckpoint(what, path, weights_name, config_key)
    return Path(path)


def built_on(device):
    """The context to build a network in before its checkpoint is loaded: its parameters are
    created, and randomly initialised, directly on `device`. The checkpoint overwrites them, and
    initialising a large network on the CPU is most of its load time (H200: SAM ViT-H loaded in
    7.4 s built on the CPU, 1.5 s built on the GPU; benchmarks/load_gpu.py)."""
    import torch

    return torch.device(device)


class CheckpointMismatch(RuntimeError):
    """A checkpoint's keys or shapes do not fit the configured architecture."""


def read_state_dict(path: Path, containers: tuple[str, ...] = ("model", "state_dict")) -> dict:
    """The state dict of a training checkpoint: tensors and plain containers only (no arbitrary
    unpickling), plus the one class training scripts keep beside the weights (the run's
    argparse.Namespace); the first of `containers` present holds the weights (else the file is
    the state dict itself); a `module.` prefix (DataParallel) is removed."""
    import argparse
    import pickle

    import torch

    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            obj = torch.load(Path(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointMismatch(
            f"{path} holds objects other than tensors and Namespace, so it is not loaded (no arbitrary "
            f"unpickling); re-save only its state dict ({error})"
        ) from None
    for key in containers:
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
            break
    if not isinstance(obj, dict):
        raise CheckpointMismatch(f"{path}: no state dict (got {type(obj).__name__})")
    return {(k[len("module.") :] if k.startswith("module.") else k): v for k, v in obj.items()}
