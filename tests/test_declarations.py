"""The stage declarations are the one place a stage's contract lives: the schema, the weights
manifest, running and the preflight checks follow them. Expected values are written by hand or
read from files written by hand (the weights manifest)."""

import dataclasses
import json

import pytest
import yaml

from amodal.config.schema import validated
from amodal.errors import InstanceError
from amodal import declarations
from amodal.declarations import STAGES, resolve
from amodal.plan.keys import device_class, planned_stages
from amodal.plan.preflight import missing_settings, weights_needed
from amodal.run.job import run_stage_job


def test_every_function_a_declaration_names_exists():
    named = []
    for stage in STAGES.values():
        named += [stage.runs, stage.failed_record]
        for backend in stage.backends.values():
            named += [backend.runs, backend.job_inputs, backend.item_fields, backend.settings_check, backend.doctor_row]
    named = [name for name in named if name]
    assert len(named) == 16  # 8 stage bodies, evaluate's failed record, lisa's 2 hooks, external's 5
    for name in named:
        assert callable(resolve(name)), name


def test_the_schema_accepts_exactly_the_declared_backends():
    # the schema file lists no backends; they come from the declarations
    assert validated({"order": {"backend": "depth"}}, "experiment.schema.yaml")["order"]["backend"] == "depth"
    with pytest.raises(ValueError, match=r"order/backend: 'deep' is not one of \['geometric', 'instaorder', "):
        validated({"order": {"backend": "deep"}}, "experiment.schema.yaml")
    with pytest.raises(ValueError, match="complete/backend"):
        validated({"complete": {"backend": "pix2gestalt"}}, "experiment.schema.yaml")


def test_the_weights_manifest_names_the_backends_that_load_each_checkpoint():
    # models/weights.yaml is written by hand: each entry's needed_by lists "stage/backend"s. A
    # declared backend loading a manifest checkpoint by default must be listed there, and each
    # listed backend must exist.
    from importlib.resources import files

    manifest = {}
    for package in ("amodal.models", "amodal.models.weights"):
        try:
            text = (files(package) / "weights.yaml").read_text()
        except (FileNotFoundError, ModuleNotFoundError, NotADirectoryError, TypeError):
            continue
        manifest = {entry["name"]: entry for entry in yaml.safe_load(text)["weights"]}
    assert manifest
    declared = {f"{stage}/{backend}" for stage in STAGES for backend in STAGES[stage].backends}
    metrics = {f"evaluate/{m}" for m in STAGES["evaluate"].optional_metrics}
    for entry in manifest.values():
        assert set(entry.get("needed_by", [])) <= declared | metrics, entry["name"]
    for stage, declared_stage in STAGES.items():
        for name, backend in declared_stage.backends.items():
            if not backend.weights:
                continue
            spec = validated({stage: {"backend": name}}, "experiment.schema.yaml")
            for weights in declared_stage.weights_of(spec[stage]):
                if weights in manifest:
                    assert f"{stage}/{name}" in manifest[weights]["needed_by"], (stage, name, weights)


def test_the_paper_loads_the_checkpoints_of_its_declared_backends():
    from amodal.config.schema import load_experiment

    _, paper = load_experiment("paper")
    needs = weights_needed(paper)
    # by hand from config/experiments/paper.yaml: Grounded-SAM grounds and segments, RAM++ tags,
    # InstaOrder orders, CLIP chooses the prompt, SD-2 inpaints
    assert needs[paper["tag"]["ram_plus"]["model"]] == ["tag/ram_plus"]
    assert needs[paper["segment"]["grounded_sam"]["sam"]] == ["ground/grounded_sam", "segment/grounded_sam"]
    assert needs[paper["order"]["instaorder"]["model"]] == ["order/instaorder"]
    assert needs[paper["prompt"]["clip"]["model"]] == ["prompt/clip"]
    assert needs[paper["complete"]["diffusers"]["model"]] == ["complete/diffusers"]
    assert not any(where.startswith(("rgba/", "evaluate/")) for places in needs.values() for where in places)


def stage_with(name, **changes):
    return dict(STAGES, **{name: dataclasses.replace(STAGES[name], **changes)})


def test_a_stage_job_runs_the_declared_body_per_instance_and_a_bad_instance_fails_alone(tmp_path, monkeypatch):
    seen = []

    def body(spec, key, item, out, shared):
        seen.append((item["id"], key, shared["wallpaper"]))
        if item["id"] == "b":
            raise InstanceError("b", "b.png", "unreadable")
        (tmp_path / item["id"]).mkdir(exist_ok=True)

    monkeypatch.setattr(declarations, "fake_body", body, raising=False)
    monkeypatch.setattr(declarations, "fake_failed", lambda reason: {"status": "failed", "why": reason}, raising=False)
    stages = stage_with("tag", runs="amodal.declarations:fake_body", failed_record="amodal.declarations:fake_failed")
    items = [{"id": i, "gt": None, "query": "a cat", "reads": {}, "folder": str(tmp_path / f"out_{i}")} for i in "abc"]
    statuses = run_stage_job("tag", {"backend": "oracle"}, "oracle-1", items, {"wallpaper": "w.png"}, stages)
    assert statuses == {"a": "ok", "b": "failed", "c": "ok"}
    assert seen == [("a", "oracle-1", "w.png"), ("b", "oracle-1", "w.png"), ("c", "oracle-1", "w.png")]
    record = json.loads((tmp_path / "out_b" / "tags.json").read_text())
    assert record["why"] == "instance 'b': unreadable (b.png)"


def test_a_backend_that_runs_its_own_shard_body_gets_the_whole_shard(monkeypatch):
    calls = []
    monkeypatch.setattr(
        declarations, "fake_shard", lambda spec, key, items, shared: calls.append(items) or {"x": "ok"}, raising=False
    )
    backend = dataclasses.replace(STAGES["rgba"].backends["as_is"], runs="amodal.declarations:fake_shard")
    stages = stage_with("rgba", backends=dict(STAGES["rgba"].backends, as_is=backend))
    items = [{"id": "x"}]
    assert run_stage_job("rgba", {"backend": "as_is"}, "k", items, {}, stages) == {"x": "ok"}
    assert calls == [items]


def test_planning_follows_a_backends_upstream_and_device():
    spec = validated({"complete": {"backend": "external", "external": {"dir": "/x"}}}, "experiment.schema.yaml")
    assert planned_stages(spec) == ("ground", "complete", "rgba", "evaluate")
    assert device_class("segment", {"backend": "grounded_sam"}) == "gpu"
    assert device_class("ground", {"backend": "lisa"}) == "cpu"  # LISA runs in its own server
    cpu_sam = dataclasses.replace(STAGES["segment"].backends["grounded_sam"], device="cpu")
    stages = stage_with("segment", backends=dict(STAGES["segment"].backends, grounded_sam=cpu_sam))
    assert device_class("segment", {"backend": "grounded_sam"}, declarations=stages) == "cpu"


def test_a_backends_settings_check_runs_only_where_it_is_used(tmp_path):
    lisa = validated({"ground": {"backend": "lisa"}}, "experiment.schema.yaml")
    plain = validated({}, "experiment.schema.yaml")
    assert missing_settings({"plain": plain}, {}) == []
    (line,) = missing_settings({"plain": plain, "mine": lisa}, {})
    assert line.startswith("ground/lisa of experiment 'mine' calls the LISA app but models.lisa.url is not set")
    assert missing_settings({"mine": lisa}, {"lisa": {"url": "http://127.0.0.1:1/"}}) == []
