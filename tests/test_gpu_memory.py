"""Out of GPU memory costs one instance, never the shard: batches are split in halves down to
single instances (same results as without the error), an instance that does not fit alone
fails with a reason, the loop and the per-instance stages go on with the others. The errors
are torch's own out-of-memory class, raised by fakes that count what they were given."""

import numpy as np
import pytest
import torch

from amodal.imaging import io
from amodal.models.gpu_memory import OutOfMemory, is_out_of_memory, map_splitting
from amodal.stages.complete.loop import PassResult, run_loop
from amodal.run.isolation import run_stage
from test_loop import SPEC, WALLPAPER, Scripted, instance


def oom():
    return torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


class Squares:
    """x -> x*x, but out of memory above `limit` items in one call or whenever `never` is in the call."""

    def __init__(self, limit, never=None):
        self.limit, self.never, self.calls = limit, never, []

    def __call__(self, batch):
        self.calls.append(list(batch))
        if len(batch) > self.limit or self.never in batch:
            raise oom()
        return [x * x for x in batch]


def test_torchs_error_is_recognised_and_others_are_not():
    assert is_out_of_memory(oom())
    assert is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(ValueError("out of memory"))


def test_a_batch_too_large_is_split_in_halves_with_the_same_results():
    squares = Squares(limit=2)
    assert map_splitting(squares, [1, 2, 3, 4, 5]) == [1, 4, 9, 16, 25]
    assert squares.calls == [[1, 2, 3, 4, 5], [1, 2], [3, 4, 5], [3], [4, 5]]


def test_an_item_that_does_not_fit_alone_gets_a_marker_and_the_others_results():
    out = map_splitting(Squares(limit=8, never=3), [1, 2, 3, 4])
    assert out[:2] == [1, 4] and out[3] == 16
    assert isinstance(out[2], OutOfMemory) and "out of GPU memory" in out[2].reason


def test_other_errors_are_not_swallowed():
    def broken(batch):
        raise ValueError("a bug")

    with pytest.raises(ValueError, match="a bug"):
        map_splitting(broken, [1, 2])


class FailsAt(Scripted):
    """The scripted backend, except that `who` runs out of memory at pass `index`."""

    def __init__(self, keep_going, who, index):
        super().__init__(keep_going)
        self.who, self.index = who, index

    def run_passes(self, states):
        outs = super().run_passes(states)
        return [
            OutOfMemory("out of GPU memory even alone (test)")
            if s.instance == self.who and s.index == self.index
            else out
            for s, out in zip(states, outs)
        ]


def test_the_loop_fails_only_the_instance_that_ran_out_and_the_others_are_unchanged():
    a, b = run_loop([instance("a"), instance("b")], SPEC, WALLPAPER, FailsAt({"a": 5, "b": 5}, "a", 1))
    assert a.status == "failed" and a.completion is None and a.amodal is None
    assert a.reason.startswith("instance 'a': pass 1:") and "out of GPU memory" in a.reason
    assert a.record("diffusers", "thing")["reason"] == a.reason
    alone = run_loop([instance("b")], SPEC, WALLPAPER, Scripted({"b": 5}))[0]
    assert b.status == "completed" and b.passes == alone.passes


def test_a_stage_that_runs_out_of_memory_fails_its_instance_with_the_reason(tmp_path):
    outputs = {"record": tmp_path / "ground.json", "mask": tmp_path / "visible_mask.png"}

    def body():
        raise oom()

    assert run_stage({}, outputs, body, instance="scene_0007") == "failed"
    record = io.read_json(outputs["record"])
    assert record["status"] == "failed"
    assert "scene_0007" in record["reason"] and "out of GPU memory" in record["reason"]
    assert io.read_mask(outputs["mask"]).shape == (1, 1)  # placeholders, as for any failure


def test_a_stage_bug_still_stops_the_job(tmp_path):
    def body():
        raise KeyError("bug")

    with pytest.raises(KeyError):
        run_stage({}, {"record": tmp_path / "r.json"}, body, instance="x")


class FakeInpainter:
    """Fills each image with a value of its seed; out of memory above `limit` per call or for "huge"."""

    def __init__(self, limit=None):
        self.limit, self.sizes = limit, []

    def inpaint(self, images, masks, prompts, seeds, **kwargs):
        self.sizes.append(len(images))
        if (self.limit is not None and len(images) > self.limit) or "huge" in prompts:
            raise oom()
        return [np.full_like(image, seed % 251) for image, seed in zip(images, seeds)]


def run_diffusers_loop(monkeypatch, fake, items, models=None):
    """The diffusers backend's loop over `items` with `fake` as its inpainter and each completion
    taken as it is (no re-segmentation)."""
    from amodal.stages.complete import diffusion
    from amodal.models.cache import ModelCache

    models = ModelCache(models)
    monkeypatch.setattr(models, "inpainter", lambda *args: fake)
    backend = diffusion.DiffusersBackend(
        {
            "size": 64,
            "diffusers": {
                "model": "m",
                "dtype": "float32",
                "scheduler": "default",
                "seed": 3,
                "steps": 1,
                "guidance": 1.0,
                "prompt_template": "a {}",
            },
        },
        {"backend": "grounded_sam", "grounded_sam": {}},
        {"backend": "geometric"},
        {},
        models,
    )
    monkeypatch.setattr(backend, "_check_many", lambda pairs: [PassResult(c, s.visible, s.visible) for s, c in pairs])
    backend.single_pass = True
    return run_loop(items, SPEC, WALLPAPER, backend)


def test_the_diffusers_backend_splits_its_inpainting_batch_and_fails_one_instance(monkeypatch):
    def run(fake, names):
        prompts = {"a": "cat", "b": "huge", "c": "dog"}
        states = []
        for name in names:
            item = instance(name)
            item.prompt = prompts[name]
            states.append(item)
        return run_diffusers_loop(monkeypatch, fake, states)

    split = FakeInpainter(limit=1)
    a, b, c = run(split, "abc")
    assert split.sizes == [3, 1, 2, 1, 1]  # all, then a, then b+c, then b and c alone
    assert b.status == "failed" and "out of GPU memory" in b.reason
    together = FakeInpainter(limit=10)
    a_ref, c_ref = run(together, "ac")  # without b, a and c fit in one call
    assert together.sizes == [2]
    for one, reference in ((a, a_ref), (c, c_ref)):
        assert one.status == reference.status == "completed"
        assert np.array_equal(one.completion, reference.completion)  # the split changed nothing


def test_most_caps_each_call_and_each_chunk_still_splits():
    squares = Squares(limit=2)
    assert map_splitting(squares, [1, 2, 3, 4, 5, 6, 7], most=3) == [1, 4, 9, 16, 25, 36, 49]
    # chunks of 3, 3, 1; each chunk of 3 is over the limit of 2 and goes in halves (1, then 2)
    assert squares.calls == [[1, 2, 3], [1], [2, 3], [4, 5, 6], [4], [5, 6], [7]]
    assert map_splitting(Squares(limit=10), [1, 2], most=None) == [1, 4]


def test_the_failed_calls_memory_is_free_before_the_retry():
    # what a failed call allocated lives in its frame; while the error's traceback is alive
    # (inside an except block) that frame is too, and on a GPU its tensors would stay allocated
    import weakref

    class Buffer:
        pass

    alive_at_retry, previous = [], []

    def call(batch):
        alive_at_retry.append(any(ref() is not None for ref in previous))
        buffer = Buffer()
        previous.append(weakref.ref(buffer))
        if len(batch) > 1:
            raise oom()
        return [x for x in batch]

    assert map_splitting(call, [1, 2]) == [1, 2]
    assert alive_at_retry == [False, False, False]


def test_config_models_batch_inpaint_bounds_each_call_and_changes_no_result(monkeypatch):
    def run(models):
        fake = FakeInpainter()
        results = run_diffusers_loop(monkeypatch, fake, [instance(name) for name in "abcde"], models)
        return fake.sizes, results

    sizes, bounded = run({"batch": {"inpaint": 2}})
    assert sizes == [2, 2, 1]
    sizes, whole = run({"batch": {"inpaint": None}})
    assert sizes == [5]
    for one, other in zip(bounded, whole):
        assert one.status == other.status == "completed"
        assert np.array_equal(one.completion, other.completion)
