"""The seed's pass loop over several instances, driven by a scripted backend: which instances
each pass batches, the masks of later passes (hand-worked), the pass limit and the seed's
no-output cases."""

import numpy as np

from amodal.stages.complete.loop import LoopInstance, PassResult, run_loop

SPEC = {"max_passes": 3, "canvas_scale": 6, "crop_buffer": 60, "border_pad": 150, "border_gap": 10}
WALLPAPER = np.full((32, 32, 3), 128, np.uint8)


def instance(name, occluded=True):
    image = np.zeros((64, 64, 3), np.uint8)
    visible = np.zeros((64, 64), bool)
    visible[24:40, 24:40] = True  # far from every image side
    occluders = np.zeros((64, 64), bool)
    if occluded:
        occluders[24:40, 40:44] = True
    return LoopInstance(name, image, visible, occluders, "thing")


class Scripted:
    """Reports a 2x2 block at crop rows/cols 2-3 as still occluding for `keep_going[id]` passes."""

    single_pass = False

    def __init__(self, keep_going):
        self.keep_going = keep_going
        self.batches = []

    def run_passes(self, states):
        self.batches.append([s.instance for s in states])
        outs = []
        for state in states:
            still = np.zeros(state.mask.shape, bool)
            if state.index < self.keep_going[state.instance]:
                still[2:4, 2:4] = True
            outs.append(PassResult(state.image.copy(), state.visible.copy(), still))
        return outs


def test_each_pass_batches_the_instances_still_running_and_later_masks_follow_the_seed():
    backend = Scripted({"a": 0, "b": 5})
    a, b = run_loop([instance("a"), instance("b")], SPEC, WALLPAPER, backend)
    assert backend.batches == [["a", "b"], ["b"], ["b"]]
    assert a.stop_reason == "nothing_occludes" and len(a.iterations) == 1
    assert b.stop_reason == "pass_limit" and len(b.iterations) == 3
    # pass 1: the still-occluding 2x2 block (inside pass 0's mask, which covers the crop outside
    # the image) dilated once by a 3x3 square: rows and columns 1..4
    expected = np.zeros(b.iterations[1]["mask"].shape, bool)
    expected[1:5, 1:5] = True
    assert np.array_equal(b.iterations[1]["mask"], expected)
    assert b.passes[1]["mask_pixels"] == 16


def test_without_stopping_early_every_instance_runs_to_the_limit_on_its_last_mask():
    backend = Scripted({"a": 0, "b": 1})
    a, b = run_loop([instance("a"), instance("b")], dict(SPEC, stop_early=False), WALLPAPER, backend)
    assert backend.batches == [["a", "b"]] * 3
    assert (a.stop_reason, b.stop_reason) == ("pass_limit", "pass_limit")
    # a: nothing occluded after pass 0, so passes 1 and 2 repaint pass 0's (undilated) region
    assert a.passes[1]["mask_pixels"] == a.passes[2]["mask_pixels"] > 0
    # b: pass 1 painted the still-occluding block's dilation (16 px); nothing after it: pass 2 repeats it
    assert b.passes[1]["mask_pixels"] == b.passes[2]["mask_pixels"] == 16


def test_the_seeds_pass_count_allows_one_more_pass():
    backend = Scripted({"b": 9})
    (b,) = run_loop([instance("b")], dict(SPEC, seed_pass_count=True), WALLPAPER, backend)
    assert len(b.iterations) == 4 and b.stop_reason == "pass_limit"


def test_an_instance_does_not_depend_on_its_batch_mates():
    alone = run_loop([instance("b")], SPEC, WALLPAPER, Scripted({"b": 2}))[0]
    together = run_loop([instance("a"), instance("b")], SPEC, WALLPAPER, Scripted({"a": 0, "b": 2}))[1]
    assert alone.passes == together.passes and alone.stop_reason == together.stop_reason
    for one, other in zip(alone.iterations, together.iterations):
        assert all(np.array_equal(one[k], other[k]) for k in one)


def test_nothing_occluding_gives_the_visible_object_or_like_the_seed_no_output():
    ours = run_loop([instance("c", occluded=False)], SPEC, WALLPAPER, Scripted({"c": 0}))[0]
    seed = run_loop(
        [instance("c", occluded=False)], dict(SPEC, output_when_not_occluded=False), WALLPAPER, Scripted({"c": 0})
    )[0]
    assert (ours.status, ours.stop_reason) == ("not_occluded", "nothing_occludes")
    assert (seed.status, seed.stop_reason) == ("no_output", "nothing_occludes")


def test_an_empty_first_mask_keeps_the_visible_object_or_like_the_seed_no_output():
    # a 400 px image: the crop (visible box + 60 px) stays inside it, and the occluder lies
    # outside the crop, so pass 0 has nothing to paint
    image = np.zeros((400, 400, 3), np.uint8)
    visible = np.zeros((400, 400), bool)
    visible[190:210, 190:210] = True
    occluders = np.zeros((400, 400), bool)
    occluders[0:5, 0:5] = True
    far = LoopInstance("far", image, visible, occluders, "thing")
    ours = run_loop([far], SPEC, WALLPAPER, Scripted({"far": 0}))[0]
    seed = run_loop([far], dict(SPEC, output_when_first_mask_empty=False), WALLPAPER, Scripted({"far": 0}))[0]
    assert (ours.status, ours.stop_reason, len(ours.iterations)) == ("completed", "mask_empty", 0)
    assert (seed.status, seed.stop_reason) == ("no_output", "mask_empty")
