"""Checkpoint management: the manifest of the weights the method uses, where they are on disk,
and how to fetch and check them.

`weights.yaml` (next to this module) lists every checkpoint: where it comes from (a URL, files
of a Hugging Face repository, or a manual download), the file or folder name on disk, its
licence, which "stage/backend" needs it, and its size and sha256 where those are known.

Looking a checkpoint up (`locate`, `resolve`) never touches the network; the order is

1. the path the configuration names, if one is given (only that path: a configured path that
   does not exist is not replaced by another file);
2. `weights_dir()/<file>`: `$AMODAL_WEIGHTS`, default `~/.cache/amodal/weights`;
3. for Hugging Face entries, the user's Hugging Face cache (`try_to_load_from_cache`); a
   folder entry counts only if every listed file is cached in one snapshot; for URL entries,
   the torch hub cache (`torch_hub_dir()`), where torch.hub and torchvision keep what they
   download under the URL's file name (the LPIPS backbones, ResNet-50).

`fetch` downloads with the standard library only: into `<file>.part`, resumed with an HTTP
Range request from the part's size, checked against the manifest's size and sha256, then
renamed into place atomically. A transfer that ends early stays a `.part` for the next fetch.
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

import yaml

from amodal.models import MissingCheckpoint

MANIFEST_PATH = Path(__file__).with_name("weights.yaml")
DEFAULT_WEIGHTS_DIR = Path("~/.cache/amodal/weights")
DEFAULT_HF_ENDPOINT = "https://huggingface.co"
CHUNK = 1 << 20
TIMEOUT_S = 60
USER_AGENT = "amodal-weights/0.1 (+urllib)"

Progress = Callable[[str, int, "int | None"], None]  # (file, bytes so far, total or None)


class ManualDownloadRequired(RuntimeError):
    """The checkpoint cannot be downloaded automatically; the message says how to get it."""


class DownloadError(OSError):
    """A transfer failed or ended early; any partial file is kept for a resumed fetch."""


# ----------------------------------------------------------------------------------- manifest


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


def needed_for(stage_backend: str) -> list[str]:
    """Names of the checkpoints a "stage/backend" loads (e.g. "ground/grounded_sam")."""
    return [e.name for e in load_manifest().values() if stage_backend in e.needed_by]


# ------------------------------------------------------------------------------------ locating


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
    config_key: str = "the backend's checkpoint setting",
    what: str | None = None,
) -> Path:
    """`locate`, or MissingCheckpoint naming the path looked for and `amodal weights fetch <name>`."""
    entry = get_entry(name)
    found = locate(entry, configured)
    if found is not None:
        return found
    looked = Path(configured).expanduser() if configured not in (None, "") else weights_dir() / entry.file
    raise MissingCheckpoint(what or entry.name, looked, entry.name, config_key)


# ------------------------------------------------------------------------------------ checking


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


def _check_file(path: Path, size: int | None, sha: str | None, check_sha256: bool):
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
        bad, did = _check_file(member, size, sha, check_sha256)
        checked += [c for c in did if c not in checked]
        if bad:
            state, expected, found = bad
            return Status(entry.name, state, path, tuple(checked), str(member), expected, found, total)
    return Status(entry.name, "found", path, tuple(checked), size=total)


def _disk_size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _expected_size(entry: Entry) -> int | None:
    sizes = [s for _, s, _ in entry.members()]
    return None if any(s is None for s in sizes) else sum(sizes)


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
                "size": _disk_size(found) if found else _expected_size(entry),
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


# ------------------------------------------------------------------------------------ fetching


def _open(url: str, start: int, headers: dict[str, str]):
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    for key, value in headers.items():  # credentials are not sent on to a redirect's host
        request.add_unredirected_header(key, value)
    if start:
        request.add_header("Range", f"bytes={start}-")
    return urllib.request.urlopen(request, timeout=TIMEOUT_S)


def _download(url: str, part: Path, headers: dict[str, str], progress: Progress | None, label: str) -> None:
    """Bring `part` to the full resource at `url`, resuming from its size. Raises DownloadError
    (the part is kept) if the transfer fails or ends before its Content-Length."""
    start = part.stat().st_size if part.exists() else 0
    try:
        response = _open(url, start, headers)
    except urllib.error.HTTPError as err:
        if err.code == 416 and start:  # nothing left to send: the part is complete (checked next)
            return
        raise DownloadError(f"{label}: HTTP {err.code} {err.reason} for {url}") from err
    except (urllib.error.URLError, OSError) as err:
        raise DownloadError(f"{label}: cannot reach {url}: {getattr(err, 'reason', err)}") from err
    with response:
        mode = "ab"
        if start and response.status == 206:
            match = re.match(r"bytes (\d+)-", response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != start:
                raise DownloadError(
                    f"{label}: server answered Range {start}- with {response.headers.get('Content-Range')!r}"
                )
        elif start:
            start, mode = 0, "wb"  # the server ignored the Range: start over
        length = response.headers.get("Content-Length")
        expected = int(length) if length is not None else None
        total = start + expected if expected is not None else None
        received = 0
        try:
            with open(part, mode) as out:
                while block := response.read(CHUNK):
                    out.write(block)
                    received += len(block)
                    if progress:
                        progress(label, start + received, total)
        except OSError as err:
            raise DownloadError(
                f"{label}: transfer interrupted after {start + received} bytes ({err}); "
                f"partial file kept at {part}, fetch again to resume"
            ) from err
    if expected is not None and received < expected:
        raise DownloadError(
            f"{label}: transfer ended after {start + received} of {total} bytes; "
            f"partial file kept at {part}, fetch again to resume"
        )


def _fetch_file(
    url: str,
    target: Path,
    size: int | None,
    sha: str | None,
    headers: dict[str, str],
    progress: Progress | None,
    label: str,
) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    _download(url, part, headers, progress, label)
    bad, _ = _check_file(part, size, sha, check_sha256=True)
    if bad:
        part.unlink(missing_ok=True)
        state, expected, found = bad
        raise ValueError(f"{label}: {state}: expected {expected}, found {found}; the download was deleted")
    os.replace(part, target)
    return target


def fetch(
    name: str | Entry,
    dest: str | os.PathLike | None = None,
    base_url: str | None = None,
    progress: Progress | None = None,
) -> Path:
    """Download checkpoint `name` into `dest` (default `weights_dir()`) and return its path.

    URL entries go to `dest/<file>`; `base_url`, if given, is a mirror holding the file under
    its own name (`{base_url}/<last part of the URL>`). Hugging Face entries fetch every file
    from `{endpoint}/{repo}/resolve/{revision}/{file}` (endpoint: `base_url`, else
    `$HF_ENDPOINT`, else huggingface.co; `$HF_TOKEN` is sent when set) into `dest/<file>/...`
    (or `dest/<file>` for a single file). Each file is resumed from its `.part`, checked
    against the manifest's size and sha256 (a mismatch deletes the part and raises
    ValueError), then renamed into place. Files already in place and matching are kept.
    Manual entries raise ManualDownloadRequired with the manifest's instructions.
    """
    entry = get_entry(name)
    dest = Path(dest).expanduser() if dest is not None else weights_dir()
    target = dest / entry.file
    if entry.kind == "manual":
        raise ManualDownloadRequired(f"{entry.name} cannot be downloaded automatically: {entry.manual}")
    if entry.kind == "url":
        url = entry.url
        if base_url:
            url = f"{base_url.rstrip('/')}/{url.rstrip('/').rsplit('/', 1)[-1]}"
        if target.is_file() and verify(entry, target).ok:
            return target
        return _fetch_file(url, target, _scalar(entry.size), _scalar(entry.sha256), {}, progress, entry.file)

    endpoint = base_url or os.environ.get("HF_ENDPOINT") or DEFAULT_HF_ENDPOINT
    headers = {}
    token = os.environ.get("HF_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    for (rel, size, sha), hf_file in zip(entry.members(), entry.hf_files):
        path = target / rel if rel else target
        if path.is_file() and _check_file(path, size, sha, True)[0] is None:
            continue
        label = f"{entry.file}/{rel}" if rel else entry.file
        _fetch_file(entry.hf_url(hf_file, endpoint), path, size, sha, headers, progress, label)
    return target
