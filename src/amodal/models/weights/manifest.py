"""The weights manifest: `weights.yaml` (beside this module) read into one `Entry` per
checkpoint, with its source (a URL, files of a Hugging Face repository, or a manual download),
its file or folder name on disk, its licence, which "stage/backend" needs it, and its size and
sha256 where those are known.
"""

from __future__ import annotations

import os
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import yaml

MANIFEST_PATH = Path(__file__).with_name("weights.yaml")


@dataclass(frozen=True)
class Entry:
    """One checkpoint of the manifest.

    `size` and `sha256` are an int / hex string for a single-file entry, a mapping from
    `hf_files` path to value for a folder entry, or None where unknown.
    """

    name: str
    description: str
    file: str
    licence: str
    needed_by: tuple[str, ...]
    url: str | None = None
    hf_repo: str | None = None
    hf_revision: str = "main"
    hf_files: tuple[str, ...] = ()
    manual: str | None = None
    size: int | dict[str, int] | None = None
    sha256: str | dict[str, str] | None = None

    @property
    def kind(self) -> str:
        """ "url", "hf" or "manual"."""
        if self.hf_repo:
            return "hf"
        return "url" if self.url else "manual"

    @property
    def is_folder(self) -> bool:
        """A Hugging Face entry stored as a folder (several files, or a file under another name)."""
        return self.kind == "hf" and not (len(self.hf_files) == 1 and self.hf_files[0] == self.file)

    def members(self) -> list[tuple[str, int | None, str | None]]:
        """(relative path on disk, expected size, expected sha256) of every file of the entry;
        for a single file the relative path is "" (the entry's path itself)."""
        if not self.is_folder:
            return [("", _scalar(self.size), _scalar(self.sha256))]
        sizes = self.size if isinstance(self.size, dict) else {}
        shas = self.sha256 if isinstance(self.sha256, dict) else {}
        return [(f, sizes.get(f), shas.get(f)) for f in self.hf_files]

    def hf_url(self, hf_file: str, endpoint: str) -> str:
        repo = urllib.parse.quote(self.hf_repo, safe="/")
        rev = urllib.parse.quote(self.hf_revision, safe="")
        return f"{endpoint.rstrip('/')}/{repo}/resolve/{rev}/{urllib.parse.quote(hf_file, safe='/')}"

    @property
    def expected_size(self) -> int | None:
        """Bytes of the whole entry by the manifest, or None if any file's size is unknown."""
        sizes = [s for _, s, _ in self.members()]
        return None if any(s is None for s in sizes) else sum(sizes)


def _scalar(value):
    return None if isinstance(value, dict) else value


def _entry_from(raw: dict, where: str) -> Entry:
    if not isinstance(raw, dict):
        raise ValueError(f"{where}: an entry must be a mapping, got {raw!r}")
    name = raw.get("name")
    if not name or not isinstance(name, str):
        raise ValueError(f"{where}: entry without a name: {raw!r}")
    where = f"{where}: {name}"
    source = raw.get("source") or {}
    if not isinstance(source, dict):
        raise ValueError(f"{where}: source must be a mapping")
    url, repo, manual = source.get("url"), source.get("hf_repo"), source.get("manual")
    if sum(bool(x) for x in (url, repo, manual)) != 1:
        raise ValueError(f"{where}: source needs exactly one of url, hf_repo, or url: null with manual")
    files = tuple(source.get("hf_files") or ())
    if repo and not files:
        raise ValueError(f"{where}: hf_repo without hf_files")
    for key in ("file", "licence"):
        if not raw.get(key) or not isinstance(raw.get(key), str):
            raise ValueError(f"{where}: missing {key}")
    if Path(raw["file"]).name != raw["file"] or raw["file"] in (".", ".."):
        raise ValueError(f"{where}: file must be a plain name, got {raw['file']!r}")
    needed_by = raw.get("needed_by")
    if (
        not needed_by
        or not isinstance(needed_by, list)
        or not all(isinstance(n, str) and re.fullmatch(r"[\w.-]+/[\w.-]+", n) for n in needed_by)
    ):
        raise ValueError(f"{where}: needed_by must be a list of 'stage/backend' strings")
    entry = Entry(
        name=name,
        description=str(raw.get("description") or ""),
        file=raw["file"],
        licence=raw["licence"],
        needed_by=tuple(needed_by),
        url=url or None,
        hf_repo=repo or None,
        hf_revision=str(source.get("hf_revision") or "main"),
        hf_files=files,
        manual=" ".join(str(manual).split()) if manual else None,
        size=raw.get("size"),
        sha256=raw.get("sha256"),
    )
    for key, typ in (("size", int), ("sha256", str)):
        value = getattr(entry, key)
        if value is None:
            continue
        if entry.is_folder:
            if not isinstance(value, dict) or not set(value) <= set(files):
                raise ValueError(f"{where}: {key} of a folder entry must map hf_files paths to values")
            values = list(value.values())
        else:
            values = [value]
        for v in values:
            if not isinstance(v, typ) or (typ is str and not re.fullmatch(r"[0-9a-f]{64}", v)):
                raise ValueError(f"{where}: bad {key} {v!r}")
    return entry


def load_manifest(path: str | os.PathLike | None = None) -> dict[str, Entry]:
    """The manifest as {name: Entry}, in file order (default: `MANIFEST_PATH`)."""
    path = Path(path) if path is not None else MANIFEST_PATH
    data = yaml.safe_load(path.read_text())
    items = data.get("weights") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ValueError(f"{path}: expected a top-level 'weights' list")
    entries: dict[str, Entry] = {}
    for i, raw in enumerate(items):
        entry = _entry_from(raw, f"{path} entry {i}")
        if entry.name in entries:
            raise ValueError(f"{path}: duplicate entry {entry.name}")
        entries[entry.name] = entry
    return entries


def get_entry(name: str | Entry) -> Entry:
    """The manifest entry `name` (an Entry is returned as it is); KeyError lists the names."""
    if isinstance(name, Entry):
        return name
    entries = load_manifest()
    if name not in entries:
        raise KeyError(f"unknown weights {name!r}; known: {', '.join(entries)}")
    return entries[name]
