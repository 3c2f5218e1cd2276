"""Every metric of the paper through the real workflow on the CPU: two benchmark scenes (ground
truth) completed by the weight-free classical pipeline, scored with the tiny random-weight CLIP,
a random LPIPS backbone and, for feature similarity, a tiny random-weight DINOv2 (the CLIP
encoder's feature similarity is checked against torchmetrics in test_metrics_models). The CLIP
score of each delivered file is recomputed here with torchmetrics' CLIPScore; the classical path
copies the visible pixels, so its visible-part metrics are known by hand (SSIM 1, LPIPS 0,
feature similarity 1) and the tables must say so."""

import json

import numpy as np
import pytest
import yaml

from amodal.imaging import io
from amodal.metrics.definitions import METRICS
from metric_references import clip_score, clip_score_metric
from workflow_helpers import run_with_tiny_models, stage_folders

EXPERIMENT = {
    "description": "Oracle grounding, geometric order, classical completion; every metric with tiny models.",
    "ground": {"backend": "oracle"},
    "tag": {"backend": "oracle"},
    "segment": {"backend": "oracle"},
    "order": {"backend": "geometric"},
    "prompt": {"backend": "query"},
    "complete": {"backend": "classical"},
    "evaluate": {"lpips": {"size": 64}, "feature_similarity": {"model": "dinov2_base"}},
}
SCENES = ["scene_0000", "scene_0001"]
BG = (124, 116, 104)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("metrics")
    (workdir / "experiments").mkdir()
    (workdir / "experiments" / "tiny_metrics.yaml").write_text(yaml.safe_dump(EXPERIMENT))
    return run_with_tiny_models(workdir, "tiny_metrics", workdir / "experiments", [], scene_seed=5)


def metrics_of(run, scene):
    return io.read_json(run / "results" / "tiny_metrics" / "bench" / scene / "metrics.json")


def squared_over_background(rgba):
    """The RGBA over BG, rounded, centred on a square of BG."""
    alpha = rgba[..., 3:4] / 255.0
    over = np.rint(rgba[..., :3] * alpha + np.array(BG) * (1 - alpha)).astype(np.uint8)
    h, w = over.shape[:2]
    side = max(h, w)
    squared = np.empty((side, side, 3), np.uint8)
    squared[...] = BG
    squared[(side - h) // 2 : (side - h) // 2 + h, (side - w) // 2 : (side - w) // 2 + w] = over
    return squared


@pytest.mark.parametrize("scene", SCENES)
def test_every_metric_has_a_value_and_the_clip_score_is_torchmetrics(run, scene):
    record = metrics_of(run, scene)
    assert record["status"] == "ok" and record["has_ground_truth"]
    for name in METRICS:
        value = record["metrics"][name]
        assert isinstance(value, float), (name, value)  # a number: not None, not missing
    config = yaml.safe_load((run / "config" / "config.yaml").read_text())
    rgba = io.read_rgba(run / "results" / "tiny_metrics" / "bench" / scene / "amodal.png")
    query = json.loads((run / "results" / "datasets" / "bench" / scene / "scene.json").read_text())["query"]
    text = "a photo of a " + query.removeprefix("the ")
    assert record["clip_score"]["text"] == text
    models = config["models"]
    metric = clip_score_metric(
        models["paths"]["clip_vit_b32_openai"], models["architectures"]["clip_vit_b32_openai"]["config"]
    )
    assert record["metrics"]["clip_score"] == pytest.approx(
        clip_score(metric, squared_over_background(rgba), text), rel=1e-5, abs=1e-5
    )
    # the classical completion copies every visible pixel: the visible-part metrics are exact
    assert record["visible_consistency"]["changed_pixels"] == 0
    assert record["metrics"]["visible_ssim"] == pytest.approx(1.0, abs=1e-9)
    assert record["metrics"]["lpips"] == pytest.approx(0.0, abs=1e-6)
    assert record["metrics"]["feature_similarity"] == pytest.approx(1.0, abs=1e-5)
    assert 0 < record["metrics"]["hidden_lpips"] < 2  # the hidden part is inpainted, never the truth
    assert record["models"]["lpips"] == {
        "weights": "lpips_alex",
        "checkpoint": "alexnet.pth",
        "backbone": "alex",
        "size": 64,
    }
    assert record["models"]["clip_score"]["input_size"] == 32
    assert record["models"]["feature_similarity"] == {
        "weights": "dinov2_base",
        "checkpoint": "dinov2",
        "backbone": "dinov2 ViT (width 32, 2 layers, patch 14)",
        "input_size": 56,
    }


def test_the_networks_are_loaded_once_per_evaluate_job(run):
    folders = stage_folders(run, "tiny_metrics", "bench", SCENES[0])
    (log,) = (run / "results" / "logs" / "stages" / "bench" / "evaluate" / folders["evaluate"].name).glob("*.log")
    text = log.read_text()
    assert text.count("loaded clip clip_vit_b32_openai") == 1 and text.count("loaded lpips lpips_alex") == 1
    assert text.count("loaded features dinov2_base") == 1


def test_the_tables_give_the_model_metrics_their_definitions_and_say_what_is_by_construction(run):
    table = (run / "results" / "tables" / "bench.md").read_text()
    header = next(line for line in table.splitlines() if line.startswith("| experiment"))
    row = next(line for line in table.splitlines() if line.startswith("| tiny_metrics"))
    cells = dict(zip([c.strip() for c in header.strip("|").split("|")], [c.strip() for c in row.strip("|").split("|")]))
    assert cells["visible_ssim"] == "1.000 (copied)"
    assert cells["lpips"] == "0.000" and cells["feature_similarity"] == "1.000"
    for name in ("clip_score", "hidden_lpips"):
        float(cells[name])
    assert "Missing metrics" not in table
    assert "weights clip_vit_b32_openai (checkpoint clip.pt, input size 32)" in table
    assert "backbone weights lpips_alex (checkpoint alexnet.pth, backbone alex)" in table
    assert "resized to 64 x 64 px" in table
    assert "DINOv2 ViT-B/14" in table and "weights dinov2_base (checkpoint dinov2, backbone dinov2 ViT" in table
    summary = io.read_json(run / "results" / "tiny_metrics" / "bench" / "summary.json")
    assert summary["visible_copied"] is True and summary["evaluate"]["lpips"]["size"] == 64
    own = (run / "results" / "tiny_metrics" / "bench" / "table.md").read_text()
    assert "| visible_ssim | 1.000 (by construction: the output copies every visible pixel of the input)" in own
