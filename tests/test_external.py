"""Scoring another method's saved outputs (`complete: external`): constructed RGBA files with
known rectangles and alpha, the frames they land in (worked out by hand), the failures a bad
folder gives per instance, the planning (only ground, complete, rgba, evaluate) and the cache
(each file's size and mtime in its job's parameters)."""

import json
import os
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from amodal.imaging import io
from amodal.plan.preflight import missing_settings, weights_needed
from amodal.declarations import STAGE_ORDER as STAGES
from amodal.plan.keys import FolderKeys, planned_stages
from amodal.stages.complete.external import (
    BadExternalOutput,
    ExternalOutputMissing,
    complete_external,
    external_fingerprint,
)
from amodal.imaging.frames import Region
from amodal.metrics.masks import amodal_counts
from amodal.stages.rgba import deliverable
from amodal.run.job import run_job
from amodal.config.schema import load_experiment, validated
from amodal.plan.jobs import Workplan

H, W = 20, 30  # the instance's image


def table(ids, gt=True):
    return pd.DataFrame(
        {
            "id": ids,
            "image": [f"imgs/{i}.jpg" for i in ids],
            "query": ["the cat"] * len(ids),
            "gt": [f"gt/{i}.json" if gt else "" for i in ids],
            "status": ["ok"] * len(ids),
            "message": [""] * len(ids),
        }
    )


def config(**extra):
    return {"results": "R", "wallpaper": "wall.jpg", "datasets": {"photos": {"format": "seed"}}, **extra}


def external_spec(folder, placement="image", **extra):
    return validated(
        {
            "complete": {"backend": "external", "external": {"dir": str(folder), "placement": placement, **extra}},
            "rgba": {"backend": "as_is"},
        },
        "experiment.schema.yaml",
    )


def save_rgba(path, rgba, mode="RGBA"):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(rgba, np.uint8), mode).save(path)


def files(folder, instance, placement="image"):
    return {
        "image": str(folder / f"{instance}.png"),
        "placement": str(folder / f"{instance}.json") if placement == "crop" else None,
    }


def test_an_image_sized_output_is_its_alpha_on_the_image(tmp_path):
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[5:10, 10:20] = (10, 200, 30, 255)  # rows 5..9, columns 10..19
    rgba[15, 25] = (1, 2, 3, 128)  # just above the threshold: the object's
    rgba[0, 0] = (9, 9, 9, 127)  # at the threshold: not the object's
    save_rgba(tmp_path / "cat.png", rgba)
    result, read = complete_external(external_spec(tmp_path)["complete"], files(tmp_path, "cat"), (H, W, 3), "cat")
    assert result.status == "completed" and result.region == Region(0, 0, H, W)
    expected = np.zeros((H, W), bool)
    expected[5:10, 10:20] = True
    expected[15, 25] = True
    np.testing.assert_array_equal(result.amodal, expected)
    np.testing.assert_array_equal(result.completion, rgba)  # the output, its alpha kept
    assert read["offset_xy"] == [0, 0] and read["size_hw"] == [H, W] and read["soft_alpha_pixels"] == 2
    assert read["amodal_pixels"] == 51
    # delivered exactly as it is, soft alpha included, cropped to its non-transparent pixels (rows
    # 0..15, columns 0..25); nothing of the input pasted over it, not even where our visible mask
    # lies outside the method's object (columns 5..9)
    image = np.full((H, W, 3), 77, np.uint8)
    visible = np.zeros((H, W), bool)
    visible[5:10, 5:15] = True
    out, offset = deliverable(
        image, visible, "completed", result.completion, result.amodal, result.region, {"backend": "as_is"}
    )
    assert offset == (0, 0) and out.shape == (16, 26, 4)
    np.testing.assert_array_equal(out, rgba[:16, :26])
    assert (out[5, 10] == (10, 200, 30, 255)).all() and out[5, 5, 3] == 0
    # the seed's blend puts the photo's visible pixels in and makes every pixel opaque or not
    blended, at = deliverable(
        image,
        visible,
        "completed",
        result.completion,
        result.amodal,
        result.region,
        {"backend": "blend", "erode": 1, "shrink": 0, "transition": 0},
    )
    assert at == (5, 5) and (blended[0, 0] == (77, 77, 77, 255)).all() and blended[10, 20, 3] == 255


def test_a_crop_output_lies_at_its_placement_also_past_the_image(tmp_path):
    rgba = np.zeros((8, 6, 4), np.uint8)
    rgba[2:6, 1:4] = (50, 60, 70, 255)  # crop rows 2..5, columns 1..3
    save_rgba(tmp_path / "dog.png", rgba)
    (tmp_path / "dog.json").write_text(json.dumps({"x": -4, "y": 17}))
    result, read = complete_external(
        external_spec(tmp_path, "crop")["complete"], files(tmp_path, "dog", "crop"), (H, W, 3), "dog"
    )
    # top-left (x -4, y 17), 8 rows x 6 columns: rows 17..24, columns -4..1 of the image
    assert result.region == Region(17, -4, 25, 2)
    assert read["offset_xy"] == [-4, 17] and read["placement_file"].endswith("dog.json")
    out, offset = deliverable(
        np.zeros((H, W, 3), np.uint8),
        np.zeros((H, W), bool),
        "completed",
        result.completion,
        result.amodal,
        result.region,
        {"backend": "as_is"},
    )
    # the object: image rows 19..22 (past the bottom, H = 20) and columns -3..-1 (past the left)
    assert offset == (-3, 19) and out.shape == (4, 3, 4)
    assert (out[..., 3] == 255).all() and (out[..., :3] == (50, 60, 70)).all()
    # scored where it lies: the same 4x3 object one column to the right shares 4x2 of 4x4 pixels
    truth = np.full((4, 3, 4), 255, np.uint8)
    assert amodal_counts(out, offset, truth, (-3, 19))["intersection"] == 12
    counts = amodal_counts(out, offset, truth, (-2, 19))
    assert (counts["intersection"], counts["union"]) == (8, 16)


def test_a_missing_file_is_no_output_naming_the_instance_and_the_file(tmp_path):
    with pytest.raises(ExternalOutputMissing) as caught:
        complete_external(external_spec(tmp_path)["complete"], files(tmp_path, "scene_0007"), (H, W, 3), "scene_0007")
    assert caught.value.details == {"failure": "no_output"}
    assert "'scene_0007'" in str(caught.value) and str(tmp_path / "scene_0007.png") in str(caught.value)


def rgb_without_alpha(path):
    save_rgba(path, np.zeros((H, W, 3), np.uint8), "RGB")


def wrong_size(path):
    save_rgba(path, np.full((H, W + 1, 4), 255, np.uint8))


def not_an_image(path):
    path.write_bytes(b"\x89PNG\r\n\x1a\n but then nothing of a PNG")


@pytest.mark.parametrize(
    "write,message",
    [
        (rgb_without_alpha, "no alpha channel (PIL mode RGB)"),
        (wrong_size, "is 31x20 px but the instance's image is 30x20 px"),
        (not_an_image, "cannot be read as an image"),
    ],
)
def test_an_unusable_image_file_is_bad_input_naming_it(tmp_path, write, message):
    write(tmp_path / "cat.png")
    with pytest.raises(BadExternalOutput, match=re.escape(message)) as caught:
        complete_external(external_spec(tmp_path)["complete"], files(tmp_path, "cat"), (H, W, 3), "cat")
    assert caught.value.details == {"failure": "bad_input"}
    assert "'cat'" in str(caught.value) and str(tmp_path / "cat.png") in str(caught.value)


@pytest.mark.parametrize(
    "placement,message",
    [
        (None, "placement file not found"),
        ("{not json", "cannot be read as JSON"),
        (json.dumps({"x": 1.5, "y": 2}), 'integer "x" and "y"'),
        (json.dumps({"x": 1}), 'integer "x" and "y"'),
        (json.dumps([1, 2]), 'integer "x" and "y"'),
    ],
)
def test_a_crop_without_a_usable_placement_is_bad_input_naming_the_placement_file(tmp_path, placement, message):
    save_rgba(tmp_path / "cat.png", np.full((4, 4, 4), 255, np.uint8))
    if placement is not None:
        (tmp_path / "cat.json").write_text(placement)
    with pytest.raises(BadExternalOutput, match=re.escape(message)) as caught:
        complete_external(external_spec(tmp_path, "crop")["complete"], files(tmp_path, "cat", "crop"), (H, W, 3), "cat")
    assert str(tmp_path / "cat.json") in str(caught.value)


def test_an_output_without_an_object_pixel_is_no_output(tmp_path):
    rgba = np.zeros((H, W, 4), np.uint8)
    rgba[..., 3] = 127
    save_rgba(tmp_path / "cat.png", rgba)
    with pytest.raises(ExternalOutputMissing, match="no object pixel"):
        complete_external(external_spec(tmp_path)["complete"], files(tmp_path, "cat"), (H, W, 3), "cat")


def test_the_fingerprint_follows_the_file(tmp_path):
    spec = external_spec(tmp_path, pattern="{dataset}/{instance}.png")["complete"]
    path = tmp_path / "bench" / "cat.png"
    assert external_fingerprint(spec, "bench", "cat") == {
        "image": {"path": str(path), "missing": True},
        "placement": None,
    }
    save_rgba(path, np.full((H, W, 4), 255, np.uint8))
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    first = external_fingerprint(spec, "bench", "cat")
    assert first["image"] == {"path": str(path), "size": path.stat().st_size, "mtime_ns": 1_000_000_000}
    os.utime(path, ns=(2_000_000_000, 2_000_000_000))  # the same bytes written again
    assert external_fingerprint(spec, "bench", "cat") != first


# ---------------------------------------------------------------- planning


def test_an_external_experiment_plans_ground_complete_rgba_and_evaluate_only(tmp_path):
    spec = external_spec(tmp_path)
    assert planned_stages(spec) == ("ground", "complete", "rgba", "evaluate")
    assert planned_stages(validated({}, "experiment.schema.yaml")) == STAGES
    paper = load_experiment("paper")[1]
    over_paper = validated(
        {**paper, "complete": {"backend": "external", "external": {"dir": str(tmp_path)}}}, "experiment.schema.yaml"
    )
    plan = FolderKeys({"paper": paper, "external": over_paper})
    assert list(plan.keys["external"]) == ["ground", "complete", "rgba", "evaluate"]
    assert plan.keys["external"]["ground"] == plan.keys["paper"]["ground"]  # the same visible masks
    assert plan.run("complete", plan.keys["external"]["complete"]).upstream == {"ground": plan.keys["paper"]["ground"]}
    # paper's RAM++, InstaOrder and CLIP prompt are not loaded: only grounding's checkpoints
    assert sorted(weights_needed(over_paper)) == ["bert_base_uncased", "groundingdino_swint_ogc", "sam_vit_h"]
    assert "ram_plus_swin_large_14m" in weights_needed(paper)


def test_the_workplan_reads_no_order_and_puts_each_file_into_the_job(tmp_path):
    folder = tmp_path / "outputs"
    save_rgba(folder / "photos" / "p1.png", np.full((H, W, 4), 255, np.uint8))
    spec = external_spec(folder, pattern="{dataset}/{instance}.png")
    plan = FolderKeys({"x": spec})
    keys = plan.keys["x"]
    work = Workplan(config(shard_size=8), plan, {"photos": table(["p0", "p1"])})
    assert sorted({job.kind for job in work.jobs}) == ["collect", "complete", "evaluate", "ground", "rgba"]
    (complete,) = work.by_kind("complete")
    # p0 has no file (its no_output comes from the job): only p1's is an input
    assert complete.inputs == [
        f"R/shards/photos/ground/{keys['ground']}/s00000.json",
        str(folder / "photos" / "p1.png"),
    ]
    assert complete.shared == {} and complete.context == {}
    assert complete.items[0]["external"]["image"] == {"path": str(folder / "photos" / "p0.png"), "missing": True}
    assert complete.items[1]["external"]["image"]["size"] == (folder / "photos" / "p1.png").stat().st_size
    assert set(complete.items[0]["reads"]) == {"visible", "ground"}
    (evaluate,) = work.by_kind("evaluate")
    assert set(evaluate.items[0]["reads"]) == {"visible", "rgba", "placement"}
    (collect,) = work.by_kind("collect")
    assert list(collect.items[0]["stages"]) == ["ground", "complete", "rgba", "evaluate"]


def test_an_unset_or_absent_folder_stops_the_run_before_any_job(tmp_path):
    unset = validated({"complete": {"backend": "external"}}, "experiment.schema.yaml")
    absent = external_spec(tmp_path / "nowhere")
    lines = missing_settings({"a": unset, "b": absent, "c": external_spec(tmp_path)}, {})
    assert len(lines) == 2
    assert "'a'" in lines[0] and "complete.external.dir is not set" in lines[0]
    assert "'b'" in lines[1] and str(tmp_path / "nowhere") in lines[1] and "does not exist" in lines[1]


# ---------------------------------------------------------------- through the stages, in this process


def test_a_bad_instance_fails_alone_with_its_kind_and_the_others_are_scored(tmp_path):
    """Three instances in one shard: a good image-sized output, a missing one, an RGB one; the
    complete, rgba and evaluate jobs run them one after the other as the workflow does."""
    folder, results = tmp_path / "outputs", tmp_path / "R"
    spec = external_spec(folder)
    spec["ground"]["backend"] = "grounded_sam"  # never run: its files are written below by hand
    spec["evaluate"].update(
        {m: dict(spec["evaluate"][m], enabled=False) for m in ("clip_score", "lpips", "feature_similarity")}
    )
    image = np.full((H, W, 3), 90, np.uint8)
    rows = []
    for name in ("good", "missing", "rgb"):
        Image.fromarray(image).save(tmp_path / f"{name}.jpg", quality=100)
        rows.append(name)
    frame = table(rows, gt=False)
    frame["image"] = [str(tmp_path / f"{name}.jpg") for name in rows]
    whole = np.zeros((H, W, 4), np.uint8)
    whole[2:12, 4:24] = (200, 10, 10, 255)
    save_rgba(folder / "good.png", whole)
    rgb_without_alpha(folder / "rgb.png")
    plan = FolderKeys({"x": spec})
    work = Workplan(config(results=str(results), shard_size=8), plan, {"photos": frame})
    visible = np.zeros((H, W), bool)
    visible[2:12, 4:14] = True
    for job in work.jobs:
        if job.kind == "ground":  # our grounding, written by hand: the left half of the object is visible
            for item in job.items:
                io.write_mask(f"{item['folder']}/visible_mask.png", visible)
                io.write_json(f"{item['folder']}/ground.json", {"status": "ok", "reason": ""})
            io.write_json(job.manifest, {"instances": {i["id"]: "ok" for i in job.items}})
            continue
        statuses = run_job(job.kind, job.spec, job.key, job.items, job.manifest, job.shared, context=job.context)
        if job.kind == "complete":
            assert statuses == {"good": "ok", "missing": "failed", "rgb": "failed"}
    metrics = {name: io.read_json(results / "x" / "photos" / name / "metrics.json") for name in rows}
    assert metrics["missing"]["status"] == "failed" and metrics["missing"]["failure"] == "no_output"
    assert "'missing'" in metrics["missing"]["reason"] and str(folder / "missing.png") in metrics["missing"]["reason"]
    assert metrics["rgb"]["failure"] == "bad_input" and str(folder / "rgb.png") in metrics["rgb"]["reason"]
    good = metrics["good"]
    assert good["status"] == "ok" and good["order"] is None and good["metrics"]["order_accuracy"] is None
    # the visible half of the output is red where the photo is grey: all 100 visible pixels changed
    assert good["visible_consistency"]["changed_pixels"] == 100
    placement = io.read_json(results / "x" / "photos" / "good" / "placement.json")
    assert placement["offset_xy"] == [4, 2] and placement["size_hw"] == [10, 20]
    record = io.read_json(next((results / "stages" / "photos" / "good" / "complete").iterdir()) / "complete.json")
    assert record["backend"] == "external" and record["external"]["file"] == str(folder / "good.png")
    assert record["external"]["sha256"] and record["ground_status"] == "ok"


def test_the_shipped_example_and_pdmc_files():
    example = load_experiment("external_example")[1]
    assert planned_stages(example) == ("ground", "complete", "rgba", "evaluate")
    assert example["rgba"]["backend"] == "as_is" and example["complete"]["external"]["placement"] == "image"
    paper, pdmc = load_experiment("paper")[1], load_experiment("pdmc")[1]
    changed = sorted(k for k in paper if k != "description" and pdmc[k] != paper[k])
    assert changed == ["complete", "ground", "prompt", "rgba", "segment", "tag"]
    # PD-MC's numbers (k8xu/amodal@a57793b main.py: check_valid_query, find_crop_region, --max_iter_id
    # checked after counting, the class name as prompt, no background segments, nothing pasted)
    assert (pdmc["ground"]["min_score"], pdmc["ground"]["min_area_fraction"]) == (0.35, 0.02)
    complete = pdmc["complete"]
    assert (complete["border_pad"], complete["crop_buffer"], complete["canvas_scale"], complete["border_gap"]) == (
        60,
        60,
        6,
        10,
    )
    assert (
        complete["max_passes"] + complete["seed_pass_count"] == 6 and complete["diffusers"]["prompt_template"] == "{}"
    )
    assert (complete["diffusers"]["steps"], complete["diffusers"]["guidance"]) == (50, 7.5)
    assert pdmc["prompt"]["backend"] == "query" and pdmc["rgba"]["backend"] == "as_is"
    assert pdmc["segment"]["background"]["enabled"] is False
    assert pdmc["segment"]["grounded_sam"]["include_background_tag"] is False
    assert (pdmc["tag"]["clip_vocab"]["top_k"], pdmc["tag"]["clip_vocab"]["min_probability"]) == (80, 0.0)
