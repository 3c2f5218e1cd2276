"""The evaluate stage's records (amodal.stages.evaluate), failure kinds, their aggregation
(amodal.tables.aggregate) and the metric definitions."""

import json
import math

import numpy as np
import pytest

from amodal.stages import evaluate as ev
from amodal.imaging import io
from amodal.imaging.frames import alpha_mask, paste
from amodal.metrics import is_missing, missing
from amodal.metrics.definitions import BACKGROUND, FAILURE_KINDS, METRICS, PSNR_CAP, definitions
from amodal.stages.rgba import no_result_kind
from amodal.run.isolation import run_stage
from amodal.tables.aggregate import aggregate
from test_metrics import textured_rgba


def scene():
    """A 40x50 whole object at (-6, -4) in a 48x64 image; columns from 25 on are occluded."""
    whole, offset = textured_rgba(40, 50), (-6, -4)
    amodal = alpha_mask(paste(whole, offset, (48, 64)))
    visible = amodal.copy()
    visible[:, 25:] = False
    return whole, offset, visible


# --- records --------------------------------------------------------------------------------


def test_instance_record_with_and_without_ground_truth():
    whole, offset, visible = scene()
    image = paste(whole, offset, visible.shape)[..., :3]
    amodal = alpha_mask(paste(whole, offset, visible.shape))
    gt = ev.GroundTruth(visible, amodal, whole, offset)
    order = ev.OrderInfo(["a"], ["a"], ["a", "b"])
    rec = ev.instance_record(image, visible, whole, offset, gt=gt, order=order)
    assert rec["status"] == "ok" and rec["has_ground_truth"] and rec["failure"] is None
    m = rec["metrics"]
    assert m["visible_iou"] == m["amodal_iou"] == m["amodal_iou_in_frame"] == 1.0
    assert m["hidden_psnr"] == PSNR_CAP and m["order_accuracy"] == 1.0
    # model metrics not given: missing with a reason, never a number
    assert rec["clip_score"]["missing"] and rec["lpips"]["missing"] and rec["hidden_lpips"]["missing"]
    json.dumps(rec)

    bare = ev.instance_record(image, visible, whole, offset)
    assert bare["visible"] is None and bare["hidden"] is None and bare["order"] is None
    assert bare["metrics"]["amodal_iou"] is None
    assert bare["hidden_lpips"] is None  # nothing to compare with: not applicable, not missing
    assert is_missing(bare["clip_score"]) and is_missing(bare["feature_similarity"])
    assert bare["metrics"]["visible_ssim"] == pytest.approx(1.0, abs=1e-9)
    assert bare["visible_consistency"]["changed_pixels"] == 0


def test_given_model_entries_reach_the_record_and_its_ratios():
    whole, offset, visible = scene()
    image = paste(whole, offset, visible.shape)[..., :3]
    entries = {
        "clip_score": {"cosine": 0.25, "value": 25.0, "text": "a photo of a cat"},
        "lpips": {"value": 0.125},
        "feature_similarity": missing("no encoder"),
    }
    rec = ev.instance_record(image, visible, whole, offset, model_metrics=entries)
    assert rec["metrics"]["clip_score"] == 25.0 and rec["metrics"]["lpips"] == 0.125
    assert rec["metrics"]["feature_similarity"] == {"value": None, "missing": "no encoder"}


def test_no_result_kinds():
    empty, some = np.zeros((4, 4), bool), np.ones((4, 4), bool)
    assert no_result_kind("invalid_query", empty) == "empty_mask"
    assert no_result_kind("invalid_query", some) == "grounding_failure"
    assert no_result_kind("no_output", some) == "no_output"
    assert set(FAILURE_KINDS) >= {
        "empty_mask",
        "grounding_failure",
        "no_output",
        "stage_failure",
        "remote_failed",
        "bad_input",
    }


@pytest.mark.parametrize(
    "upstream,kind",
    [
        ({"status": "failed", "reason": "no completion", "failure": "grounding_failure"}, "grounding_failure"),
        (
            {"status": "failed", "reason": "LISA down", "failure": "remote_failed", "remote": {"error": "timeout"}},
            "remote_failed",
        ),
        ({"status": "failed", "reason": "instance 'x': unreadable (a.png)"}, "stage_failure"),
    ],
)
def test_the_evaluate_stage_records_the_failure_kind_it_is_handed(tmp_path, upstream, kind):
    io.write_json(tmp_path / "placement.json", upstream)
    out = {"metrics": tmp_path / "out" / "metrics.json"}
    status = run_stage({"placement": tmp_path / "placement.json"}, out, lambda: 1 / 0, ev.failed_record)
    record = io.read_json(out["metrics"])
    assert status == "failed" and record["status"] == "failed"
    assert record["failure"] == kind and record["reason"] == upstream["reason"]


# --- aggregation ----------------------------------------------------------------------------


def counts(i, u):
    return {"intersection": i, "union": u, "pred_pixels": i, "gt_pixels": u}


def record(amodal=None, hidden=None, clip=None, lpips=None):
    rec = ev._empty_record("ok", None, None)
    rec["amodal"] = amodal
    rec["hidden"] = hidden
    rec["clip_score"] = clip if clip is not None else missing("no CLIP weights")
    rec["lpips"] = lpips
    return rec


def test_aggregate_pooled_iou_differs_from_mean_iou_and_failures_are_counted_by_kind():
    # A small object scored perfectly and a large one scored badly.
    records = [
        record(counts(10, 10)),
        record(counts(10, 90)),
        ev.failed_record("no mask", "empty_mask"),
        ev.failed_record("bad file"),
        ev.failed_record("no mask", "empty_mask"),
    ]
    summary = aggregate(records)
    amodal = summary["metrics"]["amodal_iou"]
    assert amodal["mean"] == pytest.approx((1.0 + 10 / 90) / 2)
    assert amodal["pooled"] == pytest.approx(20 / 100)
    assert amodal["n"] == 2
    assert summary["n"] == 5 and summary["failures"] == 3
    assert summary["failure_rate"] == pytest.approx(3 / 5)
    assert summary["failures_by_kind"] == {"stage_failure": 1, "empty_mask": 2}
    # Missing weights stay missing with their reason, never become a number.
    assert summary["metrics"]["clip_score"] == {"value": None, "missing": "no CLIP weights"}
    # No ground truth anywhere: a GT metric has no value rather than a made-up one.
    assert summary["metrics"]["visible_iou"] == {"mean": None, "pooled": None, "n": 0}
    json.dumps(summary)


def test_aggregate_pools_psnr_and_ssim_from_raw_sums():
    # Constant errors of 2 and 4 grey levels over 100 and 300 hidden pixels.
    h1 = {"hidden_pixels": 100, "sse": 100 * 3 * 4.0, "psnr": 20 * math.log10(255 / 2), "ssim_sum": 90.0, "ssim": 0.9}
    h2 = {"hidden_pixels": 300, "sse": 300 * 3 * 16.0, "psnr": 20 * math.log10(255 / 4), "ssim_sum": 150.0, "ssim": 0.5}
    summary = aggregate([record(None, h1), record(None, h2)])
    psnr = summary["metrics"]["hidden_psnr"]
    assert psnr["mean"] == pytest.approx((h1["psnr"] + h2["psnr"]) / 2)
    pooled_mse = (h1["sse"] + h2["sse"]) / (3 * 400)  # = 13
    assert psnr["pooled"] == pytest.approx(10 * math.log10(255**2 / pooled_mse))
    ssim = summary["metrics"]["hidden_ssim"]
    assert ssim["mean"] == pytest.approx(0.7)
    assert ssim["pooled"] == pytest.approx(240 / 400)


def test_aggregate_model_metric_with_values_is_averaged_and_not_applicable_entries_are_skipped():
    records = [
        record(clip={"cosine": 0.3, "value": 30.0}, lpips={"value": 0.5}),
        record(clip={"cosine": 0.2, "value": 20.0}, lpips={"value": 0.25}),
        record(clip={"value": 10.0}),
    ]
    metrics = aggregate(records)["metrics"]
    assert metrics["clip_score"] == {"mean": pytest.approx(20.0), "pooled": None, "n": 3}
    assert metrics["lpips"]["mean"] == pytest.approx(0.375) and metrics["lpips"]["n"] == 2
    assert metrics["hidden_lpips"] == {"mean": None, "pooled": None, "n": 0}


def test_visible_copied_only_when_every_instance_copied():
    copied = record()
    copied["visible_consistency"] = {"visible_pixels": 10, "changed_pixels": 0, "ssim_sum": 10.0, "ssim": 1.0}
    changed = record()
    changed["visible_consistency"] = {"visible_pixels": 10, "changed_pixels": 3, "ssim_sum": 9.0, "ssim": 0.9}
    assert aggregate([copied, copied])["visible_copied"] is True
    assert aggregate([copied, changed])["visible_copied"] is False
    assert aggregate([ev.failed_record("x")])["visible_copied"] is False


# --- definitions ----------------------------------------------------------------------------


def test_every_metric_is_defined_with_its_settings():
    summary = aggregate([record(counts(1, 2))])
    assert set(summary["metrics"]) == set(METRICS)
    texts = definitions()
    assert set(texts) == set(METRICS) | {"failure_rate"}
    for text in texts.values():
        assert text and "{" not in text  # every placeholder was filled in
    assert "RGB (124, 116, 104)" in texts["clip_score"] and "clip_vit_b32_openai" in texts["clip_score"]
    assert "'a photo of a <object>'" in texts["clip_score"]
    assert "lpips_alex" in texts["lpips"] and "256 x 256" in texts["lpips"]
    mine = definitions(
        {"background": [1, 2, 3], "lpips": {"enabled": True, "model": "lpips_vgg", "size": 64}},
        {"lpips": {"weights": "lpips_vgg", "checkpoint": "vgg16-397923af.pth", "backbone": "vgg"}},
    )
    assert "RGB (1, 2, 3)" in mine["hidden_psnr"] and "64 x 64" in mine["hidden_lpips"]
    assert "checkpoint vgg16-397923af.pth" in mine["lpips"] and "backbone vgg" in mine["lpips"]


def test_the_library_background_is_the_schemas_default():
    from amodal.config.schema import validated

    assert validated({}, "experiment.schema.yaml")["evaluate"]["background"] == list(BACKGROUND)


# --- tables ---------------------------------------------------------------------------------


def test_an_experiments_table_counts_failures_by_kind_and_groups_missing_reasons(tmp_path):
    from amodal.tables.render import aggregate_experiment, compare_experiments

    copied = record(clip=missing("no CLIP at /w/ViT-B-32.pt"), lpips=missing("no CLIP at /w/ViT-B-32.pt"))
    copied["visible_consistency"] = {"visible_pixels": 10, "changed_pixels": 0, "ssim_sum": 10.0, "ssim": 1.0}
    copied["metrics"] = ev.record_ratios(copied)
    paths = []
    for instance, rec in [
        ("a", copied),
        ("b", ev.failed_record("no completion: complete stage status 'invalid_query'", "grounding_failure")),
    ]:
        io.write_json(tmp_path / instance / "metrics.json", rec)
        paths.append(tmp_path / instance / "metrics.json")
    files = {name: tmp_path / "out" / name for name in ("metrics.csv", "table.md", "summary.json")}
    aggregate_experiment(
        paths,
        not_ok=[{"id": "c", "status": "missing_image", "message": "c.jpg not found"}],
        experiment="x",
        dataset="d",
        description="",
        csv_path=files["metrics.csv"],
        table_path=files["table.md"],
        summary_path=files["summary.json"],
        evaluate=None,
    )
    table = files["table.md"].read_text()
    assert "instances: 3, failures: 2 (failure rate 0.667): bad_input 1, grounding_failure 1" in table
    assert "| visible_ssim | 1.000 (by construction: the output copies every visible pixel of the input) |" in table
    assert (
        "- b (grounding_failure): no completion" in table and "- c (bad_input): missing_image: c.jpg not found" in table
    )
    assert "- clip_score, lpips: no CLIP at /w/ViT-B-32.pt" in table
    compare_experiments(
        [files["summary.json"]] * 2,
        [files["metrics.csv"]] * 2,
        experiments=["x", "y"],
        descriptions={},
        dataset="d",
        table_path=tmp_path / "d.md",
        csv_path=tmp_path / "d.csv",
    )
    compared = (tmp_path / "d.md").read_text()
    assert "- clip_score, lpips (x, y): no CLIP at /w/ViT-B-32.pt" in compared
    assert compared.count("Metric definitions:") == 1  # the same settings: printed once
    assert "| x | 3 | 1 | 0.667 |" in compared and "1.000 (copied)" in compared


def test_experiments_are_compared_over_the_instances_every_one_scored(tmp_path):
    import pandas as pd

    from amodal.tables.render import compare_experiments

    def experiment(name, ious):
        """metrics.csv and summary.json of an experiment whose instance i has visible IoU ious[i]
        (None: the instance failed); the summary's own means are over its own scored instances."""
        folder = tmp_path / name
        folder.mkdir()
        rows = [
            {"id": f"i{k}", "status": "failed" if v is None else "ok", "visible_iou": "" if v is None else v}
            for k, v in enumerate(ious)
        ]
        pd.DataFrame(rows).to_csv(folder / "metrics.csv", index=False)
        scored = [v for v in ious if v is not None]
        summary = {
            "n": len(ious),
            "failures": len(ious) - len(scored),
            "failure_rate": 1 - len(scored) / len(ious),
            "metrics": {metric: None for metric in METRICS},
        }
        summary["metrics"]["visible_iou"] = {"mean": sum(scored) / len(scored), "pooled": 0.5, "n": len(scored)}
        io.write_json(folder / "summary.json", summary)
        return folder

    full = experiment("full", [0.9, 0.6, 0.3])
    partial = experiment("partial", [0.8, None, None])  # its own mean 0.8, over one instance
    compare_experiments(
        [full / "summary.json", partial / "summary.json"],
        [full / "metrics.csv", partial / "metrics.csv"],
        experiments=["full", "partial"],
        descriptions={},
        dataset="d",
        table_path=tmp_path / "d.md",
        csv_path=tmp_path / "d.csv",
    )
    text = (tmp_path / "d.md").read_text()
    # both over i0 only: full's 0.900 (not its 0.600 over three) beside partial's 0.800
    assert "| full | 3 | 3 | 0.000 | 0.900 |" in text and "| partial | 3 | 1 | 0.667 | 0.800 |" in text
    assert "Means over the 1 instances that every experiment scored" in text
    table = pd.read_csv(tmp_path / "d.csv").set_index("experiment")
    assert table.loc["full", "visible_iou_mean"] == pytest.approx(0.9) and table.loc["full", "compared"] == 1
    assert table.loc["partial", "scored"] == 1 and table.loc["full", "visible_iou_pooled_own_scored"] == 0.5
