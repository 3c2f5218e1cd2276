"""GroundingDINO module: configs, build, strict loading, inference post-processing.

Everything runs on CPU with a tiny BERT written into a temporary folder; the GroundingDINO
transformer is shrunk through `overrides` (the Swin-T backbone cannot be: groundingdino-py
fixes it by name), and images are small.
"""

from __future__ import annotations

import argparse
import pathlib
import re
import runpy
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

import amodal.models.grounding_dino as gd  # noqa: E402
from amodal.models import MissingCheckpoint  # noqa: E402

from tiny_models import GROUNDING_DINO as TINY  # noqa: E402
from tiny_models import write_tiny_bert  # noqa: E402

H, W = 96, 128  # 12x16 + 6x8 + 3x4 + 2x2 = 256 encoder tokens at resize 96, >= num_queries


@pytest.fixture(scope="module")
def bert(tmp_path_factory) -> Path:
    return write_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture(scope="module")
def tiny(bert):
    torch.manual_seed(0)
    return gd.build_grounding_dino("swint_ogc", bert, overrides=TINY)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(H, W, 3), dtype=np.uint8)


# ------------------------------------------------------------------------ pure helpers


def test_caption_normalisation():
    assert gd.normalize_caption("The Cat") == "the cat."
    assert gd.normalize_caption("  A dog. ") == "a dog."
    with pytest.raises(ValueError):
        gd.normalize_caption("   ")


def test_caption_for_joins_tags_like_the_seed():
    assert gd.caption_for(["cat", "dog"]) == "cat. dog."
    assert gd.caption_for(["cat"]) == "cat."
    assert gd.normalize_caption(gd.caption_for(["Cat", "Dog"])) == "cat. dog."
    with pytest.raises(ValueError):
        gd.caption_for([])


def test_box_conversion_by_hand():
    # 200 wide, 100 high. (0.5, 0.5, 0.2, 0.4): x 0.4..0.6 -> 80..120, y 0.3..0.7 -> 30..70.
    # (0.05, 0.9, 0.2, 0.4): x -0.05..0.15 -> -10..30 -> clipped 0..30; y 0.7..1.1 -> 70..110 -> 70..100.
    boxes = [[0.5, 0.5, 0.2, 0.4], [0.05, 0.9, 0.2, 0.4]]
    np.testing.assert_allclose(gd.cxcywh_to_xyxy_pixels(boxes, 200, 100), [[80, 30, 120, 70], [0, 70, 30, 100]])
    np.testing.assert_allclose(
        gd.cxcywh_to_xyxy_pixels(boxes, 200, 100, clip=False), [[80, 30, 120, 70], [-10, 70, 30, 110]]
    )


# ---------------------------------------------------------------------------- configs


@pytest.mark.parametrize(
    "name, package_file", [("swint_ogc", "GroundingDINO_SwinT_OGC.py"), ("swinb", "GroundingDINO_SwinB_cfg.py")]
)
def test_yaml_configs_have_the_package_values(name, package_file):
    import groundingdino

    package = runpy.run_path(str(Path(groundingdino.__file__).parent / "config" / package_file))
    package = {k: v for k, v in package.items() if not k.startswith("__")}
    shipped = Path(gd.__file__).parent / "configs" / f"grounding_dino_{name}.yaml"
    assert yaml.safe_load(shipped.read_text()) == package
    assert gd.load_config(name) == package


def test_config_overrides(tmp_path):
    cfg = gd.load_config("swint_ogc", {"num_queries": 7})
    assert cfg["num_queries"] == 7 and cfg["backbone"] == "swin_T_224_1k"
    with pytest.raises(KeyError, match="num_querys"):
        gd.load_config("swint_ogc", {"num_querys": 7})
    with pytest.raises(ValueError, match="256"):
        gd.load_config("swint_ogc", {"hidden_dim": 64})
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump({**cfg, "dec_layers": 2}))
    assert gd.load_config(path)["dec_layers"] == 2
    with pytest.raises(FileNotFoundError):
        gd.load_config("swin_nonexistent")


# -------------------------------------------------------------------- full-size build


def swin_params(C, depths, heads, window, out_indices=(1, 2, 3)):
    """Parameters of groundingdino-py's Swin backbone, counted from the Swin paper's design:
    patch embedding (4x4 conv + LayerNorm), per block LN, qkv, relative position bias table
    ((2w-1)^2 x heads), proj, LN, MLP ratio 4; patch merging (LN on 4C, 4C -> 2C without bias)
    between stages; one output LayerNorm per returned stage, no classifier head."""
    n = 3 * C * 16 + C + 2 * C
    for i, (d, h) in enumerate(zip(depths, heads)):
        c = C * 2**i
        block = (
            2 * c
            + (3 * c * c + 3 * c)
            + (2 * window - 1) ** 2 * h
            + (c * c + c)
            + 2 * c
            + (4 * c * c + 4 * c)
            + (4 * c * c + c)
        )
        n += d * block
        if i < 3:
            n += 2 * 4 * c + 4 * c * 2 * c
    return n + sum(2 * C * 2**i for i in out_indices)


def _backbone_params(model):
    return sum(p.numel() for name, p in model.named_parameters() if name.startswith("backbone."))


def test_full_swint_ogc_architecture(bert):
    model = gd.build_grounding_dino("swint_ogc", bert)
    sd = model.state_dict()
    expected = {
        # Swin-T: embed 96, stage widths 96/192/384/768, heads 3/6/12/24, window 7
        "backbone.0.patch_embed.proj.weight": (96, 3, 4, 4),
        "backbone.0.layers.0.blocks.0.attn.qkv.weight": (288, 96),
        "backbone.0.layers.0.blocks.0.attn.relative_position_bias_table": (169, 3),
        "backbone.0.layers.2.blocks.5.mlp.fc1.weight": (1536, 384),
        "backbone.0.layers.3.blocks.1.attn.relative_position_bias_table": (169, 24),
        "backbone.0.norm3.weight": (768,),
        # stages 1..3 (192, 384, 768 channels) + one strided level, projected to 256
        "input_proj.0.0.weight": (256, 192, 1, 1),
        "input_proj.2.0.weight": (256, 768, 1, 1),
        "input_proj.3.0.weight": (256, 768, 3, 3),
        "feat_map.weight": (256, 32),  # tiny BERT hidden 32 -> hidden_dim 256
        "transformer.level_embed": (4, 256),
        "transformer.tgt_embed.weight": (900, 256),
        "transformer.enc_output.weight": (256, 256),
        # deformable attention: 8 heads x 4 levels x 4 points (x 2 offsets)
        "transformer.encoder.layers.5.self_attn.sampling_offsets.weight": (256, 256),
        "transformer.encoder.layers.5.self_attn.attention_weights.weight": (128, 256),
        "transformer.encoder.layers.5.linear1.weight": (2048, 256),
        "transformer.encoder.text_layers.5.self_attn.in_proj_weight": (768, 256),
        "transformer.encoder.text_layers.5.linear1.weight": (1024, 256),
        "transformer.encoder.fusion_layers.5.attn.v_proj.weight": (1024, 256),
        "transformer.decoder.layers.5.cross_attn.sampling_offsets.weight": (256, 256),
        "transformer.decoder.layers.5.ca_text.in_proj_weight": (768, 256),
        "transformer.decoder.layers.5.self_attn.in_proj_weight": (768, 256),
        "transformer.decoder.layers.5.linear2.weight": (256, 2048),
        "bbox_embed.5.layers.2.weight": (4, 256),
    }
    assert {k: tuple(sd[k].shape) for k in expected} == expected
    assert (
        "transformer.encoder.layers.6.norm1.weight" not in sd and "transformer.decoder.layers.6.norm1.weight" not in sd
    )
    # 27,520,506 = timm's Swin-T 28,288,354 - ImageNet head (768*1000+1000) - final norm (2*768)
    # + the three output norms (2*(192+384+768)); the paper's "Swin-T 28M"
    assert _backbone_params(model) == swin_params(96, [2, 2, 6, 2], [3, 6, 12, 24], 7) == 27_520_506


def test_swinb_backbone(bert):
    model = gd.build_grounding_dino("swinb", bert, overrides=TINY)
    sd = model.state_dict()
    assert tuple(sd["backbone.0.patch_embed.proj.weight"].shape) == (128, 3, 4, 4)
    assert tuple(sd["backbone.0.layers.0.blocks.0.attn.relative_position_bias_table"].shape) == (529, 4)  # window 12
    assert "backbone.0.layers.2.blocks.17.attn.qkv.weight" in sd
    assert tuple(sd["input_proj.0.0.weight"].shape) == (256, 256, 1, 1)
    assert tuple(sd["input_proj.3.0.weight"].shape) == (256, 1024, 3, 3)
    assert tuple(sd["transformer.tgt_embed.weight"].shape) == (12, 256)
    assert _backbone_params(model) == swin_params(128, [2, 2, 18, 2], [4, 8, 16, 32], 12)


# ---------------------------------------------------------------------------- loading


def _save(path, state):
    torch.save(state, path)
    return path


def test_load_round_trip_strict(tiny, bert, tmp_path):
    reference = {k: v.clone() for k, v in tiny.state_dict().items()}
    wrapped = {f"module.{k}": v for k, v in reference.items()}
    # the released checkpoints also carry these two, which the inference model has no slot for
    wrapped["module.label_enc.weight"] = torch.zeros(2001, 256)
    wrapped["module.bert.embeddings.position_ids"] = torch.arange(512)[None]
    ckpt = _save(tmp_path / "gd.pth", {"model": wrapped})
    torch.manual_seed(123)
    loaded = gd.load_grounding_dino(ckpt, "swint_ogc", bert, overrides=TINY)
    got = loaded.state_dict()
    assert set(got) == set(reference)
    for key, value in reference.items():
        assert torch.equal(got[key], value), key
    assert not loaded.training
    # a bare state dict (no "model" entry, no prefix) loads too
    bare = _save(tmp_path / "bare.pth", reference)
    gd.load_grounding_dino(bare, "swint_ogc", bert, overrides=TINY)


def test_a_training_checkpoint_with_its_argparse_namespace_loads(tiny, bert, tmp_path):
    reference = {k: v.clone() for k, v in tiny.state_dict().items()}
    args = argparse.Namespace(lr=1e-4, backbone="swin_T_224_1k", text_encoder_type="bert-base-uncased")
    ckpt = _save(tmp_path / "train.pth", {"model": reference, "args": args, "epoch": 11})
    loaded = gd.load_grounding_dino(ckpt, "swint_ogc", bert, overrides=TINY)
    assert torch.equal(loaded.state_dict()["transformer.level_embed"], reference["transformer.level_embed"])


class _RunsCodeWhenUnpickled:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def test_a_checkpoint_holding_other_objects_is_refused_without_running_them(tiny, bert, tmp_path):
    import pickle

    pickle.loads(pickle.dumps(_RunsCodeWhenUnpickled(tmp_path / "proof")))
    assert (tmp_path / "proof").exists()  # a plain unpickle does run the payload
    marker = tmp_path / "code_ran"
    state = {k: v.clone() for k, v in tiny.state_dict().items()}
    ckpt = _save(tmp_path / "hostile.pth", {"model": state, "extra": _RunsCodeWhenUnpickled(marker)})
    with pytest.raises(gd.CheckpointMismatch, match="no arbitrary unpickling") as info:
        gd.load_grounding_dino(ckpt, "swint_ogc", bert, overrides=TINY)
    assert str(ckpt) in str(info.value)
    assert not marker.exists()  # the object's code never ran


@pytest.mark.parametrize("damage", ["rename", "extra", "missing", "shape"])
def test_load_rejects_mismatch(tiny, bert, tmp_path, damage):
    state = {k: v.clone() for k, v in tiny.state_dict().items()}
    if damage == "rename":
        state["transformer.level_embedding"] = state.pop("transformer.level_embed")
    elif damage == "extra":
        state["transformer.extra_head.weight"] = torch.zeros(3)
    elif damage == "missing":
        del state["feat_map.bias"]
    else:
        state["transformer.level_embed"] = torch.zeros(5, 256)
    ckpt = _save(tmp_path / f"{damage}.pth", {"model": state})
    with pytest.raises(gd.CheckpointMismatch, match=re.escape(str(ckpt))) as info:
        gd.load_grounding_dino(ckpt, "swint_ogc", bert, overrides=TINY)
    if damage == "rename":
        assert "transformer.level_embedding" in str(info.value) and "'transformer.level_embed'" in str(info.value)


def test_missing_checkpoint_and_text_encoder(bert, tmp_path):
    with pytest.raises(MissingCheckpoint) as info:
        gd.load_grounding_dino(tmp_path / "nope.pth", "swint_ogc", bert)
    assert info.value.weights_name == "groundingdino_swint_ogc"
    assert "set models.paths.groundingdino_swint_ogc to the file" in str(info.value) and "nope.pth" in str(info.value)
    assert "amodal weights fetch groundingdino_swint_ogc" in str(info.value)
    with pytest.raises(MissingCheckpoint) as info:
        gd.load_grounding_dino(tmp_path / "nope.pth", "swinb", bert)
    assert info.value.weights_name == "groundingdino_swinb"
    assert "amodal weights fetch groundingdino_swinb" in str(info.value) and "models.paths.groundingdino_swinb" in str(
        info.value
    )

    ckpt = _save(tmp_path / "present.pth", {"model": {}})
    with pytest.raises(MissingCheckpoint) as info:
        gd.load_grounding_dino(ckpt, "swint_ogc", tmp_path / "no_bert")
    assert info.value.weights_name == "bert_base_uncased"
    assert "set models.paths.bert_base_uncased to the file" in str(info.value) and "no_bert" in str(info.value)
    assert "amodal weights fetch bert_base_uncased" in str(info.value)
    with pytest.raises(MissingCheckpoint):
        gd.build_grounding_dino("swint_ogc", tmp_path / "no_bert")


# -------------------------------------------------------------------------- inference


def _check_boxes(dets, threshold):
    for d in dets:
        x0, y0, x1, y1 = d.box_xyxy
        assert 0 <= x0 <= x1 <= W and 0 <= y0 <= y1 <= H
        assert threshold <= d.score <= 1


def test_detect_thresholds(tiny, image):
    grounder = gd.Grounder(tiny, "cpu", box_threshold=0.0, text_threshold=0.0, resize=H)
    everything = grounder.detect(image, "A cat. A dog")
    assert len(everything) == TINY["num_queries"]
    _check_boxes(everything, 0.0)
    assert all(isinstance(d.box_xyxy, tuple) and len(d.box_xyxy) == 4 for d in everything)
    # every caption token is above 0: the phrase is the whole normalised caption
    assert {d.phrase for d in everything} == {"a cat. a dog."}

    median = float(np.median([d.score for d in everything]))
    grounder.box_threshold, grounder.text_threshold = median, 0.35
    some = grounder.detect(image, "A cat. A dog")
    _check_boxes(some, median)
    assert 0 < len(some) < len(everything)
    boxes = {d.box_xyxy for d in everything}
    assert all(d.box_xyxy in boxes for d in some)
    for d in some:
        assert set(d.phrase.replace(".", " ").split()) <= {"a", "cat", "dog"}

    grounder.box_threshold = 1.0
    assert grounder.detect(image, "A cat. A dog") == []


def test_detect_many_per_caption(tiny, image):
    grounder = gd.Grounder(tiny, "cpu", box_threshold=0.0, text_threshold=0.0, resize=H)
    cat, photo = grounder.detect_many(image, ["cat", "Photo of the dog."])
    assert len(cat) == len(photo) == TINY["num_queries"]
    assert {d.phrase for d in cat} == {"cat."}
    assert {d.phrase for d in photo} == {"photo of the dog."}
    grounder.text_threshold = 1.0  # no token is above 1: empty phrases
    assert {d.phrase for d in grounder.detect(image, "cat")} == {""}


def test_phrases_per_box_skip_special_and_padding_tokens(tiny, monkeypatch):
    import groundingdino.util.utils as gd_utils

    decodes = []
    real = gd_utils.get_phrases_from_posmap
    monkeypatch.setattr(gd_utils, "get_phrases_from_posmap", lambda *a: decodes.append(1) or real(*a))
    # "cat. dog." -> [CLS] cat . dog . [SEP]; rows mark tokens above text_threshold, 8 slots
    grounder = gd.Grounder(tiny, "cpu", resize=H)
    tokenized = grounder.tokenizer("cat. dog.")
    assert len(tokenized["input_ids"]) == 6
    rows = torch.tensor(
        [
            [0, 1, 0, 0, 0, 0, 0, 0],  # cat
            [1, 1, 1, 0, 0, 1, 1, 1],  # [CLS] cat . [SEP] + padding slots: "cat."
            [0, 0, 0, 1, 0, 0, 0, 0],  # dog
            [0, 1, 0, 0, 0, 0, 0, 0],  # cat again (decoded once, same answer)
            [1, 0, 0, 0, 0, 1, 0, 0],  # only special tokens: empty
        ],
        dtype=torch.bool,
    )
    assert grounder._phrases(rows, tokenized) == ["cat", "cat.", "dog", "cat", ""]
    assert len(decodes) == 4  # 5 rows, 4 distinct token sets


def test_detect_rejects_non_uint8_rgb(tiny):
    grounder = gd.Grounder(tiny, "cpu", resize=H)
    with pytest.raises(ValueError):
        grounder.detect(np.zeros((H, W, 3), np.float32), "cat")
    with pytest.raises(ValueError):
        grounder.detect(np.zeros((H, W), np.uint8), "cat")


def test_preprocess_resizes_shorter_side(tiny):
    grounder = gd.Grounder(tiny, "cpu")  # defaults: 800, at most 1333
    assert grounder.resize == 800 and grounder.box_threshold == 0.35 and grounder.text_threshold == 0.35
    tensor = grounder.preprocess(np.full((60, 80, 3), 255, np.uint8))
    assert tuple(tensor.shape) == (3, 800, 1066)  # 80 * 800 / 60 = 1066.7, truncated as torchvision does
    # white pixel, normalised: (1 - 0.485) / 0.229
    assert float(tensor[0, 0, 0]) == pytest.approx((1 - 0.485) / 0.229, rel=1e-5)
    wide = gd.Grounder(tiny, "cpu", resize=100, max_size=160).preprocess(np.zeros((50, 200, 3), np.uint8))
    assert tuple(wide.shape[1:]) == (40, 160)  # 100 * 200/50 > 160: shorter side 160 * 50/200 = 40
