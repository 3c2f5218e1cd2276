"""The job's model cache (amodal.models.cache.ModelCache): a model is loaded once per cache and
key, and the key holds every input of the load: the checkpoint path as resolved (so the same
weights name under another `$AMODAL_WEIGHTS` is another model), the device, the dtype."""

import logging

import numpy as np
import pytest

from amodal.models.cache import ModelCache
from tiny_models import write_lpips_backbone

HUB_NAME = "alexnet-owt-7be5be79.pth"  # the manifest's file name of lpips_alex


class Recorder:
    """A loader standing in for a family's `load_*`: records each call, returns a new object."""

    def __init__(self):
        self.calls = []

    def __call__(self, source, *args, **kwargs):
        self.calls.append((str(source), kwargs))
        return object()


@pytest.fixture
def fake_lpips(monkeypatch, tmp_path):
    import amodal.models.lpips

    recorder = Recorder()
    monkeypatch.setattr(amodal.models.lpips, "load_lpips", recorder)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "no_torch_hub"))
    return recorder


def test_one_cache_loads_a_model_once_and_another_cache_loads_its_own(tmp_path, monkeypatch, caplog):
    path = write_lpips_backbone(tmp_path / "alexnet.pth")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "no_torch_hub"))
    config = {"device": "cpu", "paths": {"lpips_alex": str(path)}}
    cache = ModelCache(config)
    with caplog.at_level(logging.INFO, logger="amodal.models.cache"):
        first = cache.lpips("lpips_alex")
        assert cache.lpips("lpips_alex") is first
    assert [r.getMessage().startswith("loaded lpips lpips_alex in ") for r in caplog.records] == [True]
    assert cache.keys() == [("lpips", "lpips_alex", (str(path),), "cpu", "float32", "{}")]
    image = np.zeros((64, 64, 3), np.uint8)
    assert first.distance(image, image) == pytest.approx(0.0, abs=1e-7)
    other = ModelCache(config)
    assert other.keys() == [] and other.lpips("lpips_alex") is not first  # nothing shared between jobs


def test_the_same_weights_name_under_another_amodal_weights_is_another_model(tmp_path, monkeypatch):
    """The key is the resolved path: with `$AMODAL_WEIGHTS` changed, the cache loads the other file
    (a backbone of other random weights: another distance between the same two images)."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "no_torch_hub"))
    one = write_lpips_backbone(tmp_path / "one" / HUB_NAME, seed=1)
    two = write_lpips_backbone(tmp_path / "two" / HUB_NAME, seed=2)
    cache = ModelCache({"device": "cpu"})
    monkeypatch.setenv("AMODAL_WEIGHTS", str(tmp_path / "one"))
    first = cache.lpips("lpips_alex")
    monkeypatch.setenv("AMODAL_WEIGHTS", str(tmp_path / "two"))
    second = cache.lpips("lpips_alex")
    assert second is not first
    assert [key[2] for key in cache.keys()] == [(str(one),), (str(two),)]
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    assert first.distance(a, b) != pytest.approx(second.distance(a, b), rel=1e-3)
    monkeypatch.setenv("AMODAL_WEIGHTS", str(tmp_path / "one"))
    assert cache.lpips("lpips_alex") is first


def test_the_device_is_part_of_the_key_and_reaches_the_loader(tmp_path, fake_lpips):
    path = tmp_path / "alexnet.pth"
    path.write_bytes(b"")
    paths = {"lpips_alex": str(path)}
    on_cpu, on_gpu = ModelCache({"device": "cpu", "paths": paths}), ModelCache({"device": "cuda:1", "paths": paths})
    on_cpu.lpips("lpips_alex"), on_gpu.lpips("lpips_alex")
    assert [key[3] for key in on_cpu.keys() + on_gpu.keys()] == ["cpu", "cuda:1"]
    assert [kwargs["device"] for _, kwargs in fake_lpips.calls] == ["cpu", "cuda:1"]


@pytest.mark.parametrize(
    "device,loads",
    [
        ("cuda", [("cuda", "float16"), ("cuda", "float32")]),
        ("cpu", [("cpu", "float32")]),  # the CPU runs float32: one model serves both requests
    ],
)
def test_the_dtype_the_inpainter_runs_in_is_part_of_the_key(tmp_path, monkeypatch, device, loads):
    import amodal.models.inpaint

    recorder = Recorder()
    monkeypatch.setattr(amodal.models.inpaint, "load_inpainter", recorder)
    (tmp_path / "sd").mkdir()
    cache = ModelCache({"device": device, "paths": {"sd2_inpainting": str(tmp_path / "sd")}})
    half = cache.inpainter("sd2_inpainting", "float16", "default")
    full = cache.inpainter("sd2_inpainting", "float32", "default")
    assert (half is full) == (len(loads) == 1)
    assert [(kwargs["device"], kwargs["dtype"]) for _, kwargs in recorder.calls] == loads
    assert [(key[3], key[4]) for key in cache.keys()] == loads
    assert {source for source, _ in recorder.calls} == {str(tmp_path / "sd")}


def test_the_architecture_overrides_are_part_of_the_key_and_the_config_is_the_caches_own_copy(tmp_path, monkeypatch):
    import amodal.models.features

    recorder = Recorder()
    monkeypatch.setattr(amodal.models.features, "load_feature_encoder", recorder)
    path = tmp_path / "resnet50.pth"
    path.write_bytes(b"")
    config = {"device": "cpu", "paths": {"resnet50_imagenet1k_v2": str(path)}}
    config["architectures"] = {"resnet50_imagenet1k_v2": {"layers": [1, 1, 1, 1]}}
    cache = ModelCache(config)
    config["architectures"]["resnet50_imagenet1k_v2"]["layers"] = [3, 4, 6, 3]  # after the cache was made
    cache.feature_encoder("resnet50_imagenet1k_v2")
    assert recorder.calls[0][1]["layers"] == [1, 1, 1, 1]
    assert cache.keys()[0][5] == '{"layers": [1, 1, 1, 1]}'
    assert ModelCache(config).keys() == []


def test_what_stages_read_from_the_config():
    cache = ModelCache({"device": "cpu", "batch": {"inpaint": 2}, "lisa": {"url": "http://x:1/"}})
    assert cache.device == "cpu"
    assert cache.batch("inpaint", 64) == 2 and cache.batch("sam_encoder") is None
    assert cache.lisa_settings()["url"] == "http://x:1/"
    assert ModelCache().lisa_settings()["url"] in (None, "")


def test_a_grounding_dino_input_size_goes_to_the_grounder_and_not_to_the_loader(tmp_path, monkeypatch):
    import torch

    import amodal.models.grounding_dino as gd

    loader_calls = []

    def loader(path, config, text_path, device="cpu", **arch):
        loader_calls.append(arch)
        model = torch.nn.Linear(1, 1)
        model.tokenizer = None
        return model

    monkeypatch.setattr(gd, "load_grounding_dino", loader)
    (tmp_path / "dino.pth").write_bytes(b"")
    (tmp_path / "bert").mkdir()
    paths = {"groundingdino_swint_ogc": str(tmp_path / "dino.pth"), "bert_base_uncased": str(tmp_path / "bert")}
    overrides = {"enc_layers": 1}

    def grounder(arch):
        cache = ModelCache({"device": "cpu", "paths": paths, "architectures": {"groundingdino_swint_ogc": arch}})
        return cache.grounder("groundingdino_swint_ogc", "bert_base_uncased", 0.3, 0.25)

    small = grounder({"overrides": overrides, "resize": 160, "max_size": 267})
    assert (small.resize, small.max_size) == (160, 267)
    default = grounder({"overrides": overrides})
    assert (default.resize, default.max_size) == (800, 1333)  # groundingdino's load_image
    assert loader_calls == [{"overrides": overrides}, {"overrides": overrides}]
