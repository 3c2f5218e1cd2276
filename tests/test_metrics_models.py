"""The model-based metrics (CLIP score, feature similarity, LPIPS, hidden LPIPS) through the evaluate
stage's own loading (amodal.evaluate.model_metric_entries, amodal.models.loaded), against the
reference library on the same networks: torchmetrics' CLIPScore (given the same tiny random-weight
open_clip model through its model/processor hook) and torchmetrics'
LearnedPerceptualImagePatchSimilarity (reading the same random backbone file from the torch hub
cache, as it reads torchvision's). Every expected image is built here by hand, slice by slice."""

import shutil

import cv2
import numpy as np
import pytest
import torch

from amodal.evaluate import GroundTruth, model_metric_entries
from amodal.experiments import device_class
from amodal.metrics import is_missing
from amodal.metrics import model_based
from amodal.models import CheckpointMismatch
from amodal.models.clip import build_clip
from amodal.models.lpips import load_lpips
from amodal.schema import validated
from metric_references import clip_score, clip_score_metric, lpips as lpips_reference
from tiny_models import CLIP, write_lpips_backbone

BG = (124, 116, 104)
HUB_NAME = "alexnet-owt-7be5be79.pth"  # torchvision's file name, which torchmetrics looks for


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("metric_weights")
    torch.manual_seed(0)
    torch.save(build_clip(config=CLIP)[0].state_dict(), folder / "clip.pt")
    write_lpips_backbone(folder / "alexnet.pth")
    return folder


@pytest.fixture(scope="module")
def models(weights):
    return {"device": "cpu", "paths": {"clip_vit_b32_openai": str(weights / "clip.pt"),
                                       "lpips_alex": str(weights / "alexnet.pth")},
            "architectures": {"clip_vit_b32_openai": {"config": CLIP}}}


@pytest.fixture
def torch_hub(weights, tmp_path, monkeypatch):
    """A torch hub cache holding the random backbone under torchvision's name."""
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    checkpoints.mkdir(parents=True)
    shutil.copy(weights / "alexnet.pth", checkpoints / HUB_NAME)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return checkpoints


def spec(**changes):
    return validated({"evaluate": changes}, "experiment.schema.yaml")["evaluate"]


def photo_and_output():
    """A 90x100 photo; the visible object is rows 10..73, cols 20..83 (64 x 64) less its top-left
    corner; the output is placed at (x=16, y=6), equal to the photo on the object's upper half,
    repainted on the lower half, and transparent in a band of its own left columns."""
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (90, 100, 3)).astype(np.uint8)
    visible = np.zeros((90, 100), bool)
    visible[10:74, 20:84] = True
    visible[10:20, 20:30] = False
    rgba = np.zeros((80, 80, 4), np.uint8)  # image rows 6..85, cols 16..95
    rgba[..., :3] = rng.integers(0, 256, (80, 80, 3))
    rgba[..., 3] = 255
    rgba[4:36, 4:68, :3] = image[10:42, 20:84]  # upper half of the object copied
    rgba[:, :8, 3] = 0  # image cols 16..23: transparent, so the background shows there
    return image, visible, rgba, (16, 6)


def visible_pair_by_hand(image, visible, rgba):
    """The visible mask's box (rows 10..73, cols 20..83) of the photo and of the output on BG,
    pixels outside the mask flat BG, float."""
    box = (slice(10, 74), slice(20, 84))
    mask = visible[box]
    source = image[box].astype(np.float64)
    output = rgba[4:68, 4:68, :3].astype(np.float64)  # output rows/cols start at image (6, 16)
    transparent = rgba[4:68, 4:68, 3] == 0
    output[transparent] = BG
    source[~mask] = BG
    output[~mask] = BG
    return source, output


# --- CLIP score and feature similarity --------------------------------------------------------------


def test_clip_score_equals_torchmetrics_clipscore_on_the_same_tiny_model(weights, models):
    image, visible, rgba, offset = photo_and_output()
    small = np.zeros((20, 50, 4), np.uint8)  # the deliverable: opaque, half-transparent and empty pixels
    small[..., :3] = np.random.default_rng(2).integers(0, 256, (20, 50, 3))
    small[:, :20, 3] = 255
    small[:, 20:35, 3] = 102
    entries, facts = model_metric_entries(spec(lpips={"enabled": False}), models, image, visible, small, offset,
                                          "the cup", None)
    ours = entries["clip_score"]

    # by hand: alpha 0.4 over BG, rounded; then 15 rows of BG above and below (a 50 x 50 square)
    composite = np.empty((20, 50, 3))
    composite[:, :20] = small[:, :20, :3]
    composite[:, 20:35] = 0.4 * small[:, 20:35, :3] + 0.6 * np.array(BG)
    composite[:, 35:] = BG
    squared = np.empty((50, 50, 3), np.uint8)
    squared[...] = BG
    squared[15:35] = np.rint(composite).astype(np.uint8)
    expected = clip_score(clip_score_metric(weights / "clip.pt", CLIP), squared, "a photo of a cup")
    assert ours["text"] == "a photo of a cup"
    assert ours["cosine"] > 0  # this case exercises the unclamped branch
    assert ours["value"] == pytest.approx(expected, rel=1e-5, abs=1e-5)
    assert facts["clip_score"] == {"weights": "clip_vit_b32_openai", "checkpoint": "clip.pt", "input_size": 32}


def test_clip_score_is_clamped_at_zero():
    class Negative:
        def cosine(self, image, texts):
            assert image.shape == (3, 3, 3) and image.dtype == np.uint8 and texts == ["x"]
            return np.array([-0.25])

    found = model_based.clip_score(Negative(), np.zeros((3, 1, 4), np.uint8), "x", BG)
    assert found == {"cosine": -0.25, "value": 0.0, "text": "x"}


def test_feature_similarity_equals_torchmetrics_image_to_image_clipscore(weights, models):
    image, visible, rgba, offset = photo_and_output()
    entries, _ = model_metric_entries(spec(lpips={"enabled": False}), models, image, visible, rgba, offset, "cat", None)
    source, output = visible_pair_by_hand(image, visible, rgba)  # already square (64 x 64)
    expected = clip_score(clip_score_metric(weights / "clip.pt", CLIP), np.rint(source).astype(np.uint8),
                          np.rint(output).astype(np.uint8)) / 100
    ours = entries["feature_similarity"]
    assert ours["cosine"] > 0 and ours["value"] == ours["cosine"]
    assert ours["value"] == pytest.approx(expected, rel=1e-5)


# --- LPIPS ------------------------------------------------------------------------------------------


def test_lpips_of_the_visible_part_equals_torchmetrics_lpips(models, torch_hub):
    image, visible, rgba, offset = photo_and_output()
    entries, facts = model_metric_entries(spec(lpips={"size": 64}), models, image, visible, rgba, offset, "cat", None)
    source, output = visible_pair_by_hand(image, visible, rgba)
    expected = lpips_reference(source, output)
    assert expected > 0.01  # half the object was repainted
    assert entries["lpips"]["value"] == pytest.approx(expected, rel=1e-4)
    assert facts["lpips"] == {"weights": "lpips_alex", "checkpoint": "alexnet.pth", "backbone": "alex", "size": 64}
    # the input itself as the output: distance 0
    same = np.dstack([image, np.full(visible.shape, 255, np.uint8)])
    entries, _ = model_metric_entries(spec(lpips={"size": 64}), models, image, visible, same, (0, 0), "cat", None)
    assert entries["lpips"]["value"] == pytest.approx(0.0, abs=1e-7)


def test_lpips_pads_a_long_box_to_a_square_and_resizes_it(models, torch_hub):
    image, visible, rgba, offset = photo_and_output()
    visible[:, :] = False
    visible[30:50, 12:92] = True  # a 20 x 80 box: 30 rows of BG above and below, then 80 -> 64 px
    entries, _ = model_metric_entries(spec(lpips={"size": 64}), models, image, visible, rgba, offset, "cat", None)
    # the output starts at image col 16 and its cols 16..23 are transparent: the box's first 12 cols show BG
    first = np.empty((80, 80, 3), np.float32)
    first[...] = BG
    first[30:50] = image[30:50, 12:92]
    second = np.empty((80, 80, 3), np.float32)
    second[...] = BG
    second[30:50, 12:] = rgba[24:44, 8:76, :3]  # image cols 24..91
    expected = lpips_reference(cv2.resize(first, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float64),
                               cv2.resize(second, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float64))
    assert entries["lpips"]["value"] == pytest.approx(expected, rel=1e-4)


def test_hidden_lpips_compares_the_hidden_region_with_the_true_object(models, torch_hub):
    rng = np.random.default_rng(8)
    whole = np.zeros((64, 70, 4), np.uint8)  # the true object at (x=-6, y=10): its first 6 cols are past the border
    whole[..., :3] = rng.integers(0, 256, (64, 70, 3))
    whole[..., 3] = 255
    whole[:, 66:, 3] = 0  # its last 4 cols are not the object
    image = np.zeros((100, 100, 3), np.uint8)
    visible = np.zeros((100, 100), bool)
    visible[10:74, 30:60] = True  # object cols 36..65 visible; hidden: object cols 0..35, all rows,
    visible[10:26, 0:10] = True  # but for object rows 0..15, cols 6..15 (its first 6 cols are past the border)
    amodal = np.zeros((100, 100), bool)
    amodal[10:74, 0:60] = True
    prediction = whole.copy()
    prediction[:, :18, :3] = rng.integers(0, 256, (64, 18, 3))  # the hidden part half right
    truth = GroundTruth(visible, amodal, whole, (-6, 10))
    entries, _ = model_metric_entries(spec(lpips={"size": 64}), models, image, visible, prediction, (-6, 10), "cat", truth)
    # hidden region: object rows 0..63, cols 0..35 (a 64 x 36 box), squared to 64 x 64 (14 cols left, 14 right)
    first = np.empty((64, 64, 3))
    first[...] = BG
    second = first.copy()
    first[:, 14:50] = whole[:, :36, :3]
    second[:, 14:50] = prediction[:, :36, :3]
    first[0:16, 20:30] = second[0:16, 20:30] = BG  # visible, so not scored: flat on both sides
    expected = lpips_reference(first, second)
    assert expected > 0.01
    assert entries["hidden_lpips"]["value"] == pytest.approx(expected, rel=1e-4)
    perfect, _ = model_metric_entries(spec(lpips={"size": 64}), models, image, visible, whole, (-6, 10), "cat", truth)
    assert perfect["hidden_lpips"]["value"] == pytest.approx(0.0, abs=1e-7)


def test_the_lpips_backbone_is_found_in_the_torch_hub_cache(torch_hub, tmp_path, monkeypatch):
    from amodal.models.weights import locate

    monkeypatch.setenv("AMODAL_WEIGHTS", str(tmp_path / "empty"))
    assert locate("lpips_alex") == torch_hub / HUB_NAME
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "elsewhere"))
    assert locate("lpips_alex") is None


def test_the_lpips_loader_is_strict(weights, tmp_path):
    state = torch.load(weights / "alexnet.pth", weights_only=True)
    torch.save({k: v for k, v in state.items() if k != "features.3.weight"}, tmp_path / "short.pth")
    with pytest.raises(CheckpointMismatch, match="features.3.weight missing"):
        load_lpips(tmp_path / "short.pth")
    state["features.0.weight"] = state["features.0.weight"][:32]
    torch.save(state, tmp_path / "narrow.pth")
    with pytest.raises(CheckpointMismatch, match=r"features.0.weight has shape \(32, 3, 11, 11\)"):
        load_lpips(tmp_path / "narrow.pth")


# --- missing, off, device class ---------------------------------------------------------------------


def test_absent_weights_make_every_model_metric_missing_naming_the_file_and_the_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("AMODAL_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    image, visible, rgba, offset = photo_and_output()
    truth = GroundTruth(visible, visible, rgba, offset)
    entries, facts = model_metric_entries(spec(), {"device": "cpu"}, image, visible, rgba, offset, "cat", truth)
    assert facts == {}
    for name in ("clip_score", "feature_similarity"):
        assert is_missing(entries[name]) and entries[name]["value"] is None
        assert str(tmp_path / "weights" / "ViT-B-32.pt") in entries[name]["missing"]
        assert "amodal weights fetch clip_vit_b32_openai" in entries[name]["missing"]
    for name in ("lpips", "hidden_lpips"):
        assert str(tmp_path / "weights" / HUB_NAME) in entries[name]["missing"]
        assert "amodal weights fetch lpips_alex" in entries[name]["missing"]


def test_turned_off_metrics_are_missing_and_only_metrics_that_are_on_with_weights_make_the_stage_gpu_class(models):
    image, visible, rgba, offset = photo_and_output()
    off = spec(clip_score={"enabled": False}, lpips={"enabled": False}, feature_similarity={"enabled": False})
    entries, facts = model_metric_entries(off, models, image, visible, rgba, offset, "cat",
                                          GroundTruth(visible, visible, rgba, offset))
    assert facts == {}
    assert entries["clip_score"]["missing"] == "turned off (evaluate clip_score.enabled: false)"
    assert entries["hidden_lpips"]["missing"] == "turned off (evaluate lpips.enabled: false)"
    assert device_class("evaluate", off, models) == "cpu"
    assert device_class("evaluate", spec(), models) == "gpu"
    assert device_class("evaluate", spec(clip_score={"enabled": False}, feature_similarity={"enabled": False}),
                        models) == "gpu"
    # on, but no checkpoint on this machine: the metrics are missing and the job needs no GPU
    nowhere = {"paths": {name: "/nonexistent/checkpoint" for name in ("clip_vit_b32_openai", "lpips_alex")}}
    assert device_class("evaluate", spec(), nowhere) == "cpu"


def test_the_evaluate_folder_key_changes_when_a_metric_checkpoint_appears(tmp_path, monkeypatch):
    from amodal.experiments import experiment_keys
    from amodal.schema import load_experiment

    monkeypatch.setenv("AMODAL_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    experiment = load_experiment("baseline_classical")[1]
    before = experiment_keys(experiment, {})
    (tmp_path / "weights").mkdir()
    (tmp_path / "weights" / "ViT-B-32.pt").write_bytes(b"CLIP")
    after = experiment_keys(experiment, {})
    assert after["evaluate"] != before["evaluate"]  # metrics scored missing are scored again
    assert {k: v for k, v in after.items() if k != "evaluate"} == {k: v for k, v in before.items() if k != "evaluate"}
    assert experiment_keys(experiment, {"paths": {"clip_vit_b32_openai": str(tmp_path / "nowhere.pt")}}) == before
    off = dict(experiment, evaluate=spec(clip_score={"enabled": False}, feature_similarity={"enabled": False},
                                         lpips={"enabled": False}))
    (tmp_path / "weights" / "ViT-B-32.pt").unlink()
    assert experiment_keys(off, {}) == experiment_keys(off, {"paths": {"clip_vit_b32_openai": str(tmp_path)}})
