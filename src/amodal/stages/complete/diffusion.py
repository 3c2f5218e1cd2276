"""The `diffusers` completion backend: the seed's passes with a diffusion inpainter.

Every pass inpaints all running instances of the shard in one batched pipeline call (prompt
"a {prompt}", one seeded generator per instance and pass), then, per instance, re-segments the
completion with the experiment's own segment settings (GroundingDINO + SAM over the instance's
tags and the prompt, as the seed's `check_occlusion`), takes as the pass's amodal mask the
segment that best overlaps the visible mask (the visible mask itself when none overlaps), and
re-orders the other segments with the experiment's order settings to find what still occludes.
"""

from __future__ import annotations

import logging
import time
import zlib

import numpy as np

from amodal.models.cache import ModelCache
from amodal.models.gpu_memory import OutOfMemory, map_splitting
from amodal.stages.complete.loop import PassInput, PassResult

REORDER_BACKENDS = ("geometric", "instaorder", "depth")


def pass_seed(base: int, instance: str, index: int) -> int:
    """A generator seed that depends only on the instance and the pass, never on the batch."""
    return int(np.random.SeedSequence([base, zlib.crc32(instance.encode()), index]).generate_state(1)[0])


def best_overlap(visible: np.ndarray, masks: np.ndarray) -> int | None:
    """Index of the mask with the highest IoU with `visible` (the first of equals), None if none overlaps."""
    from amodal.stages.segment import mask_iou

    best, best_iou = None, 0.0
    for i, mask in enumerate(masks):
        iou = mask_iou(mask, visible)
        if iou > best_iou:
            best, best_iou = i, iou
    return best


# Instances per inpainting call (config models.batch.inpaint; None: the whole pass). Measured on an
# H200 (benchmarks/batch_sizes_gpu.py, SD-2 fp16 at 512 px): 61 ms per instance-step alone, 17.6 at
# 64 and 17.5 at 96, with the peak growing 0.34 GiB an instance (32.5 GiB at 64).
INPAINT_BATCH = 64


class DiffusersBackend:
    single_pass = False

    def __init__(
        self, spec: dict, segment_spec: dict, order_spec: dict, tags: dict[str, list[str]], models: ModelCache | None
    ):
        if segment_spec["backend"] != "grounded_sam":
            raise ValueError(
                "complete backend 'diffusers' re-segments every pass with the experiment's segment "
                f"settings, which must be grounded_sam (got {segment_spec['backend']!r})"
            )
        if order_spec["backend"] not in REORDER_BACKENDS:
            raise ValueError(
                "complete backend 'diffusers' re-orders every pass with the experiment's order settings, "
                f"which must be one of {list(REORDER_BACKENDS)} (got {order_spec['backend']!r})"
            )
        self.spec, self.params = spec, spec["diffusers"]
        self.segment_spec, self.order_spec = segment_spec, order_spec
        self.tags, self.models = tags, models or ModelCache()

    def run_passes(self, states: list[PassInput]) -> list[PassResult | OutOfMemory]:
        """One batched inpainting call for every state (split on out-of-memory), then each
        completion checked; an instance that does not fit in GPU memory gets `OutOfMemory`."""
        params = self.params
        inpainter = self.models.inpainter(params["model"], params["dtype"], params["scheduler"])

        def inpaint(batch: list[PassInput]):
            return inpainter.inpaint(
                [s.image for s in batch],
                [s.mask for s in batch],
                [s.prompt for s in batch],
                [pass_seed(params["seed"], s.instance, s.index) for s in batch],
                steps=params["steps"],
                guidance=params["guidance"],
                size=self.spec["size"],
                prompt_template=params["prompt_template"],
            )

        # config models.batch.inpaint bounds one call (peak memory); each chunk still halves on out-of-memory
        completions = map_splitting(inpaint, states, most=self.models.batch("inpaint", INPAINT_BATCH))
        start = time.perf_counter()
        pairs = [
            (state, completion)
            for state, completion in zip(states, completions)
            if not isinstance(completion, OutOfMemory)
        ]
        checked = iter(map_splitting(self._check_many, pairs))  # split in halves on out-of-memory
        results = [completion if isinstance(completion, OutOfMemory) else next(checked) for completion in completions]
        logging.getLogger(__name__).info(
            "checked %d completions (re-segment, re-order) in %.3f s", len(pairs), time.perf_counter() - start
        )
        return results

    def _check_many(self, pairs: list[tuple[PassInput, np.ndarray]]) -> list[PassResult]:
        """What each completion shows: the object's amodal mask and what still occludes it. The
        completions are re-segmented together (SAM embeds them in batches), then ordered one by
        one; the log gives the time of each part."""
        from amodal.stages.segment import detect_many, segment_detections

        images = [completion for _, completion in pairs]
        labels = [list(dict.fromkeys([*self.tags.get(state.instance, []), state.prompt])) for state, _ in pairs]
        params = self.segment_spec["grounded_sam"]
        clock = time.perf_counter()
        found = detect_many(images, labels, params, self.models)
        detected = time.perf_counter()
        segmented = segment_detections(images, found, params, self.models)
        masked = time.perf_counter()
        results = [
            self._check(state, completion, masks, records)
            for (state, completion), (masks, records, _) in zip(pairs, segmented)
        ]
        logging.getLogger(__name__).info(
            "checked %d completions: GroundingDINO %.3f s (%d boxes), SAM %.3f s, order and masks %.3f s",
            len(pairs),
            detected - clock,
            sum(len(d) for d, _ in found),
            masked - detected,
            time.perf_counter() - masked,
        )
        return results

    def _check(self, state: PassInput, completion: np.ndarray, masks: np.ndarray, records: list[dict]) -> PassResult:
        """The amodal mask and what still occludes it, from the completion's segments."""
        from amodal.stages.order import decide_order, occluder_mask

        target = best_overlap(state.visible, masks)
        amodal = state.visible.copy() if target is None else masks[target]
        others = [i for i in range(len(masks)) if i != target]
        stack = masks[others] if others else np.zeros((0,) + amodal.shape, dtype=bool)
        others_records = [dict(records[i], id=k, kind="object") for k, i in enumerate(others)]
        order = decide_order(completion, amodal, stack, others_records, self.order_spec, self.models)
        still = occluder_mask(stack, order["occluders"], amodal)
        return PassResult(
            completion,
            amodal,
            still,
            {
                "segments": len(masks),
                "amodal_segment": None if target is None else records[target]["label"],
                "occluders": [others_records[i]["label"] for i in order["occluders"]],
            },
        )
