"""amodal.models.inpaint with a tiny randomly initialised SD inpainting pipeline (CPU, offline)."""

from __future__ import annotations


import numpy as np
import pytest

import diffusers
import torch

from tiny_models import write_tiny_inpainting

from amodal.models import MissingCheckpoint  # noqa: E402
from amodal.models.inpaint import Inpainter, load_inpainter  # noqa: E402

SIZE = 64
STEPS = 2


@pytest.fixture(scope="module", autouse=True)
def _one_cpu_thread():
    """Tiny models on shared cores: OpenMP threads only contend (10x slower), so use one."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_pipeline_dir(tmp_path_factory):
    return write_tiny_inpainting(tmp_path_factory.mktemp("tiny_sd_inpaint"))


@pytest.fixture(scope="module")
def inpainter(tiny_pipeline_dir):
    return load_inpainter(str(tiny_pipeline_dir), device="cpu", dtype="float32")


def _inputs():
    rng = np.random.default_rng(0)
    img_a = rng.integers(0, 256, (40, 56, 3), dtype=np.uint8)
    img_b = rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)
    mask_a = np.zeros((40, 56), bool)
    mask_a[10:30, 15:40] = True
    mask_b = np.zeros((64, 48), bool)
    mask_b[20:50, 5:30] = True
    return (img_a, mask_a), (img_b, mask_b)


def _run(inp, items, seeds, prompts=None):
    images = [i for i, _ in items]
    masks = [m for _, m in items]
    prompts = prompts or ["cat"] * len(items)
    return inp.inpaint(images, masks, prompts, seeds, steps=STEPS, guidance=7.5, size=SIZE)


def test_load_returns_inpainter_with_default_scheduler(inpainter):
    assert isinstance(inpainter, Inpainter)
    assert isinstance(inpainter.pipeline, diffusers.StableDiffusionInpaintPipeline)
    assert isinstance(inpainter.pipeline.scheduler, diffusers.PNDMScheduler)
    assert inpainter.pipeline.safety_checker is None


def test_output_count_shape_dtype(inpainter):
    a, b = _inputs()
    out = _run(inpainter, [a, b], [1, 2], prompts=["cat", "dog"])
    assert len(out) == 2
    assert out[0].shape == (40, 56, 3) and out[1].shape == (64, 48, 3)
    assert all(o.dtype == np.uint8 for o in out)
    assert all(o.std() > 0 for o in out)  # not a constant image


def test_same_seed_identical_different_seed_differs(inpainter):
    a, _ = _inputs()
    first = _run(inpainter, [a], [7])[0]
    again = _run(inpainter, [a], [7])[0]
    other = _run(inpainter, [a], [8])[0]
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


def _same_up_to_rounding(one, other):
    """Equal but for float rounding in batched kernels: at most 1 grey level, on at most 0.1 % of values."""
    diff = np.abs(one.astype(int) - other.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() <= 0.001, (diff.max(), (diff > 0).mean())


def test_batch_independence_on_cpu(inpainter):
    a, b = _inputs()
    alone = _run(inpainter, [a], [11])[0]
    first = _run(inpainter, [a, b], [11, 12])[0]
    second = _run(inpainter, [b, a], [12, 11])[1]
    _same_up_to_rounding(alone, first)
    _same_up_to_rounding(alone, second)
    # ... and the partner really is a different instance
    assert not np.array_equal(_run(inpainter, [b], [12])[0][:40, :48], alone[:40, :48])


def test_scheduler_switch(tiny_pipeline_dir):
    inp = load_inpainter(tiny_pipeline_dir, scheduler="ddim")
    assert isinstance(inp.pipeline.scheduler, diffusers.DDIMScheduler)
    inp = load_inpainter(tiny_pipeline_dir, scheduler="euler_a")
    assert isinstance(inp.pipeline.scheduler, diffusers.EulerAncestralDiscreteScheduler)
    with pytest.raises(ValueError):
        load_inpainter(tiny_pipeline_dir, scheduler="nope")


def test_missing_folder_raises(tmp_path):
    missing = tmp_path / "no_such_pipeline"
    with pytest.raises(MissingCheckpoint) as err:
        load_inpainter(str(missing))
    assert str(missing) in str(err.value)
    assert "amodal weights fetch sd2_inpainting" in str(err.value)
    assert err.value.weights_name == "sd2_inpainting"


def test_uncached_repo_id_raises(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)  # so "nobody/nothing" is not a folder by accident
    with pytest.raises(MissingCheckpoint) as err:
        load_inpainter("nobody/nothing", cache_dir=str(tmp_path / "hf_cache"))
    assert "nobody/nothing" in str(err.value)
    assert "amodal weights fetch sd2_inpainting" in str(err.value)


def test_mismatched_lengths_rejected(inpainter, monkeypatch):
    """Our check, before the pipeline is called (diffusers would raise a ValueError of its own)."""
    calls = []
    monkeypatch.setattr(inpainter, "pipeline", lambda *args, **kwargs: calls.append(kwargs))
    a, b = _inputs()
    cases = [
        (([a[0]], [a[1]], ["cat"], [1, 2]), "got 1, 1, 1, 2"),
        (([a[0], b[0]], [a[1]], ["cat", "dog"], [1, 2]), "got 2, 1, 2, 2"),
        (([a[0], b[0]], [a[1], b[1]], ["cat"], [1, 2]), "got 2, 2, 1, 2"),
    ]
    for arguments, counts in cases:
        message = f"images, masks, prompts, seeds must have equal lengths, {counts}$"
        with pytest.raises(ValueError, match=message):
            inpainter.inpaint(*arguments, steps=STEPS, size=SIZE)
    assert calls == []
