"""Queries a user may type, through the model stages with tiny random-weight models: empty,
blank, very long (beyond GroundingDINO's 256 text tokens and CLIP's 77), non-ASCII, control
characters, and one that matches nothing. Each gives its instance a status; none stops a job."""

import json

import numpy as np
import pytest
import yaml

from amodal.imaging import io
from amodal.stages.ground import run_ground
from amodal.stages.prompt import run_prompt
from amodal.models.cache import ModelCache
from amodal.stages.segment import detect_and_segment
from tiny_models import write_tiny_checkpoints
from workflow_helpers import ROOT

IMAGE = ROOT / "data" / "seed_examples" / "cat-7875506_640_cat.jpg"
# 302 BERT tokens with [CLS] and [SEP]: the model reads the first 256, all "cat"; "dog" lies beyond
LONG = "cat " * 260 + "dog " * 40


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    return ModelCache(write_tiny_checkpoints(tmp_path_factory.mktemp("weights")))


def ground_spec(box_threshold=0.0):
    spec = yaml.safe_load((ROOT / "config" / "experiments" / "paper.yaml").read_text())["ground"]
    spec["grounded_sam"].update(sam="sam_vit_b", box_threshold=box_threshold, text_threshold=0.0)
    return spec


@pytest.mark.parametrize("query", ["", "   \t"])
def test_an_empty_query_is_an_invalid_query_without_calling_the_detector(models, query):
    mask, record = run_ground(ground_spec(), IMAGE, "", "inst", query=query, models=models)
    assert record["status"] == "invalid_query" and record["reason"] == "the query is empty"
    assert record["detections"] == 0 and not mask.any()


@pytest.mark.parametrize("query", [LONG, "猫 café naïve", "a\x00b\x07c", "the cat. the dog."])
def test_long_non_ascii_and_odd_queries_reach_the_detector(models, query):
    spec = ground_spec()
    assert (spec["min_score"], spec["min_area_fraction"]) == (0.3, 0.01)  # the paper's validity test
    mask, record = run_ground(spec, IMAGE, "", "inst", query=query, models=models)
    assert record["detections"] == 12  # box threshold 0: every one of the tiny detector's 12 boxes kept
    assert mask.shape == io.read_rgb(IMAGE).shape[:2]
    # the random detector's best box scores near 1 and SAM's mask covers far more than 1 % of the
    # image, so the query passes the validity test: ok, whatever its characters
    assert (record["status"], record["reason"]) == ("ok", "")
    assert record["score"] >= 0.3 and record["area"] == mask.sum() >= 0.01 * mask.size
    if query == LONG:  # text threshold 0: every token the model read is in the phrase, none beyond
        assert "cat" in record["phrase"].split() and "dog" not in record["phrase"]


def test_a_query_that_matches_nothing_is_an_invalid_query_with_score_zero(models):
    mask, record = run_ground(ground_spec(box_threshold=1.0), IMAGE, "", "inst", query="zebra", models=models)
    assert (record["status"], record["score"], record["detections"]) == ("invalid_query", 0.0, 0)
    # box threshold 1: no box is kept, so the score is 0, below the paper's min_score 0.3
    assert record["reason"] == "grounding score 0.000 is below 0.3" and not mask.any()


def test_a_long_label_among_the_tags_is_segmented(models):
    image = io.read_rgb(IMAGE)
    params = dict(ground_spec()["grounded_sam"], max_boxes=None)
    masks, records, caption = detect_and_segment(image, ["dog", LONG, " ", ""], params, models)
    assert caption == f"dog. {LONG.strip()}." and len(records) == masks.shape[0] == 12


@pytest.mark.parametrize("query", ["", LONG, "猫 café naïve"])
def test_the_clip_prompt_takes_any_query(models, tmp_path, query):
    visible = np.zeros(io.read_rgb(IMAGE).shape[:2], bool)
    visible[100:200, 100:200] = True
    io.write_mask(tmp_path / "visible.png", visible)
    (tmp_path / "tags.json").write_text(json.dumps({"tags": ["cat", "background"]}))
    record = run_prompt(
        {"backend": "clip", "clip": {"model": "clip_vit_b32_openai", "template": "a photo of a {}"}},
        query,
        "",
        image_path=IMAGE,
        visible_path=tmp_path / "visible.png",
        tags_path=tmp_path / "tags.json",
        instance="inst",
        models=models,
    )
    # the query (without an article; "" stays "") is a candidate after the tags, however long or
    # foreign (CLIP's tokenizer cuts a text at 77 tokens), and the most probable candidate wins
    name = query.strip()
    assert list(record["candidates"]) == ["cat", "background", name]
    assert record["backend"] == "clip"
    assert record["prompt"] == max(record["candidates"], key=record["candidates"].get)
    assert sum(record["candidates"].values()) == pytest.approx(1.0, abs=1e-6)
