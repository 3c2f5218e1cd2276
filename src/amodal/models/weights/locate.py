"""Where a checkpoint is on this machine, never touching the network. The order is

1. the path the configuration names (`models.paths.<weights name>`), if one is given (only that
   path: a configured path that does not exist is not replaced by another file);
2. `weights_dir()/<file>`: `$AMODAL_WEIGHTS`, default `~/.cache/amodal/weights`;
3. for Hugging Face entries, the user's Hugging Face cache (`try_to_load_from_cache`); a
   folder entry counts only if every listed file is cached in one snapshot; for URL entries,
   the torch hub cache (`torch_hub_dir()`), where torch.hub and torchvision keep what they
   download under the URL's file name (the LPIPS backbones, ResNet-50).

`locate` answers the path or None; `resolve` the path or a `MissingCheckpoint` naming the path
looked for, the config key and `amodal weights fetch <name>`.
"""

from __future__ import annotations

import os
from pathlib import Path

from amodal.models import MissingCheckpoint
from amodal.models.weights.manifest import Entry, get_entry

DEFAULT_WEIGHTS_DIR = Path("~/.cache/amodal/weights")


def weights_dir() -> Path:
    """`$AMODAL_WEIGHTS` if set, else ~/.cache/amodal/weights (not created here)."""
    env = os.environ.get("AMODAL_WEIGHTS")
    return Path(env).expanduser() if env else DEFAULT_WEIGHTS_DIR.expanduser()


def torch_hub_dir() -> Path:
    """Where torch.hub (and so torchvision) keeps downloaded checkpoints, by torch's own rule
    (`$TORCH_HOME`, else `$XDG_CACHE_HOME/torch`, else ~/.cache/torch; then hub/checkpoints),
    worked out without importing torch."""
    home = os.environ.get("TORCH_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "torch")
    return Path(home).expanduser() / "hub" / "checkpoints"


def _complete(entry: Entry, path: Path) -> bool:
    if entry.is_folder:
        return path.is_dir() and all((path / f).is_file() for f in entry.hf_files)
    return path.is_file()


def _from_hf_cache(entry: Entry) -> Path | None:
    from huggingface_hub import try_to_load_from_cache

    found = []
    for f in entry.hf_files:
        try:
            cached = try_to_load_from_cache(entry.hf_repo, f, revision=entry.hf_revision)
        except Exception:  # a malformed cache or repo id is "not cached", never a crash
            return None
        if not isinstance(cached, str):
            return None
        found.append((f, Path(cached)))
    if not entry.is_folder:
        return found[0][1]
    roots = set()
    for f, cached in found:
        root = cached
        for _ in Path(f).parts:
            root = root.parent
        roots.add(root)
    return roots.pop() if len(roots) == 1 else None


def locate(name: str | Entry, configured: str | os.PathLike | None = None) -> Path | None:
    """Where checkpoint `name` is on disk, or None. Never downloads.

    A `configured` path is the only candidate when given (returned if it exists); otherwise
    `weights_dir()/<file>` (a folder entry only when it holds every file), then the Hugging
    Face cache for Hugging Face entries, the torch hub cache for URL entries.
    """
    entry = get_entry(name)
    if configured is not None and str(configured) != "":
        path = Path(configured).expanduser()
        return path if path.exists() else None
    path = weights_dir() / entry.file
    if _complete(entry, path):
        return path
    if entry.kind == "hf":
        return _from_hf_cache(entry)
    if entry.kind == "url":
        cached = torch_hub_dir() / entry.url.rstrip("/").rsplit("/", 1)[-1]
        return cached if cached.is_file() else None
    return None


def resolve(
    name: str | Entry,
    configured: str | os.PathLike | None = None,
    config_key: str | None = None,
    what: str | None = None,
) -> Path:
    """`locate`, or MissingCheckpoint naming the path looked for, `amodal weights fetch <name>`
    and `config_key` (default `models.paths.<name>`)."""
    entry = get_entry(name)
    found = locate(entry, configured)
    if found is not None:
        return found
    looked = Path(configured).expanduser() if configured not in (None, "") else weights_dir() / entry.file
    raise MissingCheckpoint(what or entry.name, looked, entry.name, config_key)
