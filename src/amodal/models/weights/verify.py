"""Checking a checkpoint on disk against the manifest's published size and sha256, without
downloading anything: `verify` answers a `Status` ("found", "missing", "wrong size" or
"wrong sha256"); `check_file` is the one-file check that downloads reuse.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from amodal.models.weights.locate import locate
from amodal.models.weights.manifest import Entry, get_entry

CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike, chunk: int = CHUNK) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class Status:
    """Result of `verify`. `state` is "found", "missing", "wrong size" or "wrong sha256";
    `checked` says which published values were compared ("size", "sha256")."""

    name: str
    state: str
    path: Path | None
    checked: tuple[str, ...] = ()
    file: str | None = None  # the file that failed (folder entries), else None
    expected: int | str | None = None
    found: int | str | None = None
    size: int | None = None  # bytes on disk

    @property
    def ok(self) -> bool:
        return self.state == "found"

    def __str__(self) -> str:
        if self.state == "missing":
            return f"{self.name}: missing ({self.path})" if self.path else f"{self.name}: missing"
        if self.ok:
            how = f"checked {', '.join(self.checked)}" if self.checked else "nothing published to check"
            return f"{self.name}: found at {self.path} ({how})"
        return f"{self.name}: {self.state} at {self.file or self.path}: expected {self.expected}, found {self.found}"


def check_file(path: Path, size: int | None, sha: str | None, check_sha256: bool):
    """None if fine, else (state, expected, found); also the checks made."""
    checked = []
    actual = path.stat().st_size
    if size is not None:
        checked.append("size")
        if actual != size:
            return ("wrong size", size, actual), checked
    if sha is not None and check_sha256:
        checked.append("sha256")
        got = sha256_file(path)
        if got != sha:
            return ("wrong sha256", sha, got), checked
    return None, checked


def verify(name: str | Entry, path: str | os.PathLike | None = None, check_sha256: bool = True) -> Status:
    """Check checkpoint `name` at `path` (default: `locate(name)`) against the manifest's
    size and sha256 where it has them; `check_sha256=False` skips the (slow) hash."""
    entry = get_entry(name)
    path = Path(path).expanduser() if path is not None else locate(entry)
    if path is None or not path.exists():
        return Status(entry.name, "missing", path)
    checked: list[str] = []
    total = 0
    for rel, size, sha in entry.members():
        member = path / rel if rel else path
        if not member.is_file():
            return Status(entry.name, "missing", path, file=str(member))
        total += member.stat().st_size
        bad, did = check_file(member, size, sha, check_sha256)
        checked += [c for c in did if c not in checked]
        if bad:
            state, expected, found = bad
            return Status(entry.name, state, path, tuple(checked), str(member), expected, found, total)
    return Status(entry.name, "found", path, tuple(checked), size=total)
