"""The table `amodal weights list` prints: one row per checkpoint of the manifest with where it
is (or "missing") and its size, from stat calls only (never a hash or a download).
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

from amodal.models.weights.locate import locate
from amodal.models.weights.manifest import get_entry, load_manifest


def _disk_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def list_rows(names: Iterable[str] | None = None) -> list[dict]:
    """Rows for `amodal weights list`: name, needed_by (comma-separated), path (or "missing"),
    size (bytes on disk when found, else the manifest's size, else None), source kind, licence.
    Stats files only; never hashes or downloads."""
    entries = load_manifest()
    rows = []
    for name in names if names is not None else entries:
        entry = entries[name] if name in entries else get_entry(name)
        found = locate(entry)
        rows.append(
            {
                "name": entry.name,
                "needed_by": ", ".join(entry.needed_by),
                "path": str(found) if found else "missing",
                "size": _disk_size(found) if found else entry.expected_size,
                "source": entry.kind,
                "licence": entry.licence,
            }
        )
    return rows


def human_size(n: int | None) -> str:
    if n is None:
        return "?"
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


def format_rows(rows: list[dict], columns: tuple[str, ...] = ("name", "needed_by", "path", "size")) -> str:
    """`list_rows()` as an aligned text table (sizes human-readable)."""
    cells = [[c for c in columns]]
    for row in rows:
        cells.append([human_size(row[c]) if c == "size" else str(row[c]) for c in columns])
    widths = [max(len(r[i]) for r in cells) for i in range(len(columns))]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in cells)
