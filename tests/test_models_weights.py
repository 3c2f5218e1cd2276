"""Checkpoint manifest, lookup, checking and download (the amodal.models.weights package), against a real
HTTP server on loopback that supports Range requests. Expected hashes are computed here from the bytes
served, independently of the code under test. Nothing reaches the internet."""

from __future__ import annotations

import hashlib
import random
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import huggingface_hub.constants
import pytest
import yaml

from amodal.cli.weights_table import format_rows, list_rows
from amodal.models import MissingCheckpoint
from amodal.models.weights import manifest
from amodal.models.weights.download import ManualDownloadRequired, fetch
from amodal.models.weights.locate import locate, resolve, weights_dir
from amodal.models.weights.manifest import load_manifest
from amodal.models.weights.verify import verify


# ------------------------------------------------------------------------------ loopback server


class Server:
    """Serves `files` ({url path: bytes}); paths in `truncate` send their headers (full
    Content-Length) and then only half of the body before closing. Every request is logged as
    (path, Range header or None)."""

    def __init__(self):
        self.files: dict[str, bytes] = {}
        self.truncate: set[str] = set()
        self.requests: list[tuple[str, str | None]] = []
        state = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                rng = self.headers.get("Range")
                state.requests.append((self.path, rng))
                body = state.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                start = 0
                if rng:
                    m = re.fullmatch(r"bytes=(\d+)-", rng)
                    assert m, rng
                    start = int(m.group(1))
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                rest = body[start:]
                self.send_header("Content-Length", str(len(rest)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                if self.path in state.truncate:
                    rest = rest[: len(rest) // 2]
                self.wfile.write(rest)
                self.wfile.flush()
                self.close_connection = True

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """Weights folder and Hugging Face cache in tmp_path, never the user's."""
    monkeypatch.setenv("AMODAL_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf_cache"))
    monkeypatch.delenv("HF_ENDPOINT", raising=False)
    monkeypatch.delenv("HF_TOKEN", raising=False)


def payload(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def use_manifest(tmp_path, monkeypatch, entries: list[dict]) -> Path:
    path = tmp_path / "manifest.yaml"
    path.write_text(yaml.safe_dump({"weights": entries}, sort_keys=False))
    monkeypatch.setattr(manifest, "MANIFEST_PATH", path)
    return path


def url_entry(name, url, file, **extra):
    return {
        "name": name,
        "description": f"test {name}",
        "source": {"url": url},
        "file": file,
        "licence": "MIT",
        "needed_by": ["ground/test"],
        **extra,
    }


# ---------------------------------------------------------------------------------- URL entries


def test_fetch_url_entry_then_verify(server, tmp_path, monkeypatch):
    data = payload(200_000, 1)
    server.files["/files/tiny.pth"] = data
    use_manifest(
        tmp_path,
        monkeypatch,
        [
            url_entry("tiny", f"{server.url}/files/tiny.pth", "tiny.pth", size=len(data), sha256=sha(data)),
        ],
    )
    out = fetch("tiny", dest=tmp_path / "dest")
    assert out == tmp_path / "dest" / "tiny.pth"
    assert out.read_bytes() == data
    assert not (tmp_path / "dest" / "tiny.pth.part").exists()
    status = verify("tiny", out)
    assert status.ok and status.state == "found" and status.checked == ("size", "sha256")
    assert status.size == len(data)
    # in place and matching: a second fetch does not download again
    n = len(server.requests)
    assert fetch("tiny", dest=tmp_path / "dest") == out
    assert len(server.requests) == n


def test_default_dest_is_weights_dir_and_base_url_is_a_mirror(server, tmp_path, monkeypatch):
    data = payload(5_000, 2)
    server.files["/mirror/tiny.pth"] = data
    use_manifest(
        tmp_path,
        monkeypatch,
        [
            url_entry("tiny", "https://unreachable.invalid/some/folder/tiny.pth", "tiny.pth", sha256=sha(data)),
        ],
    )
    out = fetch("tiny", base_url=f"{server.url}/mirror/")
    assert out == tmp_path / "weights" / "tiny.pth" and out.read_bytes() == data
    assert locate("tiny") == out


def test_truncated_transfer_keeps_part_and_resumes_with_range(server, tmp_path, monkeypatch):
    data = payload(300_001, 3)
    server.files["/files/big.pth"] = data
    server.truncate.add("/files/big.pth")
    use_manifest(
        tmp_path,
        monkeypatch,
        [
            url_entry("big", f"{server.url}/files/big.pth", "big.pth", size=len(data), sha256=sha(data)),
        ],
    )
    dest = tmp_path / "dest"
    with pytest.raises(OSError, match="big.pth"):
        fetch("big", dest=dest)
    part = dest / "big.pth.part"
    assert not (dest / "big.pth").exists()
    assert part.is_file()
    partial = part.stat().st_size
    assert 0 < partial < len(data)
    assert part.read_bytes() == data[:partial]
    assert locate("big", dest / "big.pth") is None

    server.truncate.clear()
    out = fetch("big", dest=dest)
    assert server.requests[-1] == ("/files/big.pth", f"bytes={partial}-")
    assert out.read_bytes() == data
    assert not part.exists()
    assert verify("big", out).ok


def test_complete_part_is_finished_after_416(server, tmp_path, monkeypatch):
    data = payload(10_000, 4)
    server.files["/files/done.pth"] = data
    use_manifest(
        tmp_path,
        monkeypatch,
        [
            url_entry("done", f"{server.url}/files/done.pth", "done.pth", sha256=sha(data)),
        ],
    )
    (tmp_path / "dest").mkdir()
    (tmp_path / "dest" / "done.pth.part").write_bytes(data)
    out = fetch("done", dest=tmp_path / "dest")
    assert server.requests[-1] == ("/files/done.pth", f"bytes={len(data)}-")
    assert out.read_bytes() == data


def test_corrupted_download_is_deleted_and_named(server, tmp_path, monkeypatch):
    good = payload(50_000, 5)
    bad = bytearray(good)
    bad[1234] ^= 0xFF
    bad = bytes(bad)
    server.files["/files/c.pth"] = bad
    use_manifest(
        tmp_path,
        monkeypatch,
        [
            url_entry("corrupt", f"{server.url}/files/c.pth", "c.pth", size=len(good), sha256=sha(good)),
        ],
    )
    dest = tmp_path / "dest"
    with pytest.raises(ValueError) as err:
        fetch("corrupt", dest=dest)
    message = str(err.value)
    assert "c.pth" in message and sha(good) in message and sha(bad) in message
    assert not (dest / "c.pth").exists() and not (dest / "c.pth.part").exists()


def test_wrong_size_download_is_deleted(server, tmp_path, monkeypatch):
    data = payload(1_000, 6)
    server.files["/files/s.pth"] = data
    use_manifest(
        tmp_path,
        monkeypatch,
        [
            url_entry("sized", f"{server.url}/files/s.pth", "s.pth", size=999),
        ],
    )
    with pytest.raises(ValueError, match=r"s\.pth.*999.*1000"):
        fetch("sized", dest=tmp_path / "dest")
    assert list((tmp_path / "dest").iterdir()) == []


def test_http_error_names_the_file(server, tmp_path, monkeypatch):
    use_manifest(tmp_path, monkeypatch, [url_entry("gone", f"{server.url}/nothing.pth", "gone.pth")])
    with pytest.raises(OSError, match="gone.pth.*404"):
        fetch("gone", dest=tmp_path / "dest")
    assert not (tmp_path / "dest" / "gone.pth").exists()


def test_manual_entry_quotes_its_instructions(tmp_path, monkeypatch):
    use_manifest(
        tmp_path,
        monkeypatch,
        [
            {
                "name": "hand",
                "description": "x",
                "file": "hand.pth.tar",
                "licence": "MIT",
                "needed_by": ["order/x"],
                "source": {"url": None, "manual": "Download hand.pth.tar from the project README."},
            }
        ],
    )
    with pytest.raises(ManualDownloadRequired, match="Download hand.pth.tar from the project README."):
        fetch("hand", dest=tmp_path / "dest")


# ----------------------------------------------------------------------------- Hugging Face entries


HF_FILES = {"config.json": b'{"hidden": 4}', "sub/weights.bin": payload(70_000, 7)}


def hf_entry(name="tinyhf", files=tuple(HF_FILES), file="tiny-model", **extra):
    return {
        "name": name,
        "description": "test hf",
        "file": file,
        "licence": "Apache-2.0",
        "needed_by": ["complete/test"],
        "source": {"hf_repo": "org/tiny-model", "hf_revision": "v1", "hf_files": list(files)},
        **extra,
    }


def test_fetch_hf_folder_entry_through_base_url(server, tmp_path, monkeypatch):
    for f, data in HF_FILES.items():
        server.files[f"/org/tiny-model/resolve/v1/{f}"] = data
    weights_bin = HF_FILES["sub/weights.bin"]
    use_manifest(
        tmp_path,
        monkeypatch,
        [hf_entry(size={"sub/weights.bin": len(weights_bin)}, sha256={"sub/weights.bin": sha(weights_bin)})],
    )
    out = fetch("tinyhf", dest=tmp_path / "weights", base_url=server.url)
    assert out == tmp_path / "weights" / "tiny-model"
    for f, data in HF_FILES.items():
        assert (out / f).read_bytes() == data
    assert sorted(p for p, _ in server.requests) == sorted(f"/org/tiny-model/resolve/v1/{f}" for f in HF_FILES)
    status = verify("tinyhf")
    assert status.ok and status.path == out and status.checked == ("size", "sha256")
    assert locate("tinyhf") == out

    # a folder missing one file is not found, and verify says which
    (out / "config.json").unlink()
    assert locate("tinyhf") is None
    status = verify("tinyhf", out)
    assert status.state == "missing" and status.file.endswith("config.json")


def test_fetch_hf_single_file_entry_through_hf_endpoint(server, tmp_path, monkeypatch):
    data = payload(3_000, 8)
    server.files["/org/tiny-model/resolve/v1/one.pth"] = data
    use_manifest(tmp_path, monkeypatch, [hf_entry(name="one", files=["one.pth"], file="one.pth", sha256=sha(data))])
    monkeypatch.setenv("HF_ENDPOINT", server.url)
    out = fetch("one")
    assert out == tmp_path / "weights" / "one.pth" and out.read_bytes() == data


def make_hf_cache(root: Path, files: dict[str, bytes], revision="v1", commit="0123456789abcdef" * 2 + "01234567"):
    repo = root / "models--org--tiny-model"
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / revision).write_text(commit)
    snap = repo / "snapshots" / commit
    for f, data in files.items():
        (snap / f).parent.mkdir(parents=True, exist_ok=True)
        (snap / f).write_bytes(data)
    return snap


def test_locate_finds_hf_cache_only_when_complete(tmp_path, monkeypatch):
    use_manifest(tmp_path, monkeypatch, [hf_entry(), hf_entry(name="one", files=["config.json"], file="config.json")])
    cache = tmp_path / "hf_cache"
    snap = make_hf_cache(cache, {"config.json": HF_FILES["config.json"]})
    assert locate("tinyhf") is None  # sub/weights.bin not cached
    assert locate("one") == snap / "config.json"
    make_hf_cache(cache, HF_FILES)
    assert locate("tinyhf") == snap
    assert verify("tinyhf").ok
    # the weights folder comes before the cache
    mine = tmp_path / "weights" / "tiny-model"
    for f, data in HF_FILES.items():
        (mine / f).parent.mkdir(parents=True, exist_ok=True)
        (mine / f).write_bytes(data)
    assert locate("tinyhf") == mine


# --------------------------------------------------------------------------------- locate/resolve


def test_locate_and_resolve_order(tmp_path, monkeypatch):
    use_manifest(tmp_path, monkeypatch, [url_entry("sam_test", "http://127.0.0.1:9/x.pth", "sam_test.pth")])
    in_dir = tmp_path / "weights" / "sam_test.pth"
    in_dir.parent.mkdir(parents=True)
    in_dir.write_bytes(b"a")
    configured = tmp_path / "elsewhere" / "mine.pth"
    configured.parent.mkdir()
    configured.write_bytes(b"b")

    assert weights_dir() == tmp_path / "weights"
    assert locate("sam_test", configured) == configured  # configured wins
    assert resolve("sam_test", str(configured), "x.checkpoint") == configured
    assert locate("sam_test") == in_dir  # then $AMODAL_WEIGHTS
    assert resolve("sam_test") == in_dir

    # a configured path that does not exist is not replaced by another file
    gone = tmp_path / "elsewhere" / "gone.pth"
    assert locate("sam_test", gone) is None
    with pytest.raises(MissingCheckpoint) as err:
        resolve("sam_test", gone)
    assert err.value.path == str(gone) and "set models.paths.sam_test to the file" in str(err.value)
    with pytest.raises(MissingCheckpoint) as err:  # another setting, when a caller names one
        resolve("sam_test", gone, config_key="complete.diffusers.model")
    assert "set complete.diffusers.model to the file" in str(err.value)

    in_dir.unlink()
    assert locate("sam_test") is None
    with pytest.raises(MissingCheckpoint) as err:
        resolve("sam_test")
    assert isinstance(err.value, FileNotFoundError)
    assert "sam_test.pth" in str(err.value)
    assert "`amodal weights fetch sam_test`" in str(err.value) and "models.paths.sam_test" in str(err.value)
    assert err.value.weights_name == "sam_test" and err.value.path == str(in_dir)

    with pytest.raises(KeyError, match="sam_test"):
        locate("no_such_weights")


def test_weights_dir_default(tmp_path, monkeypatch):
    monkeypatch.delenv("AMODAL_WEIGHTS")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert weights_dir() == tmp_path / "home" / ".cache" / "amodal" / "weights"


def test_verify_states(tmp_path, monkeypatch):
    data = b"0123456789"
    use_manifest(
        tmp_path,
        monkeypatch,
        [
            url_entry("v", "http://127.0.0.1:9/v.pth", "v.pth", size=len(data), sha256=sha(data)),
            url_entry("free", "http://127.0.0.1:9/f.pth", "f.pth"),
        ],
    )
    f = tmp_path / "v.pth"
    assert verify("v", f).state == "missing"
    assert verify("v").state == "missing"
    f.write_bytes(b"0123456780")
    status = verify("v", f)
    assert status.state == "wrong sha256" and status.expected == sha(data) and status.found == sha(b"0123456780")
    skipped = verify("v", f, check_sha256=False)
    assert skipped.ok and skipped.checked == ("size",)
    f.write_bytes(b"short")
    status = verify("v", f)
    assert (status.state, status.expected, status.found) == ("wrong size", 10, 5)
    f.write_bytes(data)
    assert verify("v", f).ok
    (tmp_path / "f.pth").write_bytes(b"x")
    free = verify("free", tmp_path / "f.pth")
    assert free.ok and free.checked == ()


def test_list_rows(tmp_path, monkeypatch):
    use_manifest(
        tmp_path,
        monkeypatch,
        [
            url_entry("a", "http://127.0.0.1:9/a.pth", "a.pth", size=1234),
            url_entry("b", "http://127.0.0.1:9/b.pth", "b.pth"),
        ],
    )
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "b.pth").write_bytes(b"xyz")
    rows = list_rows()
    assert [(r["name"], r["needed_by"], r["path"], r["size"]) for r in rows] == [
        ("a", "ground/test", "missing", 1234),
        ("b", "ground/test", str(tmp_path / "weights" / "b.pth"), 3),
    ]
    table = format_rows(rows).splitlines()
    assert table[0].split() == ["name", "needed_by", "path", "size"] and "missing" in table[1]


def test_bad_manifest_is_rejected(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump({"weights": [url_entry("x", "http://h/x", "x.pth", needed_by=[])]}))
    with pytest.raises(ValueError, match="needed_by"):
        load_manifest(path)
    path.write_text(yaml.safe_dump({"weights": [{**url_entry("x", "http://h/x", "x.pth"), "licence": ""}]}))
    with pytest.raises(ValueError, match="licence"):
        load_manifest(path)


# ------------------------------------------------------------------------------- shipped manifest


def test_shipped_manifest():
    entries = load_manifest()
    expected = {
        "sam_vit_h",
        "sam_vit_l",
        "sam_vit_b",
        "groundingdino_swint_ogc",
        "groundingdino_swinb",
        "bert_base_uncased",
        "clip_vit_b32_openai",
        "sd2_inpainting",
        "ram_plus_swin_large_14m",
        "instaorder_od",
    }
    assert expected <= set(entries)
    for name, e in entries.items():
        assert e.name == name and e.licence and e.needed_by and e.file
        assert e.url or e.hf_repo or e.manual, name
        assert all("/" in n for n in e.needed_by)
    # raw yaml, independent of the loader: every entry names a source
    raw = yaml.safe_load(manifest.MANIFEST_PATH.read_text())["weights"]
    for item in raw:
        assert item["name"] and item["licence"] and item["needed_by"]
        assert item["source"].get("url") or item["source"].get("hf_repo") or item["source"].get("manual")
    clip = entries["clip_vit_b32_openai"]
    assert clip.sha256 == clip.url.split("/")[-2]
    assert entries["sam_vit_h"].url.endswith("/segment_anything/sam_vit_h_4b8939.pth")
    assert entries["sd2_inpainting"].is_folder and len(entries["sd2_inpainting"].hf_files) == 12
    assert not entries["ram_plus_swin_large_14m"].is_folder
    insta = entries["instaorder_od"]
    assert insta.kind == "manual" and "POSTECH-CVLab/InstaOrder" in insta.manual
    assert [n for n, e in entries.items() if "tag/clip_vocab" in e.needed_by] == ["clip_vit_b32_openai"]
    rows = list_rows()  # empty weights folder and cache: everything missing, nothing fetched
    assert len(rows) == len(entries) and all(r["path"] == "missing" for r in rows)
