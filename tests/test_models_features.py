"""Feature similarity's other image encoders (amodal.models.features): DINOv2 and ResNet-50 built as
the real architectures, loaded strictly from local files (a folder, the Hugging Face cache, the
torch hub cache), never downloaded; their preprocessing checked by hand."""

import json
import shutil

import numpy as np
import pytest
import torch

from amodal.models import CheckpointMismatch, MissingCheckpoint
from amodal.models.cache import ModelCache, checkpoint_label
from amodal.models.features import Preprocess, build_dinov2, build_resnet50, load_dinov2, load_resnet50
from amodal.models.weights.locate import locate
from tiny_models import DINOV2, DINOV2_CROP, RESNET50, write_resnet50_checkpoint, write_tiny_dinov2


@pytest.fixture(scope="module")
def dinov2(tmp_path_factory):
    return write_tiny_dinov2(tmp_path_factory.mktemp("features") / "dinov2")


def test_preprocess_resizes_the_square_whole_and_normalises_per_channel():
    image = np.zeros((10, 10, 3), np.uint8)
    image[...] = (51, 102, 204)  # 0.2, 0.4, 0.8
    pixels = Preprocess(size=7, resample=3, mean=(0.5, 0.5, 0.5), std=(0.25, 0.5, 1.0))(image)
    assert pixels.shape == (3, 7, 7) and pixels.dtype == torch.float32
    assert torch.allclose(pixels[:, 3, 3], torch.tensor([(0.2 - 0.5) / 0.25, (0.4 - 0.5) / 0.5, 0.8 - 0.5]))
    # a left half black, right half white: still split down the middle after the resize (nothing cropped)
    halves = np.zeros((8, 8, 3), np.uint8)
    halves[:, 4:] = 255
    row = Preprocess(size=4, resample=2, mean=(0, 0, 0), std=(1, 1, 1))(halves)[0, 2]
    assert row[0] == 0 and row[3] == 1 and row[1] < 0.5 < row[2]
    with pytest.raises(ValueError, match="uint8 HxWx3"):
        Preprocess(4, 2, (0, 0, 0), (1, 1, 1))(halves.astype(np.float32))


def test_dinov2_loads_a_transformers_folder_with_its_processor_settings(dinov2):
    encoder = load_dinov2(dinov2)
    assert encoder.input_size == DINOV2_CROP
    assert encoder.preprocess.resample == 3 and encoder.preprocess.mean == (0.485, 0.456, 0.406)
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 256, (40, 40, 3)).astype(np.uint8) for _ in range(2)]
    embeddings = encoder.image_embeddings(images + images[:1])
    assert embeddings.shape == (3, DINOV2["hidden_size"]) and embeddings.dtype == np.float64
    assert np.allclose(np.linalg.norm(embeddings, axis=1), 1.0)
    assert np.allclose(embeddings[0], embeddings[2], atol=1e-6) and not np.allclose(embeddings[0], embeddings[1])
    assert np.allclose(load_dinov2(dinov2).image_embeddings(images), embeddings[:2], atol=1e-6)  # deterministic


def test_the_dinov2_loader_is_strict_and_names_what_is_missing(dinov2, tmp_path):
    from transformers import Dinov2Model

    model = Dinov2Model.from_pretrained(dinov2)
    short = tmp_path / "short"
    model.save_pretrained(short, state_dict={k: v for k, v in model.state_dict().items() if k != "layernorm.weight"})
    shutil.copy(dinov2 / "preprocessor_config.json", short)
    with pytest.raises(CheckpointMismatch, match="layernorm.weight missing"):
        load_dinov2(short)
    wide = tmp_path / "wide"
    shutil.copytree(dinov2, wide)
    config = json.loads((wide / "config.json").read_text())
    (wide / "config.json").write_text(json.dumps(dict(config, hidden_size=64, intermediate_size=128)))
    with pytest.raises(CheckpointMismatch, match="Dinov2Model"):
        load_dinov2(wide)
    bare = tmp_path / "bare"
    shutil.copytree(dinov2, bare)
    (bare / "preprocessor_config.json").unlink()
    with pytest.raises(MissingCheckpoint, match=r"preprocessor_config.json.*amodal weights fetch dinov2_base"):
        load_dinov2(bare)
    shutil.copy(dinov2 / "preprocessor_config.json", bare)
    (bare / "model.safetensors").unlink()
    with pytest.raises(MissingCheckpoint, match=r"model.safetensors.*amodal weights fetch dinov2_base"):
        load_dinov2(bare)
    (bare / "preprocessor_config.json").write_text(json.dumps({"crop_size": {"height": 56, "width": 56}}))
    shutil.copy(dinov2 / "model.safetensors", bare)
    with pytest.raises(ValueError, match=r"lacks \['image_mean', 'image_std'\]"):
        load_dinov2(bare)


def test_dinov2_is_found_in_the_hugging_face_cache_and_recorded_as_repo_and_commit(dinov2, tmp_path, monkeypatch):
    import huggingface_hub.constants

    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "hub" / "models--facebook--dinov2-base"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(dinov2, repo / "snapshots" / commit)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("AMODAL_WEIGHTS", str(tmp_path / "empty"))
    found = locate("dinov2_base")
    assert found == repo / "snapshots" / commit
    assert checkpoint_label(found) == "facebook/dinov2-base@0123456789ab"
    encoder = ModelCache({"device": "cpu"}).feature_encoder("dinov2_base")
    assert encoder.input_size == DINOV2_CROP
    (repo / "snapshots" / commit / "preprocessor_config.json").unlink()
    assert locate("dinov2_base") is None  # every file of the entry, or none


def test_resnet50_is_found_in_the_torch_hub_cache_and_loaded_strictly(tmp_path, monkeypatch):
    checkpoints = tmp_path / "torch" / "hub" / "checkpoints"
    path = write_resnet50_checkpoint(checkpoints / "resnet50-11ad3fa6.pth")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("AMODAL_WEIGHTS", str(tmp_path / "empty"))
    assert locate("resnet50_imagenet1k_v2") == path
    models = ModelCache({"device": "cpu", "architectures": {"resnet50_imagenet1k_v2": RESNET50}})
    encoder = models.feature_encoder("resnet50_imagenet1k_v2")
    assert isinstance(encoder.network.fc, torch.nn.Identity) and encoder.input_size == 224
    assert encoder.image_embeddings([np.zeros((5, 5, 3), np.uint8)]).shape == (1, 2048)
    state = torch.load(path, weights_only=True)
    del state["layer4.0.conv3.weight"]
    torch.save(state, tmp_path / "short.pth")
    with pytest.raises(CheckpointMismatch, match="layer4.0.conv3.weight"):
        load_resnet50(tmp_path / "short.pth", layers=RESNET50["layers"])
    with pytest.raises(CheckpointMismatch, match="layer1.1"):  # the full ResNet-50 has more blocks than the file
        load_resnet50(path)


def test_the_full_size_builds_have_the_released_key_names_and_shapes():
    from transformers import Dinov2Config

    with torch.device("meta"):
        # facebook/dinov2-base's config.json: ViT-B/14 with position embeddings for 518 px
        dinov2 = build_dinov2(
            Dinov2Config(
                hidden_size=768,
                num_hidden_layers=12,
                num_attention_heads=12,
                patch_size=14,
                image_size=518,
                layerscale_value=1.0,
            )
        ).state_dict()
        resnet = build_resnet50().state_dict()
    assert dinov2["embeddings.position_embeddings"].shape == (1, 1370, 768)
    assert dinov2["embeddings.patch_embeddings.projection.weight"].shape == (768, 3, 14, 14)
    assert dinov2["encoder.layer.11.layer_scale2.lambda1"].shape == (768,)
    assert {"embeddings.cls_token", "embeddings.mask_token", "layernorm.bias"} <= set(dinov2)
    assert resnet["layer4.2.conv3.weight"].shape == (2048, 512, 1, 1) and resnet["fc.weight"].shape == (1000, 2048)
    assert len(resnet) == 320  # torchvision's resnet50 state dict, batch-norm counters included


def test_unknown_feature_weights_are_refused():
    with pytest.raises(ValueError, match="unknown feature-similarity weights"):
        ModelCache().feature_encoder("lpips_alex")
