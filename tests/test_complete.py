"""The classical completion on constructed scenes whose whole object is known exactly."""

import numpy as np
import pytest

from amodal.imaging import io
from amodal.stages.complete.stage import (
    ClassicalBackend,
    complete,
    predict_amodal,
    true_contour_points,
    write_completion,
)
from amodal.imaging.frames import crop

SPEC = {
    "backend": "classical",
    "max_passes": 3,
    "canvas_scale": 6,
    "crop_buffer": 60,
    "border_pad": 150,
    "border_gap": 10,
    "size": 512,
    "classical": {"method": "telea", "radius": 5, "max_area_ratio": 4},
}
RED, BLUE, GREEN = (200, 30, 30), (30, 30, 200), (30, 160, 30)
WALLPAPER = np.full((64, 64, 3), 128, np.uint8)


def disk(shape, cy, cx, r):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def iou(a, b):
    return (a & b).sum() / (a | b).sum()


def occluded_scene():
    shape = (200, 240)
    whole = disk(shape, 100, 110, 50)
    occluder = np.zeros(shape, bool)
    occluder[30:170, 130:200] = True
    image = np.empty(shape + (3,), np.uint8)
    image[:] = BLUE
    image[whole] = RED
    image[occluder] = GREEN
    return image, whole, whole & ~occluder, occluder


def test_contour_points_next_to_the_occluder_are_not_the_object_edge():
    _, whole, visible, occluder = occluded_scene()
    points = true_contour_points(visible, occluder)
    assert len(points) > 50
    assert (points[:, 0] <= 127).all()  # the cut (x = 129) and 2 px of clearance are dropped
    assert (points[:, 0] == 127).any()  # but the outline right next to that is kept


def test_predicted_amodal_recovers_a_cut_disk():
    _, whole, visible, occluder = occluded_scene()
    amodal, prior = predict_amodal(visible, occluder)
    assert prior == "ellipse"
    assert iou(amodal, whole) > 0.97
    assert not (amodal & ~(visible | occluder)).any()  # never over visible background


def test_complete_fills_the_hidden_part_with_object_colours():
    image, whole, visible, occluder = occluded_scene()
    result = complete(image, visible, occluder, "disk", SPEC, WALLPAPER, ClassicalBackend(SPEC))
    assert result.status == "completed" and result.stop_reason == "nothing_occludes"
    assert len(result.iterations) == 1
    true_whole = crop(whole, result.region, False)
    assert iou(result.amodal, true_whole) > 0.97
    hidden = result.amodal & ~crop(visible, result.region, False)
    colours = result.completion[hidden].astype(int)
    assert hidden.sum() > 1000
    assert np.abs(colours - np.array(RED)).max() <= 10  # painted from the object, not the occluder


def test_object_cut_by_the_border_extends_past_it():
    shape = (200, 240)
    full = disk((200, 320), 100, 230, 50)  # centre 10 px inside the right edge of a wider world
    visible = full[:, :240]
    image = np.full(shape + (3,), BLUE, np.uint8)
    image[visible] = RED
    result = complete(image, visible, np.zeros(shape, bool), "disk", SPEC, WALLPAPER, ClassicalBackend(SPEC))
    assert result.status == "completed" and "right" in result.sides
    assert result.region.x1 > 240  # the crop reaches past the image
    # The true disk in the crop's frame, built in the wider world.
    truth = crop(full, result.region, False)
    assert iou(result.amodal, truth) > 0.95
    outside = ~crop(np.ones(shape, bool), result.region, False)
    assert (result.amodal & outside).sum() > 0.4 * (truth & outside).sum()


def test_nothing_occluding_and_no_border_means_no_completion():
    image, whole, _, _ = occluded_scene()
    result = complete(image, whole, np.zeros(whole.shape, bool), "disk", SPEC, WALLPAPER, ClassicalBackend(SPEC))
    assert result.status == "not_occluded" and result.completion is None


def test_write_completion_writes_every_pass(tmp_path):
    image, _, visible, occluder = occluded_scene()
    result = complete(image, visible, occluder, "disk", SPEC, WALLPAPER, ClassicalBackend(SPEC))
    write_completion(
        result,
        result.record("classical", "disk"),
        record_path=tmp_path / "complete.json",
        completion_path=tmp_path / "completion.png",
        amodal_path=tmp_path / "amodal_mask.png",
        iterations_dir=tmp_path / "iterations",
    )
    names = sorted(p.name for p in (tmp_path / "iterations" / "0").iterdir())
    assert names == ["amodal_mask.png", "completion.png", "input.png", "mask.png", "occluder_mask.png"]
    record = io.read_json(tmp_path / "complete.json")
    assert record["passes"] == 1 and record["crop"] == result.region.as_dict()
    np.testing.assert_array_equal(io.read_mask(tmp_path / "amodal_mask.png"), result.amodal)
    # pass 0 puts the wallpaper behind the object
    first = io.read_rgb(tmp_path / "iterations" / "0" / "input.png")
    crop_visible = crop(visible, result.region, False)
    assert (first[~crop_visible] == 128).all()


def test_unknown_inpainting_method_is_a_clear_error():
    spec = dict(SPEC, classical=dict(SPEC["classical"], method="magic"))
    with pytest.raises(ValueError, match="telea"):
        ClassicalBackend(spec)
