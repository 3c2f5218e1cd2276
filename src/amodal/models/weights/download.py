"""Downloading a checkpoint with the standard library only: into `<file>.part`, resumed with an
HTTP Range request from the part's size, checked against the manifest's size and sha256, then
renamed into place atomically. A transfer that ends early stays a `.part` for the next fetch.
"""

from __future__ import annotations

import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Callable

from amodal.models.weights.locate import weights_dir
from amodal.models.weights.manifest import Entry, get_entry
from amodal.models.weights.verify import CHUNK, check_file, verify

DEFAULT_HF_ENDPOINT = "https://huggingface.co"
TIMEOUT_S = 60
USER_AGENT = "amodal-weights/0.1 (+urllib)"

Progress = Callable[[str, int, "int | None"], None]  # (file, bytes so far, total or None)


class ManualDownloadRequired(RuntimeError):
    """The checkpoint cannot be downloaded automatically; the message says how to get it."""


class DownloadError(OSError):
    """A transfer failed or ended early; any partial file is kept for a resumed fetch."""


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
    bad, _ = check_file(part, size, sha, check_sha256=True)
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
        ((_, size, sha),) = entry.members()
        return _fetch_file(url, target, size, sha, {}, progress, entry.file)

    endpoint = base_url or os.environ.get("HF_ENDPOINT") or DEFAULT_HF_ENDPOINT
    headers = {}
    token = os.environ.get("HF_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    for (rel, size, sha), hf_file in zip(entry.members(), entry.hf_files):
        path = target / rel if rel else target
        if path.is_file() and check_file(path, size, sha, True)[0] is None:
            continue
        label = f"{entry.file}/{rel}" if rel else entry.file
        _fetch_file(entry.hf_url(hf_file, endpoint), path, size, sha, headers, progress, label)
    return target
