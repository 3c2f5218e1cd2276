"""InstaOrderNet^o,d: our network's state dict equals the reference implementation's (names
and shapes recorded from POSTECH-CVLab/InstaOrder's source, tests/reference/), a checkpoint in
the released layout loads strictly, the seed's input assembly and decision rule (worked by
hand), and a small random-weight network end to end."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from amodal.imaging.segments import Segments
from amodal.models import MissingCheckpoint
from amodal.models.instaorder import (
    CheckpointMismatch,
    OrderPredictor,
    build_instaorder,
    load_instaorder,
    occlusion_probability,
)

REFERENCE = json.loads((Path(__file__).parent / "reference" / "instaorder_od_state_dict.json").read_text())
TINY = (1, 1, 1, 1)


def test_the_state_dict_equals_the_reference_implementations():
    ours = {k: list(v.shape) for k, v in build_instaorder().state_dict().items()}
    theirs = {k.removeprefix("module."): v for k, v in REFERENCE["keys"].items()}
    assert len(theirs) == REFERENCE["num_state_dict_entries"] == 322
    assert ours == theirs
    parameters = sum(p.numel() for p in build_instaorder().parameters())
    assert parameters == REFERENCE["num_parameters"] == 23_524_549


def released_layout(tmp_path, state, **extra):
    """A file laid out as InstaOrder saves it: step, the wrapped network's state dict, optimizer."""
    path = tmp_path / "InstaOrder_InstaOrderNet_od.pth.tar"
    torch.save(
        {
            "step": 60000,
            "state_dict": {f"module.{k}": v for k, v in state.items()},
            "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4, "momentum": 0.9, "params": [0, 1]}]},
            **extra,
        },
        path,
    )
    return path


def test_a_checkpoint_in_the_released_layout_loads_strictly(tmp_path):
    torch.manual_seed(0)
    state = {
        k.removeprefix("module."): (torch.randn(shape) if shape else torch.tensor(7))
        for k, shape in REFERENCE["keys"].items()
    }
    model = load_instaorder(released_layout(tmp_path, state))
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k].float(), v.float()) for k, v in state.items())
    assert not model.training


@pytest.mark.parametrize("damage", ["extra", "missing", "shape"])
def test_a_checkpoint_that_does_not_fit_is_named(tmp_path, damage):
    state = build_instaorder(TINY).state_dict()
    state = {k: v.clone() for k, v in state.items()}
    if damage == "extra":
        state["fc_extra.weight"] = torch.zeros(2)
    elif damage == "missing":
        del state["fc_depth.bias"]
    else:
        state["fc_occ.weight"] = torch.zeros(3, 2048)
    path = released_layout(tmp_path, state)
    with pytest.raises(CheckpointMismatch, match="InstaOrder_InstaOrderNet_od.pth.tar"):
        load_instaorder(path, layers=TINY)


def test_a_missing_checkpoint_names_the_file_and_how_to_get_it(tmp_path):
    with pytest.raises(MissingCheckpoint) as info:
        load_instaorder(tmp_path / "InstaOrder_InstaOrderNet_od.pth.tar")
    assert "instaorder_od" in str(info.value)


def test_the_occlusion_probability_by_hand():
    # sigmoid(2) = 0.880797, sigmoid(1) = 0.731059: P(a occludes b) = (0.880797 + 0.731059) / 2
    p = occlusion_probability(torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, -1.0]]))
    assert p.item() == pytest.approx((1 / (1 + math.exp(-2)) + 1 / (1 + math.exp(-1))) / 2, abs=1e-6)
    assert p.item() == pytest.approx(0.805928, abs=1e-6)


class Spy(torch.nn.Module):
    """Records its input; occlusion logits (k, 0) for the first half of the batch, (0, 0) after."""

    def __init__(self):
        super().__init__()
        self.seen = None

    def forward(self, x):
        self.seen = x.clone()
        half = x.shape[0] // 2
        occ = torch.zeros(x.shape[0], 2)
        occ[:half, 1] = torch.arange(half, dtype=torch.float32)  # other k occludes the target with logit k
        return occ, torch.zeros(x.shape[0], 3)


def test_pairs_are_built_masks_first_in_both_orders_on_the_resized_image():
    image = np.full((20, 40, 3), (51, 102, 204), np.uint8)
    target = np.zeros((20, 40), bool)
    target[:, :20] = True  # left half
    other = np.zeros((20, 40), bool)
    other[:10] = True  # top half
    spy = Spy()
    p = OrderPredictor(spy, size=32).occludes_target(image, target, np.stack([other, ~other]))
    x = spy.seen
    assert x.shape == (4, 5, 32, 32)
    # (k, target) first: channel 0 the other segment, channel 1 the target; then (target, k)
    assert torch.equal(x[0, 0], x[2, 1]) and torch.equal(x[0, 1], x[2, 0]) and torch.equal(x[1, 0], x[3, 1])
    assert x[0, 0, :16].eq(1).all() and x[0, 0, 16:].eq(0).all()  # top half, nearest-resized
    assert x[0, 1, :, :16].eq(1).all() and x[0, 1, :, 16:].eq(0).all()  # left half
    assert x[1, 0, :16].eq(0).all() and x[1, 0, 16:].eq(1).all()
    # channels 2-4: (v / 255 - mean) / std of ImageNet, by hand for (51, 102, 204)
    expected = [(0.2 - 0.485) / 0.229, (0.4 - 0.456) / 0.224, (0.8 - 0.406) / 0.225]
    for c, value in enumerate(expected):
        assert torch.allclose(x[:, 2 + c], torch.tensor(value), atol=1e-5)
    # other 0: logits (0, 0) and (0, 0): 0.5; other 1: (0, 1) and (0, 0): (sigmoid(1) + 0.5) / 2
    assert p[0] == pytest.approx(0.5) and p[1] == pytest.approx((1 / (1 + math.exp(-1)) + 0.5) / 2)


def test_a_small_random_network_end_to_end_and_independent_of_its_batch():
    torch.manual_seed(0)
    predictor = OrderPredictor(build_instaorder(TINY), size=64)
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    target = np.zeros((48, 64), bool)
    target[10:30, 10:30] = True
    others = np.zeros((3, 48, 64), bool)
    others[0, 5:20, 20:40] = True
    others[1, 25:45, 0:20] = True
    others[2, :, 50:] = True
    together = predictor.occludes_target(image, target, others)
    assert together.shape == (3,) and ((0 <= together) & (together <= 1)).all()
    alone = [predictor.occludes_target(image, target, others[k : k + 1])[0] for k in range(3)]
    assert np.allclose(together, alone, atol=1e-5)
    assert predictor.occludes_target(image, target, np.zeros((0, 48, 64), bool)).shape == (0,)


def test_the_order_backend_decides_by_the_seeds_threshold(monkeypatch):
    from amodal.models.cache import ModelCache
    from amodal.stages.order import instaorder_order

    class Fixed:
        def both_ways(self, image, target, others):
            return np.array([0.7, 0.2, 0.5]), np.array([0.1, 0.9, 0.5])

    models = ModelCache()
    monkeypatch.setattr(models, "order_predictor", lambda *args: Fixed())
    segments = np.zeros((3, 4, 4), bool)
    records = [{"label": name} for name in ("cup", "hand", "table")]
    spec = {"backend": "instaorder", "instaorder": {"model": "instaorder_od", "input_size": 384, "threshold": 0.5}}
    record = instaorder_order(np.zeros((4, 4, 3), np.uint8), np.ones((4, 4), bool), segments, records, spec, models)
    assert record["occluders"] == [0]  # 0.5 is not above 0.5
    pairs = record["pairs"]
    assert pairs[0]["occludes_target"] and pairs[1]["target_occludes"] and not pairs[2]["occludes_target"]
    assert [p["p_occludes_target"] for p in record["pairs"]] == [0.7, 0.2, 0.5]


@pytest.mark.parametrize("logit", [2.0, -2.0])
def test_the_order_stage_with_a_small_checkpoint(tmp_path, logit):
    """A small checkpoint whose occlusion head ignores its input (weights 0, bias (0, logit)), so
    every pair's P is (sigmoid(logit) + sigmoid(0)) / 2 whatever the random backbone computes:
    0.690399 for logit 2 (both segments occlude the target), 0.309601 for -2 (neither)."""
    from amodal.imaging import io
    from amodal.models.cache import ModelCache
    from amodal.plan.preflight import weights_needed
    from amodal.stages.order import run_order
    from amodal.config.schema import validated

    torch.manual_seed(0)
    network = build_instaorder(TINY)
    with torch.no_grad():
        network.fc_occ.weight.zero_()
        network.fc_occ.bias.copy_(torch.tensor([0.0, logit]))
    path = released_layout(tmp_path, network.state_dict())
    models = {
        "device": "cpu",
        "paths": {"instaorder_od": str(path)},
        "architectures": {"instaorder_od": {"layers": list(TINY)}},
    }
    image = np.random.default_rng(1).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    io.write_image(tmp_path / "image.png", image)
    visible = np.zeros((40, 50), bool)
    visible[10:30, 10:30] = True
    segments = np.zeros((2, 40, 50), bool)
    segments[0, 5:15, 25:45] = True  # 200 px, 25 of them (rows 10..14, cols 25..29) on the target
    segments[1, 30:40, :] = True  # 500 px, just below the target
    io.write_mask(tmp_path / "visible.png", visible)
    io.write_segments(tmp_path / "segments.npz", Segments(segments))
    (tmp_path / "segments.json").write_text(json.dumps({"segments": [{"label": "a"}, {"label": "b"}]}))
    spec = validated({"order": {"backend": "instaorder", "instaorder": {"input_size": 64}}}, "experiment.schema.yaml")[
        "order"
    ]
    record, occluders = run_order(
        spec,
        tmp_path / "visible.png",
        tmp_path / "segments.npz",
        tmp_path / "segments.json",
        "",
        "inst",
        image_path=tmp_path / "image.png",
        models=ModelCache(models),
    )
    p = 0.690399 if logit > 0 else 0.309601
    assert record["backend"] == "instaorder" and [pair["label"] for pair in record["pairs"]] == ["a", "b"]
    for pair in record["pairs"]:
        assert pair["p_occludes_target"] == pytest.approx(p, abs=1e-6)
        assert pair["p_target_occludes"] == pytest.approx(p, abs=1e-6)
    if logit > 0:
        assert record["occluders"] == [0, 1]
        assert all(p["occludes_target"] and p["target_occludes"] for p in record["pairs"])
        # both segments, less segment 0's 25 px on the target: 175 + 500 px
        expected = np.zeros((40, 50), bool)
        expected[5:15, 25:45] = True
        expected[10:15, 25:30] = False
        expected[30:40, :] = True
        assert occluders.sum() == 675
        assert np.array_equal(occluders, expected)
    else:
        assert record["occluders"] == []
        assert not any(p["occludes_target"] or p["target_occludes"] for p in record["pairs"])
        assert occluders.shape == (40, 50) and not occluders.any()
    full = validated({"order": {"backend": "instaorder"}}, "experiment.schema.yaml")
    assert "instaorder_od" in weights_needed(full)
