"""The model-based metrics (CLIP score, feature similarity, LPIPS, hidden LPIPS) through the evaluate
stage's own loading (amodal.stages.evaluate.model_metric_entries, amodal.models.cache), against the
reference library on the same networks: torchmetrics' CLIPScore (given the same tiny random-weight
open_clip model through its model/processor hook), torchmetrics'
LearnedPerceptualImagePatchSimilarity (reading the same random backbone file from the torch hub
cache, as it reads torchvision's), and for feature similarity with DINOv2 and ResNet-50,
transformers' Dinov2Model and BitImageProcessor and torchvision's ResNet and classification transform
called here, with torch's cosine_similarity. Every expected image is built here by hand, slice by slice."""

import shutil

import cv2
import numpy as np
import pytest
import torch

from amodal.stages.evaluate import GroundTruth, model_metric_entries
from amodal.plan.keys import device_class
from amodal.metrics import is_missing
from amodal.metrics import model_based
from amodal.models import CheckpointMismatch
from amodal.models.cache import ModelCache
from amodal.models.clip import build_clip
from amodal.models.lpips import load_lpips
from amodal.config.schema import validated
from metric_references import clip_score, clip_score_metric, lpips as lpips_reference
from tiny_models import CLIP, DINOV2_CROP, RESNET50, write_lpips_backbone, write_resnet50_checkpoint, write_tiny_dinov2

BG = (124, 116, 104)
HUB_NAME = "alexnet-owt-7be5be79.pth"  # torchvision's file name, which torchmetrics looks for


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    folder = tmp_path_factory.mktemp("metric_weights")
    torch.manual_seed(0)
    torch.save(build_clip(config=CLIP)[0].state_dict(), folder / "clip.pt")
    write_lpips_backbone(folder / "alexnet.pth")
    write_tiny_dinov2(folder / "dinov2")
    write_resnet50_checkpoint(folder / "resnet50.pth")
    return folder


@pytest.fixture(scope="module")
def config(weights):
    return {
        "device": "cpu",
        "paths": {
            "clip_vit_b32_openai": str(weights / "clip.pt"),
            "lpips_alex": str(weights / "alexnet.pth"),
            "dinov2_base": str(weights / "dinov2"),
            "resnet50_imagenet1k_v2": str(weights / "resnet50.pth"),
        },
        "architectures": {"clip_vit_b32_openai": {"config": CLIP}, "resnet50_imagenet1k_v2": RESNET50},
    }


@pytest.fixture(scope="module")
def models(config):
    """One cache for the module's tests, as a job has one for its instances."""
    return ModelCache(config)


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
    entries, facts = model_metric_entries(
        spec(lpips={"enabled": False}), models, image, visible, small, offset, "the cup", None
    )
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
    expected = (
        clip_score(
            clip_score_metric(weights / "clip.pt", CLIP),
            np.rint(source).astype(np.uint8),
            np.rint(output).astype(np.uint8),
        )
        / 100
    )
    ours = entries["feature_similarity"]
    assert ours["cosine"] > 0 and ours["value"] == ours["cosine"]
    assert ours["value"] == pytest.approx(expected, rel=1e-5)


# --- feature similarity with DINOv2 and ResNet-50 ---------------------------------------------------


def features_only(model):
    return spec(clip_score={"enabled": False}, lpips={"enabled": False}, feature_similarity={"model": model})


def dinov2_reference(folder, images):
    """CLS tokens of transformers' Dinov2Model on BitImageProcessor's pixels: the square resized
    whole (height and width given, no crop), bicubic, ImageNet mean and std; the final layer norm
    applied here to the last layer's hidden states."""
    from transformers import BitImageProcessor, Dinov2Model
    from transformers.image_utils import PILImageResampling

    processor = BitImageProcessor(
        do_resize=True,
        size={"height": DINOV2_CROP, "width": DINOV2_CROP},
        resample=PILImageResampling.BICUBIC,
        do_center_crop=False,
        do_rescale=True,
        rescale_factor=1 / 255,
        do_normalize=True,
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    )
    pixels = processor(images=images, return_tensors="pt").pixel_values
    assert pixels.shape == (len(images), 3, DINOV2_CROP, DINOV2_CROP)
    model = Dinov2Model.from_pretrained(folder).eval()
    with torch.no_grad():
        hidden = model(pixel_values=pixels, output_hidden_states=True).hidden_states[-1]
        return model.layernorm(hidden)[:, 0]


def resnet50_reference(checkpoint, images):
    """torchvision's ResNet (the test's own build, one block per stage as RESNET50) on torchvision's
    ImageNet classification transform resizing the square to 224 (no crop), up to its average pool."""
    from PIL import Image
    from torchvision.models.feature_extraction import create_feature_extractor
    from torchvision.models.resnet import Bottleneck, ResNet
    from torchvision.transforms._presets import ImageClassification

    model = ResNet(Bottleneck, RESNET50["layers"])
    model.load_state_dict(torch.load(checkpoint, weights_only=True))
    pool = create_feature_extractor(model.eval(), {"avgpool": "pool"})
    transform = ImageClassification(crop_size=224, resize_size=224)
    batch = torch.stack([transform(Image.fromarray(image)) for image in images])
    with torch.no_grad():
        return pool(batch)["pool"].flatten(1)


@pytest.mark.parametrize("model", ["dinov2_base", "resnet50_imagenet1k_v2"])
def test_feature_similarity_with_another_backbone_is_the_cosine_of_its_embeddings_computed_independently(
    weights, models, model
):
    image, visible, rgba, offset = photo_and_output()
    entries, facts = model_metric_entries(features_only(model), models, image, visible, rgba, offset, "cat", None)
    source, output = (np.rint(side).astype(np.uint8) for side in visible_pair_by_hand(image, visible, rgba))
    if model == "dinov2_base":
        embeddings = dinov2_reference(weights / "dinov2", [source, output])
        assert facts["feature_similarity"] == {
            "weights": "dinov2_base",
            "checkpoint": "dinov2",
            "input_size": 56,
            "backbone": "dinov2 ViT (width 32, 2 layers, patch 14)",
        }
    else:
        embeddings = resnet50_reference(weights / "resnet50.pth", [source, output])
        assert embeddings.shape == (2, 2048)
        assert facts["feature_similarity"] == {
            "weights": "resnet50_imagenet1k_v2",
            "checkpoint": "resnet50.pth",
            "input_size": 224,
            "backbone": "resnet50 (bottleneck blocks 1-1-1-1)",
        }
    expected = float(torch.nn.functional.cosine_similarity(embeddings[0:1], embeddings[1:2]))
    ours = entries["feature_similarity"]
    assert expected < 0.999  # half the object was repainted: the random networks see it
    assert ours["value"] == ours["cosine"] == pytest.approx(expected, abs=1e-5)
    assert 1 - ours["value"] == pytest.approx(1 - expected, rel=1e-3)  # random networks give cosines near 1
    assert set(entries) >= {"clip_score", "lpips"} and facts.keys() == {"feature_similarity"}
    # the input itself as the output: the same embedding
    same = np.dstack([image, np.full(visible.shape, 255, np.uint8)])
    entries, _ = model_metric_entries(features_only(model), models, image, visible, same, (0, 0), "cat", None)
    assert entries["feature_similarity"]["value"] == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize(
    "model, looked_for", [("dinov2_base", "dinov2-base"), ("resnet50_imagenet1k_v2", "resnet50-11ad3fa6.pth")]
)
def test_an_absent_encoder_makes_feature_similarity_missing_naming_the_file_and_the_fetch(
    tmp_path, monkeypatch, model, looked_for
):
    import huggingface_hub.constants

    monkeypatch.setenv("AMODAL_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    image, visible, rgba, offset = photo_and_output()
    entries, facts = model_metric_entries(
        features_only(model), ModelCache({"device": "cpu"}), image, visible, rgba, offset, "cat", None
    )
    assert facts == {}
    entry = entries["feature_similarity"]
    assert is_missing(entry) and entry["value"] is None
    assert f"checkpoint {looked_for} not found" in entry["missing"]
    assert str(tmp_path) not in entry["missing"]  # no folder of the machine that ran it: tables stay portable
    assert f"amodal weights fetch {model}" in entry["missing"]


def test_the_definition_names_the_backbone_its_embedding_preprocessing_and_checkpoint():
    from amodal.metrics.definitions import definitions

    facts = {
        "feature_similarity": {
            "weights": "dinov2_base",
            "checkpoint": "facebook/dinov2-base@0123456789ab",
            "backbone": "dinov2 ViT (width 768, 12 layers, patch 14)",
            "input_size": 224,
        }
    }
    text = definitions(features_only("dinov2_base"), facts)["feature_similarity"]
    assert "DINOv2 ViT-B/14" in text and "pooler_output" in text and "after the final layer norm" in text
    assert (
        "weights dinov2_base (checkpoint facebook/dinov2-base@0123456789ab, backbone dinov2 ViT (width 768, "
        "12 layers, patch 14), input size 224)"
    ) in text
    assert "224 x 224 px, bicubic" in text and "no crop" in text and "RGB (124, 116, 104)" in text
    resnet = definitions(features_only("resnet50_imagenet1k_v2"))["feature_similarity"]
    assert "ResNet-50" in resnet and "IMAGENET1K_V2" in resnet and "global average pool before fc" in resnet
    assert "bilinear" in resnet
    assert "CLIP image encoder" in definitions()["feature_similarity"]  # the default


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
    expected = lpips_reference(
        cv2.resize(first, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float64),
        cv2.resize(second, (64, 64), interpolation=cv2.INTER_AREA).astype(np.float64),
    )
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
    entries, _ = model_metric_entries(
        spec(lpips={"size": 64}), models, image, visible, prediction, (-6, 10), "cat", truth
    )
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
    from amodal.models.weights.locate import locate

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
    entries, facts = model_metric_entries(
        spec(), ModelCache({"device": "cpu"}), image, visible, rgba, offset, "cat", truth
    )
    assert facts == {}
    for name in ("clip_score", "feature_similarity"):
        assert is_missing(entries[name]) and entries[name]["value"] is None
        assert "checkpoint ViT-B-32.pt not found" in entries[name]["missing"]
        assert "amodal weights fetch clip_vit_b32_openai" in entries[name]["missing"]
    for name in ("lpips", "hidden_lpips"):
        assert f"checkpoint {HUB_NAME} not found" in entries[name]["missing"]
    for entry in entries.values():
        assert str(tmp_path) not in (entry.get("missing") or "")
        assert "amodal weights fetch lpips_alex" in entries[name]["missing"]


def test_turned_off_metrics_are_missing_and_only_metrics_that_are_on_with_weights_make_the_stage_gpu_class(
    models, config
):
    image, visible, rgba, offset = photo_and_output()
    off = spec(clip_score={"enabled": False}, lpips={"enabled": False}, feature_similarity={"enabled": False})
    entries, facts = model_metric_entries(
        off, models, image, visible, rgba, offset, "cat", GroundTruth(visible, visible, rgba, offset)
    )
    assert facts == {}
    assert entries["clip_score"]["missing"] == "turned off (evaluate clip_score.enabled: false)"
    assert entries["hidden_lpips"]["missing"] == "turned off (evaluate lpips.enabled: false)"
    assert device_class("evaluate", off, config) == "cpu"
    assert device_class("evaluate", spec(), config) == "gpu"
    assert (
        device_class("evaluate", spec(clip_score={"enabled": False}, feature_similarity={"enabled": False}), config)
        == "gpu"
    )
    # on, but no checkpoint on this machine: the metrics are missing and the job needs no GPU
    nowhere = {"paths": {name: "/nonexistent/checkpoint" for name in ("clip_vit_b32_openai", "lpips_alex")}}
    assert device_class("evaluate", spec(), nowhere) == "cpu"


def test_the_evaluate_folder_key_changes_when_a_metric_checkpoint_appears(tmp_path, monkeypatch):
    from amodal.plan.keys import experiment_keys
    from amodal.config.schema import load_experiment

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
    off = dict(
        experiment,
        evaluate=spec(clip_score={"enabled": False}, feature_similarity={"enabled": False}, lpips={"enabled": False}),
    )
    (tmp_path / "weights" / "ViT-B-32.pt").unlink()
    assert experiment_keys(off, {}) == experiment_keys(off, {"paths": {"clip_vit_b32_openai": str(tmp_path)}})


def test_the_evaluate_folder_key_covers_the_feature_backbone_and_whether_its_checkpoint_was_found(
    tmp_path, monkeypatch
):
    import huggingface_hub.constants

    from amodal.plan.keys import experiment_keys
    from amodal.config.schema import load_experiment

    monkeypatch.setenv("AMODAL_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    experiment = load_experiment("baseline_classical")[1]
    dinov2 = dict(experiment, evaluate=spec(feature_similarity={"model": "dinov2_base"}))
    resnet = dict(experiment, evaluate=spec(feature_similarity={"model": "resnet50_imagenet1k_v2"}))
    keys = {
        name: experiment_keys(e, {})["evaluate"]
        for name, e in (("clip", experiment), ("dinov2", dinov2), ("resnet", resnet))
    }
    assert len(set(keys.values())) == 3
    folder = tmp_path / "weights" / "dinov2-base"
    folder.mkdir(parents=True)
    for name in ("config.json", "model.safetensors"):
        (folder / name).write_text("{}")
    assert experiment_keys(dinov2, {})["evaluate"] == keys["dinov2"]  # an incomplete folder is not found
    (folder / "preprocessor_config.json").write_text("{}")
    assert experiment_keys(dinov2, {})["evaluate"] != keys["dinov2"]
    (tmp_path / "torch" / "hub" / "checkpoints").mkdir(parents=True)
    (tmp_path / "torch" / "hub" / "checkpoints" / "resnet50-11ad3fa6.pth").write_bytes(b"x")
    assert experiment_keys(resnet, {})["evaluate"] != keys["resnet"]


def test_doctor_lists_the_feature_encoder_as_an_optional_checkpoint(tmp_path, monkeypatch):
    import huggingface_hub.constants

    from amodal.plan import preflight as doctor
    from amodal.config.schema import load_experiment

    monkeypatch.setenv("AMODAL_WEIGHTS", str(tmp_path / "weights"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hf"))
    experiment = load_experiment("baseline_classical")[1]
    experiment = dict(experiment, evaluate=spec(feature_similarity={"model": "dinov2_base"}))
    assert doctor.metric_weights(experiment)["dinov2_base"] == ["evaluate/feature_similarity"]
    text, ok = doctor.report("dino", experiment, {"device": "cpu"})
    line = next(line for line in text.splitlines() if line.strip().startswith("dinov2_base"))
    assert ok  # optional: the run goes on, the metric is missing
    assert "evaluate/feature_similarity" in line and str(tmp_path / "weights" / "dinov2-base") in line
    assert "amodal weights fetch dinov2_base" in line
    text, _ = doctor.report("dino", experiment, {"device": "cpu", "paths": {"dinov2_base": str(tmp_path)}})
    assert f"found at {tmp_path}" in next(line for line in text.splitlines() if "dinov2_base" in line)
