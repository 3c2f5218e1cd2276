"""Where a completion pass's check spends its time on a GPU (issue 10): the diffusers backend's
re-segmentation (GroundingDINO per completion, SAM on the completions' boxes) and re-ordering
(InstaOrder per instance), with full-size architectures at random weights (SAM ViT-H,
GroundingDINO SwinT-OGC + BERT-base, InstaOrderNet ResNet-50). Nothing downloaded.

    python benchmarks/check_gpu.py --out DIR [--n 30] [--size 900] [--max-boxes 20]

Prints and writes DIR/check.json:

* load: seconds to load each model from its checkpoint as the workflow does (`amodal.models.cache`);
* check: `DiffusersBackend._check_many` over N completions of SIZE x SIZE, twice (the first warms
  up), split into GroundingDINO, SAM and "order and masks" (InstaOrder plus the CPU work);
* phrases: GroundingDINO's phrase for every kept box of one uncapped detection, decoded box by
  box (groundingdino-py's helper per box) against `Grounder._phrases` (one decode per distinct
  token set);
* order: InstaOrder's forwards for the N instances one call each (as the check runs them)
  against one call for all their pairs.

`--smoke` runs the tiny test models on the CPU (checks the script, not a measurement).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULT: dict = {}


def timed(function, sync: bool):
    if sync:
        torch.cuda.synchronize()
    start = time.perf_counter()
    value = function()
    if sync:
        torch.cuda.synchronize()
    return value, time.perf_counter() - start


def write_checkpoints(folder: Path, smoke: bool) -> dict:
    """Random-weight SAM ViT-H, GroundingDINO SwinT-OGC (+ BERT) and InstaOrder checkpoints (the
    tests' tiny ones with --smoke)."""
    if smoke:
        sys.path.insert(0, str(ROOT / "tests"))
        from tiny_models import write_tiny_checkpoints

        return write_tiny_checkpoints(folder)
    sys.path.insert(0, str(HERE))
    from paper_gpu import write_checkpoints as write_full

    return write_full(folder, ("sam_vit_h", "groundingdino_swint_ogc", "instaorder_od"))


def measure_loads(models, segment: dict, order: dict, sync: bool) -> None:
    params = segment["grounded_sam"]
    loads = {}
    _, loads["grounding_dino"] = timed(
        lambda: models.grounder(
            params["detector"], params["text_encoder"], params["box_threshold"], params["text_threshold"]
        ),
        sync,
    )
    _, loads["sam"] = timed(lambda: models.sam_segmenter(params["sam"]), sync)
    _, loads["instaorder"] = timed(lambda: models.order_predictor(order["instaorder"]["model"]), sync)
    RESULT["load_s"] = loads


def completions(n: int, size: int, prompt: str):
    """N textured completions, each with a visible square, as the loop hands them to the check."""
    from amodal.stages.complete.loop import PassInput

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size]
    pairs = []
    for k in range(n):
        image = np.stack([(xx + 7 * k) % 256, (yy * 2) % 256, (xx + yy) % 256], axis=-1)
        image = np.clip(image + rng.integers(0, 60, image.shape), 0, 255).astype(np.uint8)
        visible = np.zeros((size, size), bool)
        visible[size // 4 : size // 2, size // 3 : 2 * size // 3] = True
        state = PassInput(f"i{k}", 0, image, visible, visible, visible, np.ones_like(visible), set(), prompt)
        pairs.append((state, image))
    return pairs


def measure_check(backend, pairs, sync: bool) -> None:
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    logging.getLogger("amodal.stages.complete.diffusion").addHandler(Keep())
    logging.getLogger("amodal.stages.complete.diffusion").setLevel(logging.INFO)
    timed(lambda: backend._check_many(pairs[:2]), sync)  # warm-up: kernels, cuDNN choices
    records.clear()
    _, seconds = timed(lambda: backend._check_many(pairs), sync)
    RESULT["check"] = {"completions": len(pairs), "s": seconds, "log": records}


def measure_phrases(models, segment: dict, image: np.ndarray, caption: str) -> None:
    from groundingdino.util.utils import get_phrases_from_posmap

    from amodal.models.grounding_dino import normalize_caption

    params = segment["grounded_sam"]
    grounder = models.grounder(
        params["detector"], params["text_encoder"], params["box_threshold"], params["text_threshold"]
    )
    caption = normalize_caption(caption)
    with torch.inference_mode():
        outputs = grounder.model(grounder.preprocess(image)[None].to(grounder.device), captions=[caption])
    probs = outputs["pred_logits"].sigmoid()[0].float().cpu()
    rows = probs[probs.max(dim=1)[0] > grounder.box_threshold] > grounder.text_threshold
    tokenized = grounder.tokenizer(caption)
    special = set(grounder.tokenizer.all_special_ids)

    def box_by_box():
        out = []
        for row in rows:
            row = row.clone()
            row[len(tokenized["input_ids"]) :] = False
            for i, token in enumerate(tokenized["input_ids"][: row.shape[0]]):
                if token in special:
                    row[i] = False
            out.append(get_phrases_from_posmap(row, tokenized, grounder.tokenizer).strip())
        return out

    one_by_one, slow = timed(box_by_box, False)
    shared, fast = timed(lambda: grounder._phrases(rows, tokenized), False)
    RESULT["phrases"] = {
        "boxes": int(len(rows)),
        "distinct": len({r.numpy().tobytes() for r in rows}),
        "box_by_box_s": slow,
        "shared_decodes_s": fast,
        "same": one_by_one == shared,
    }


def measure_order(models, order: dict, pairs, segments: int, sync: bool) -> None:
    from amodal.models.instaorder import prepare

    predictor = models.order_predictor(order["instaorder"]["model"])
    rng = np.random.default_rng(1)
    size = pairs[0][1].shape[0]
    stacks = [rng.random((segments, size, size)) > 0.7 for _ in pairs]

    def per_instance():
        return [predictor.both_ways(image, state.visible, stack) for (state, image), stack in zip(pairs, stacks)]

    def inputs():
        batches = []
        for (state, image), stack in zip(pairs, stacks):
            rgb, masks = prepare(image, np.concatenate([state.visible[None], stack]), predictor.size)
            t, o = masks[0][None].expand(len(stack), -1, -1), masks[1:]
            rgb = rgb[None].expand(len(stack), -1, -1, -1)
            batches += [
                torch.cat([o[:, None], t[:, None], rgb], dim=1),
                torch.cat([t[:, None], o[:, None], rgb], dim=1),
            ]
        return torch.cat(batches)

    def one_call(x):
        with torch.inference_mode():
            return predictor.model(x.to(predictor.device))[0].float().cpu()

    per_instance()  # warm-up
    _, separate = timed(per_instance, sync)
    x, preparing = timed(inputs, False)
    one_call(x[:8])
    if sync:
        torch.cuda.reset_peak_memory_stats()
    _, together = timed(lambda: one_call(x), sync)
    RESULT["order"] = {
        "instances": len(pairs),
        "segments_each": segments,
        "per_instance_calls_s": separate,
        "inputs_prepared_s": preparing,
        "one_call_forward_s": together,
        "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if sync else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--n", type=int, default=30)
    parser.add_argument("--size", type=int, default=900)
    parser.add_argument("--max-boxes", type=int, default=20)
    parser.add_argument("--segments", type=int, default=25, help="segments per instance for the order comparison")
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    from amodal.config.schema import load_experiment
    from amodal.models.cache import ModelCache
    from amodal.stages.complete.diffusion import DiffusersBackend

    sync = not args.smoke
    start = time.perf_counter()
    models = ModelCache(write_checkpoints(Path(tempfile.mkdtemp()), args.smoke))  # one for every measurement
    RESULT["checkpoints_written_s"] = time.perf_counter() - start
    _, spec = load_experiment("paper")
    segment = dict(spec["segment"], grounded_sam=dict(spec["segment"]["grounded_sam"], max_boxes=args.max_boxes))
    tags = ["dog", "table", "chair", "background"]
    RESULT.update(
        device=torch.cuda.get_device_name() if sync else "cpu (smoke)",
        torch=torch.__version__,
        n=args.n,
        size=args.size,
        max_boxes=args.max_boxes,
        tags=tags,
    )
    measure_loads(models, segment, spec["order"], sync)
    pairs = completions(args.n, args.size, "red box")
    backend = DiffusersBackend(spec["complete"], segment, spec["order"], {s.instance: tags for s, _ in pairs}, models)
    measure_check(backend, pairs, sync)
    measure_phrases(models, segment, pairs[0][1], ". ".join(tags + ["red box"]))
    measure_order(models, spec["order"], pairs, args.segments, sync)
    (args.out / "check.json").write_text(json.dumps(RESULT, indent=1))
    print(json.dumps(RESULT, indent=1))


if __name__ == "__main__":
    main()
