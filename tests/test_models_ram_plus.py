"""RAM++: our network's state dict equals the reference implementation's (names and shapes
recorded from xinyu1205/recognize-anything's source, tests/reference/), a checkpoint in the
released layout loads strictly, the original-Swin layout worked by hand, the description
reweighting and the cross-attention layer against independent computations, the seed's
threshold, tag order and 'background', and a tiny network through the tag stage.

At development time the full-size network was also run against the reference implementation on
the same random weights and input (recorded in docs/design.md): equal image embeddings, tag
probabilities within 3e-7, the same 3,127 tags."""

import json
import logging
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from amodal.models import CheckpointMismatch, MissingCheckpoint
from amodal.models.cache import ModelCache
from amodal.models.ram_plus import build_ram_plus, load_ram_plus, prepare
from amodal.config.schema import validated
from amodal.stages.tag import run_tag
from tiny_models import RAM_PLUS, write_tiny_ram_plus

REFERENCE = json.loads((Path(__file__).parent / "reference" / "ram_plus_state_dict.json").read_text())
DATA = Path(__file__).parent.parent / "src" / "amodal" / "data" / "ram_plus"


def test_the_state_dict_equals_the_reference_implementations():
    with torch.device("meta"):  # shapes only: the full network holds 329 M parameters
        model = build_ram_plus()
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    assert len(REFERENCE["keys"]) == REFERENCE["num_state_dict_entries"] == 402
    assert ours == REFERENCE["keys"]
    assert sum(p.numel() for p in model.parameters()) == REFERENCE["num_parameters"] == 329_493_046
    # the buffers the reference stores are the ones the original Swin layout has
    buffers = {k for k in ours if k.endswith(("relative_position_index", "attn_mask"))}
    assert buffers == set(REFERENCE["buffers"])


def tiny_state():
    torch.manual_seed(3)
    state = build_ram_plus(**RAM_PLUS).state_dict()
    state["label_embed"] = torch.randn(state["label_embed"].shape)
    state["fc.bias"] = torch.tensor([0.25])
    return state


def test_a_checkpoint_in_the_released_layout_loads_strictly(tmp_path):
    path = write_tiny_ram_plus(tmp_path / "ram_plus_swin_large_14m.pth")
    saved = torch.load(path, weights_only=True)["model"]
    model = load_ram_plus(path, **RAM_PLUS)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in saved.items())
    assert not model.training


def test_the_reference_loaders_renaming_and_absent_derived_buffers(tmp_path, caplog):
    state = tiny_state()
    renamed = {
        k.replace("tagging_head", "vision_multi"): v
        for k, v in state.items()
        if not k.endswith(("relative_position_index", "attn_mask"))
    }
    renamed["text_decoder.bias"] = torch.zeros(3)  # unused by the tagger: logged, not loaded
    path = tmp_path / "old.pth"
    torch.save({"model": renamed}, path)
    with caplog.at_level(logging.WARNING):
        model = load_ram_plus(path, **RAM_PLUS)
    assert torch.equal(
        model.state_dict()["tagging_head.encoder.layer.0.crossattention.self.key.weight"],
        state["tagging_head.encoder.layer.0.crossattention.self.key.weight"],
    )
    assert "text_decoder.bias" in caplog.text


@pytest.mark.parametrize("damage", ["missing", "shape", "derived_buffer"])
def test_a_checkpoint_that_does_not_fit_is_named(tmp_path, damage):
    state = tiny_state()
    if damage == "missing":
        del state["image_proj.bias"]
    elif damage == "shape":
        state["fc.weight"] = torch.zeros(1, 7)
    else:
        key = next(k for k in state if k.endswith("attn_mask"))
        state[key] = torch.zeros_like(state[key])
    path = tmp_path / "ram_plus_swin_large_14m.pth"
    torch.save({"model": state}, path)
    with pytest.raises(CheckpointMismatch, match="ram_plus_swin_large_14m.pth"):
        load_ram_plus(path, **RAM_PLUS)


def test_a_missing_checkpoint_names_the_file_and_how_to_get_it(tmp_path):
    with pytest.raises(MissingCheckpoint) as info:
        load_ram_plus(tmp_path / "ram_plus_swin_large_14m.pth")
    assert "amodal weights fetch ram_plus_swin_large_14m" in str(info.value)


def test_the_original_swin_layout_by_hand():
    state = build_ram_plus(**dict(RAM_PLUS, window_size=2, image_size=64)).state_dict()
    # patch merging ends stages 0-2 (4C -> 2C channels); the last stage has none
    assert list(state["visual_encoder.layers.0.downsample.reduction.weight"].shape) == [32, 64]
    assert list(state["visual_encoder.layers.2.downsample.reduction.weight"].shape) == [128, 256]
    assert not any(k.startswith("visual_encoder.layers.3.downsample") for k in state)
    # window 2: index = (dy + 1) * 3 + (dx + 1) for the offset between positions (0,0) (0,1) (1,0) (1,1)
    expected = torch.tensor([[4, 3, 1, 0], [5, 4, 2, 1], [7, 6, 4, 3], [8, 7, 5, 4]])
    assert torch.equal(state["visual_encoder.layers.0.blocks.0.attn.relative_position_index"], expected)


def test_the_description_reweighting_by_hand():
    model = build_ram_plus(**dict(RAM_PLUS, descriptions=2, text_width=2))
    with torch.no_grad():
        model.reweight_scale.fill_(0.0)  # exp(0) = 1
        embed = torch.zeros_like(model.label_embed)
        embed[0], embed[1] = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])  # tag 0's two descriptions
        model.label_embed.copy_(embed)
        queries = model.label_queries(torch.tensor([[3.0, 0.0]]))  # normalised to (1, 0)
    # similarities 1 and 0: softmax weights e / (e + 1) and 1 / (e + 1)
    e = math.e
    assert queries[0, 0].tolist() == pytest.approx([e / (e + 1), 1 / (e + 1)], abs=1e-6)
    assert queries[0, 1].tolist() == pytest.approx([0.0, 0.0])  # tag 1's descriptions are zero


def test_the_cross_attention_layer_equals_transformers_bert():
    from transformers import BertConfig
    from transformers.models.bert.modeling_bert import BertAttention, BertIntermediate, BertOutput

    model = build_ram_plus(**dict(RAM_PLUS, text_width=32))  # context as wide as the queries
    layer = model.tagging_head.encoder.layer[0]
    config = BertConfig(
        hidden_size=32,
        num_attention_heads=2,
        intermediate_size=64,
        hidden_act="gelu",
        hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
        layer_norm_eps=1e-12,
        attn_implementation="eager",
    )
    attention, intermediate, output = BertAttention(config).eval(), BertIntermediate(config), BertOutput(config).eval()
    torch.manual_seed(0)
    for module in (layer, attention, intermediate, output):
        for p in module.parameters():
            torch.nn.init.normal_(p, std=0.2)
    attention.load_state_dict(layer.crossattention.state_dict())
    intermediate.load_state_dict(layer.intermediate.state_dict())
    output.load_state_dict(layer.output.state_dict())
    queries, context = torch.randn(2, 5, 32), torch.randn(2, 7, 32)
    with torch.no_grad():
        attended = attention(queries, encoder_hidden_states=context)[0]
        expected = output(intermediate(attended), attended)
        assert torch.allclose(layer(queries, context), expected, atol=1e-5)


def test_the_seed_resize_and_normalisation_by_hand():
    grey = np.full((30, 50, 3), 128, np.uint8)
    tensor = prepare(grey, 96)
    assert tensor.shape == (3, 96, 96)
    expected = [(128 / 255 - 0.485) / 0.229, (128 / 255 - 0.456) / 0.224, (128 / 255 - 0.406) / 0.225]
    assert tensor.mean(dim=(1, 2)).tolist() == pytest.approx(expected, abs=1e-5)


def tiny_models_config(tmp_path, fc_bias: float):
    state = tiny_state()
    state["fc.weight"] = torch.zeros_like(state["fc.weight"])
    state["fc.bias"] = torch.tensor([fc_bias])  # every tag gets probability sigmoid(fc_bias)
    path = tmp_path / f"ram_{fc_bias}.pth"
    torch.save({"model": state}, path)
    return {
        "device": "cpu",
        "paths": {"ram_plus_swin_large_14m": str(path)},
        "architectures": {"ram_plus_swin_large_14m": RAM_PLUS},
    }


def tag(tmp_path, models, **params):
    spec = validated({"tag": {"backend": "ram_plus", "ram_plus": params}}, "experiment.schema.yaml")["tag"]
    image = tmp_path / "photo.png"
    from PIL import Image

    Image.fromarray(np.random.default_rng(0).integers(0, 255, (40, 60, 3), dtype=np.uint8)).save(image)
    return run_tag(spec, None, "photo", image_path=image, models=ModelCache(models))


def test_the_seed_threshold_the_per_class_thresholds_and_background(tmp_path):
    names = (DATA / "ram_tag_list.txt").read_text().splitlines()
    thresholds = [float(v) for v in (DATA / "ram_tag_list_threshold.txt").read_text().split()]
    models = tiny_models_config(tmp_path, fc_bias=math.log(0.7 / 0.3))  # probability 0.7 for every tag
    seed = tag(tmp_path, models)  # the seed's flat 0.6: every tag, in tag-list order, then background
    assert seed["backend"] == "ram_plus" and seed["tags"] == names + ["background"]
    assert seed["scores"]["cat"] == pytest.approx(0.7, abs=1e-6)
    per_class = tag(tmp_path, models, threshold=None)
    assert per_class["tags"] == [n for n, t in zip(names, thresholds) if 0.7 > t] + ["background"]
    assert 0 < len(per_class["tags"]) - 1 < len(names)
    assert tag(tmp_path, models, threshold=0.75)["tags"] == ["background"]


def test_no_tag_gives_background_or_the_seeds_empty_tag(tmp_path):
    models = tiny_models_config(tmp_path, fc_bias=-20.0)
    assert tag(tmp_path, models)["tags"] == ["background"]
    assert tag(tmp_path, models, seed_empty_tag=True)["tags"] == ["", "background"]
