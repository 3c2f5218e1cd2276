import pytest

from amodal.errors import InstanceError
from amodal.imaging import io
from amodal.run.isolation import run_stage


def outputs(tmp_path):
    return {
        "mask": tmp_path / "out" / "mask.png",
        "record": tmp_path / "out" / "record.json",
        "stack": tmp_path / "out" / "stack.npz",
        "folder": tmp_path / "out" / "iterations",
    }


def test_an_instance_error_writes_failed_placeholders(tmp_path):
    def body():
        raise InstanceError("cat_1", "images/cat.jpg", "image cannot be read")

    assert run_stage({}, outputs(tmp_path), body) == "failed"
    record = io.read_json(tmp_path / "out" / "record.json")
    assert record["status"] == "failed"
    assert "cat_1" in record["reason"] and "images/cat.jpg" in record["reason"]
    assert io.read_mask(tmp_path / "out" / "mask.png").shape == (1, 1)
    assert len(io.read_segments(tmp_path / "out" / "stack.npz")) == 0
    assert (tmp_path / "out" / "iterations").is_dir()


def test_a_failed_upstream_record_skips_the_body(tmp_path):
    upstream = tmp_path / "ground.json"
    io.write_json(upstream, {"status": "failed", "reason": "instance 'x': broken (a.png)"})
    called = []
    status = run_stage(
        {"ground": upstream},
        outputs(tmp_path),
        lambda: called.append(1),
        failed_record=lambda reason: {"status": "failed", "reason": reason, "kind": "evaluate"},
    )
    assert status == "failed" and not called
    record = io.read_json(tmp_path / "out" / "record.json")
    assert record == {"status": "failed", "reason": "instance 'x': broken (a.png)", "kind": "evaluate"}


def test_ok_upstream_runs_the_body_and_bugs_are_not_swallowed(tmp_path):
    upstream = tmp_path / "ground.json"
    io.write_json(upstream, {"status": "ok"})
    called = []
    assert run_stage({"ground": upstream}, outputs(tmp_path), lambda: called.append(1)) == "ok"
    assert called == [1]
    with pytest.raises(ZeroDivisionError):
        run_stage({"ground": upstream}, outputs(tmp_path), lambda: 1 / 0)
