"""`amodal weights list|fetch|verify` end to end against a mirror on loopback."""

import functools
import http.server
import threading

import pytest

from amodal.cli.main import main as cli

PAYLOAD = bytes(range(256)) * 40  # 10,240 bytes standing in for sam_vit_b_01ec64.pth


@pytest.fixture
def mirror(tmp_path):
    served = tmp_path / "mirror"
    served.mkdir()
    (served / "sam_vit_b_01ec64.pth").write_bytes(PAYLOAD)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_fetch_then_verify_and_list_find_the_file(tmp_path, mirror, monkeypatch, capsys):
    weights = tmp_path / "weights"
    monkeypatch.setenv("AMODAL_WEIGHTS", str(weights))
    assert cli(["weights", "verify", "sam_vit_b"]) == 1
    assert "sam_vit_b: missing" in capsys.readouterr().out
    assert cli(["weights", "fetch", "sam_vit_b", "--base-url", mirror]) == 0
    assert (weights / "sam_vit_b_01ec64.pth").read_bytes() == PAYLOAD
    capsys.readouterr()
    assert cli(["weights", "verify", "sam_vit_b"]) == 0
    assert cli(["weights", "list", "sam_vit_b"]) == 0
    listing = capsys.readouterr().out
    assert str(weights / "sam_vit_b_01ec64.pth") in listing and "10.2 KB" in listing


def test_fetching_what_the_mirror_lacks_or_a_manual_entry_fails_with_a_reason(tmp_path, mirror, monkeypatch, capsys):
    monkeypatch.setenv("AMODAL_WEIGHTS", str(tmp_path / "weights"))
    assert cli(["weights", "fetch", "sam_vit_l", "instaorder_od", "--base-url", mirror]) == 1
    err = capsys.readouterr().err
    assert "sam_vit_l:" in err and "404" in err
    assert "instaorder_od:" in err and "InstaOrder" in err
    assert not (tmp_path / "weights" / "sam_vit_l_0b3195.pth").exists()
