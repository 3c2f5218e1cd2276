"""Finished instances outlive a job that fails or is killed.

A shard job's outputs are the folders of all its instances, and Snakemake removes every output
of a job that fails, and of a killed one before it runs it again. So a stage job also keeps each
instance it finished in a salvage folder beside its manifest (`<shard>.salvage/<instance>/`):
the instance's files hard-linked (no copy: files are written once, atomically, never changed
in place) and `finished.json` with its status and the size and mtime of every file it was
computed from. A later attempt of the job links back every instance whose inputs are
unchanged, with its files' mtimes, instead of computing it again; the job removes its salvage
once its manifest is written, since Snakemake then keeps its outputs.

Before an instance runs, `running.json` records that it started (and how often): an instance
found running by a later attempt is the one the earlier attempt died on (`amodal.run.alone`).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from amodal.imaging import io

FINISHED = "finished.json"
# Failures a job with more memory (a retry's mem_mb x attempt) may not meet again.
MEMORY_FAILURES = ("too_large", "out_of_memory", "killed")
RUNNING = "running.json"
FILES = "files"


def salvage_root(manifest) -> Path:
    """The salvage folder of the shard job whose manifest this is."""
    manifest = Path(manifest)
    return manifest.with_name(manifest.stem + ".salvage")


def input_identity(paths) -> dict[str, list[int] | None]:
    """Size and mtime (ns) of each input file (None for one that does not exist)."""
    identity = {}
    for path in sorted({str(p) for p in paths if p}):
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            identity[path] = None
        else:
            identity[path] = [stat.st_size, stat.st_mtime_ns]
    return identity


class Salvage:
    """The salvage folder of one shard job (`root`), one entry per instance."""

    def __init__(self, root):
        self.root = Path(root)

    def _entry(self, instance: str) -> Path:
        return self.root / instance

    def restore(self, instance: str, folder, inputs, settings: dict, limit: str) -> str | None:
        """Link the instance's kept files back into `folder` and return its status, when an
        earlier attempt finished it from the same inputs and `settings` (the models config),
        and, if it failed for memory, under the same memory `limit`; else None (nothing is
        touched)."""
        entry = self._entry(instance)
        try:
            record = io.read_json(entry / FINISHED)
        except (FileNotFoundError, ValueError):
            return None
        if record.get("inputs") != input_identity(inputs) or record.get("settings") != settings:
            return None
        if record.get("memory_failure") and record.get("limit") != limit:
            return None
        folder = Path(folder)
        if folder.exists():
            shutil.rmtree(folder)
        _link_tree(entry / FILES, folder)
        return record["status"]

    def started(self, instance: str) -> int:
        """Record that the instance starts; returns how many earlier attempts started it and
        did not finish it."""
        entry = self._entry(instance)
        entry.mkdir(parents=True, exist_ok=True)
        before = self.interrupted(instance)
        io.write_json(entry / RUNNING, {"starts": before + 1, "pid": os.getpid()})
        return before

    def interrupted(self, instance: str) -> int:
        """How many attempts started the instance and died before it finished."""
        try:
            return int(io.read_json(self._entry(instance) / RUNNING)["starts"])
        except (FileNotFoundError, ValueError, KeyError):
            return 0

    def finished(self, instance: str, folder, status: str, inputs, settings: dict, limit: str) -> None:
        """Keep the finished instance's files (hard links) with its status, inputs, settings and
        the memory limit it ran under."""
        entry = self._entry(instance)
        (entry / FINISHED).unlink(missing_ok=True)  # never a record beside half-linked files
        if (entry / FILES).exists():
            shutil.rmtree(entry / FILES)
        entry.mkdir(parents=True, exist_ok=True)
        if Path(folder).exists():
            _link_tree(Path(folder), entry / FILES)
        else:
            (entry / FILES).mkdir()
        io.write_json(
            entry / FINISHED,
            {
                "status": status,
                "inputs": input_identity(inputs),
                "settings": settings,
                "limit": limit,
                "memory_failure": _memory_failure(Path(folder)),
            },
        )
        (entry / RUNNING).unlink(missing_ok=True)

    def discard(self) -> None:
        """The job succeeded: its outputs stay, its salvage goes."""
        shutil.rmtree(self.root, ignore_errors=True)


def _memory_failure(folder: Path) -> bool:
    """Whether the instance's record says it failed for memory (`MEMORY_FAILURES`)."""
    for path in folder.glob("*.json"):
        try:
            record = io.read_json(path)
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("failure") in MEMORY_FAILURES:
            return True
    return False


def _link_tree(source: Path, target: Path) -> None:
    """`target` as a tree of hard links to `source`'s files (copies where linking fails)."""
    shutil.copytree(source, target, copy_function=_link_or_copy)


def _link_or_copy(source, target) -> None:
    try:
        os.link(source, target)
    except OSError:  # another file system, or links not allowed
        shutil.copy2(source, target)
