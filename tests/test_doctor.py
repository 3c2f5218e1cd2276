"""What an experiment needs: `amodal doctor`, and the workflow refusing to start without it."""

import subprocess

import yaml

from amodal.cli.main import main as cli
from amodal.plan.preflight import weights_needed
from amodal.config.schema import load_experiment
from workflow_helpers import command, environment, make_workdir

PAPER_WEIGHTS = {
    "groundingdino_swint_ogc",
    "bert_base_uncased",
    "sam_vit_h",
    "clip_vit_b32_openai",
    "sd2_inpainting",
    "ram_plus_swin_large_14m",
    "instaorder_od",
}


def test_the_paper_experiment_needs_seven_checkpoints_and_the_classical_one_none():
    needs = weights_needed(load_experiment("paper")[1])
    assert set(needs) == PAPER_WEIGHTS
    assert needs["sam_vit_h"] == ["ground/grounded_sam", "segment/grounded_sam"]
    assert needs["sd2_inpainting"] == ["complete/diffusers"]
    assert needs["ram_plus_swin_large_14m"] == ["tag/ram_plus"]
    assert needs["instaorder_od"] == ["order/instaorder"]
    # the seed's LISA grounding: the same checkpoints less those only grounded_sam's ground used
    assert weights_needed(load_experiment("paper_lisa")[1])["sam_vit_h"] == ["segment/grounded_sam"]
    assert weights_needed(load_experiment("baseline_classical")[1]) == {}


def test_doctor_names_each_missing_file_and_its_fetch_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AMODAL_WEIGHTS", str(tmp_path / "empty"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert cli(["doctor", "--experiment", "paper"]) == 1
    out = capsys.readouterr().out
    for name in PAPER_WEIGHTS:
        assert f"amodal weights fetch {name}" in out
    assert str(tmp_path / "empty" / "sam_vit_h_4b8939.pth") in out


def test_doctor_finds_checkpoints_at_configured_paths(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("AMODAL_WEIGHTS", str(tmp_path / "empty"))
    paths = {}
    for name in PAPER_WEIGHTS:
        (tmp_path / name).mkdir()
        paths[name] = str(tmp_path / name)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"models": {"paths": paths}}))
    assert cli(["doctor", "--experiment", "paper", "--config", str(tmp_path / "config.yaml")]) == 0
    assert "MISSING" not in capsys.readouterr().out


def test_the_workflow_stops_before_any_job_when_a_checkpoint_is_missing(tmp_path):
    workdir = make_workdir(tmp_path / "run", n_scenes=2)
    config = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
    config["experiments"] = ["paper"]
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    env = dict(environment(), AMODAL_WEIGHTS=str(tmp_path / "empty"), HF_HOME=str(tmp_path / "hf"))
    done = subprocess.run(command(workdir, "--dry-run"), capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode != 0
    message = done.stdout + done.stderr
    assert "checkpoints are missing" in message
    assert "sam_vit_h (for ground/grounded_sam, segment/grounded_sam of experiment 'paper') not found" in message
    assert "amodal weights fetch sd2_inpainting" in message
    assert not (workdir / "results" / "shards").exists()


def test_the_device_line_says_when_a_configured_gpu_is_not_there(monkeypatch):
    import torch

    from amodal.plan.preflight import device_line

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    assert device_line({"device": "cuda"}).startswith("cuda (configured) but this machine's torch sees no such GPU")
    assert device_line({"device": "cuda:1"}).startswith("cuda:1 (configured) but")
    assert device_line({}) == "cpu (auto)" and device_line({"device": "cpu"}) == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert device_line({"device": "cuda"}) == "cuda" and device_line({}) == "cuda (auto)"
    assert "no such GPU" in device_line({"device": "cuda:1"})  # one GPU: index 0 only


def test_a_device_name_torch_does_not_know_is_refused_before_any_job():
    import pytest

    from amodal.config.schema import validated

    datasets = {"bench": {"format": "synthetic", "n_scenes": 1}}
    for good in ("auto", "cpu", "cuda", "cuda:3"):
        config = validated({"datasets": datasets, "models": {"device": good}}, "config.schema.yaml")
        assert config["models"]["device"] == good
    for bad in ("gpu", "cuda:", "CUDA", "cuda:x"):
        with pytest.raises(ValueError, match="models/device: .* does not match"):
            validated({"datasets": datasets, "models": {"device": bad}}, "config.schema.yaml")
