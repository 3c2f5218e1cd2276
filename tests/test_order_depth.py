"""The depth order backend: the nearer side of a shared border occludes (constructed nearness
maps with known answers), and a tiny random-weight Depth Anything through the order stage."""

import json

import numpy as np
import pytest

from amodal.imaging import io
from amodal.imaging.segments import Segments
from amodal.models.cache import ModelCache
from amodal.stages.order import depth_order_from_nearness, run_order
from amodal.config.schema import validated
from tiny_models import write_tiny_depth

SPEC = validated({"order": {"backend": "depth"}}, "experiment.schema.yaml")["order"]


def scene():
    """A 60x60 target square in a 100x100 image; a right neighbour touching it, a far-away blob."""
    visible = np.zeros((100, 100), bool)
    visible[20:80, 20:60] = True
    right = np.zeros((100, 100), bool)
    right[20:80, 60:90] = True
    far = np.zeros((100, 100), bool)
    far[90:100, 0:10] = True
    return visible, np.stack([right, far]), [{"label": "box"}, {"label": "far"}]


@pytest.mark.parametrize("right_nearness,front,behind", [(5.0, True, False), (1.0, False, True), (3.05, False, False)])
def test_the_nearer_side_of_the_border_occludes(right_nearness, front, behind):
    visible, segments, records = scene()
    nearness = np.zeros((100, 100), np.float32)  # background far: spread 5th-95th percentile = 0..5
    nearness[visible] = 3.0
    nearness[segments[0]] = right_nearness
    nearness[:, 90:] = 5.0  # 10 % of the pixels: the 95th percentile is 5
    record = depth_order_from_nearness(nearness, visible, segments, records, SPEC)
    (pair,) = record["pairs"]  # the far blob does not touch the target
    assert pair["segment"] == 0 and pair["occludes_target"] is front and pair["target_occludes"] is behind
    assert record["occluders"] == ([0] if front else [])
    # margin 0.05 of the 0..5 spread = 0.25: 3.05 vs 3.0 is within it
    assert pair["threshold"] == pytest.approx(0.25)
    assert pair["nearness_difference"] == pytest.approx(right_nearness - 3.0)


def test_only_the_strip_along_the_border_counts():
    # the neighbour is near only next to the target; further away it is far: the strip decides
    visible, segments, records = scene()
    nearness = np.zeros((100, 100), np.float32)
    nearness[visible] = 3.0
    nearness[20:80, 60:70] = 4.0  # the neighbour's first 10 px (the band)
    nearness[20:80, 70:90] = 0.0
    nearness[0, 0] = 5.0
    nearness[0, 1:10] = 5.0
    assert depth_order_from_nearness(nearness, visible, segments, records, SPEC)["occluders"] == [0]


def test_a_tiny_depth_model_through_the_order_stage(tmp_path):
    folder = write_tiny_depth(tmp_path / "depth")
    models = ModelCache({"device": "cpu", "paths": {"depth_anything_v2_small": str(folder)}})
    visible, segments, records = scene()
    image = np.random.default_rng(0).integers(0, 256, (100, 100, 3), dtype=np.uint8)
    io.write_image(tmp_path / "image.png", image)
    io.write_mask(tmp_path / "visible.png", visible)
    io.write_segments(tmp_path / "segments.npz", Segments(segments))
    (tmp_path / "segments.json").write_text(json.dumps({"segments": records}))
    record, occluders = run_order(
        SPEC,
        tmp_path / "visible.png",
        tmp_path / "segments.npz",
        tmp_path / "segments.json",
        "",
        "inst",
        image_path=tmp_path / "image.png",
        models=models,
    )
    assert record["backend"] == "depth" and [p["segment"] for p in record["pairs"]] == [0]
    assert occluders.shape == visible.shape and not (occluders & visible).any()
    assert np.array_equal(occluders, segments[0] & ~visible if record["occluders"] == [0] else np.zeros_like(visible))
