"""Peak GPU memory and time per item of the two batched GPU calls of the completion loop, per
batch size: the data behind config `models.batch` (docs/PERFORMANCE.md, "Batch sizes").

* inpaint: the SD-2-inpainting pipeline through `Inpainter.inpaint` (fp16, 512 px, guidance 7.5,
  `--steps` steps: memory does not depend on the step count; seconds are given per instance
  and step), B instances of 900 x 900 crops in one call;
* sam_encoder: SAM ViT-H's image encoder through `BoxSegmenter.segment_many` (bf16 autocast),
  16 crops of 900 x 900 px with 20 boxes each, `encoder_batch` = B.

Full-size architectures with random weights (nothing downloaded). Peak = torch's
max_memory_allocated over the call, models included.

    python benchmarks/batch_sizes_gpu.py --out DIR [--inpaint 1,8,16,32,64] [--sam 1,2,4,8,16]
    python benchmarks/batch_sizes_gpu.py --out DIR --smoke     # tiny models on the CPU: checks the script
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))


def crops(n: int, side: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, (side, side, 3), dtype=np.uint8) for _ in range(n)]


def synced() -> float:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter()


def peak_gib() -> float | None:
    return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None


def reset_peak() -> None:
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def bench_inpaint(folder: Path, sizes: list[int], steps: int, side: int, device: str, smoke: bool) -> list[dict]:
    from amodal.models.inpaint import load_inpainter
    from models_gpu import write_sd2_inpainting

    write_sd2_inpainting(folder, smoke)
    inpainter = load_inpainter(str(folder), device=device, dtype="float32" if smoke else "float16")
    size = 64 if smoke else 512
    rows = []
    for batch in sizes:
        images = crops(batch, side)
        masks = [np.zeros((side, side), bool) for _ in range(batch)]
        for mask in masks:
            mask[side // 4 : side // 2] = True
        inpainter.inpaint(images[:1], masks[:1], ["cat"], [0], steps=1, size=size)  # warm-up at this size
        reset_peak()
        start = synced()
        try:
            inpainter.inpaint(images, masks, ["cat"] * batch, list(range(batch)), steps=steps, size=size)
        except torch.cuda.OutOfMemoryError:
            rows.append({"batch": batch, "out_of_memory": True})
            break
        seconds = synced() - start
        rows.append(
            {"batch": batch, "s": seconds, "s_per_instance_step": seconds / batch / steps, "peak_gib": peak_gib()}
        )
        print(
            f"inpaint B={batch}: {seconds:.2f} s, {1000 * seconds / batch / steps:.1f} ms per instance-step, "
            f"peak {rows[-1]['peak_gib']} GiB",
            flush=True,
        )
    del inpainter
    return rows


def bench_sam(sizes: list[int], side: int, device: str, smoke: bool) -> list[dict]:
    from amodal.models.sam import BoxSegmenter, build_sam

    from tiny_models import SAM as TINY

    model = build_sam("vit_b" if smoke else "vit_h", tiny=TINY if smoke else None)
    images = crops(4 if smoke else 16, side, seed=1)
    rng = np.random.default_rng(2)
    boxes = []
    for _ in images:
        corners = rng.uniform(0, side, (20, 2, 2))
        boxes.append(np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1).astype(np.float32))
    rows = []
    for batch in sizes:
        segmenter = BoxSegmenter(model, device, autocast_bf16=device.startswith("cuda"), encoder_batch=batch)
        segmenter.segment_many(images[:1], boxes[:1])  # warm-up
        reset_peak()
        start = synced()
        try:
            segmenter.segment_many(images, boxes)
        except torch.cuda.OutOfMemoryError:
            rows.append({"batch": batch, "out_of_memory": True})
            break
        seconds = synced() - start
        rows.append({"batch": batch, "s": seconds, "s_per_image": seconds / len(images), "peak_gib": peak_gib()})
        print(
            f"sam_encoder B={batch}: {1000 * seconds / len(images):.1f} ms per image, peak {rows[-1]['peak_gib']} GiB",
            flush=True,
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--inpaint", default="1,8,16,32,64")
    parser.add_argument("--sam", default="1,2,4,8,16")
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--side", type=int, default=900)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    device = "cuda" if torch.cuda.is_available() and not args.smoke else "cpu"
    side = 96 if args.smoke else args.side
    result = {
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu",
        "torch": torch.__version__,
        "argv": sys.argv[1:],
    }
    with tempfile.TemporaryDirectory() as tmp:
        result["sam_encoder"] = bench_sam([int(b) for b in args.sam.split(",")], side, device, args.smoke)
        result["inpaint"] = bench_inpaint(
            Path(tmp) / "sd2", [int(b) for b in args.inpaint.split(",")], args.steps, side, device, args.smoke
        )
    (args.out / "batch_sizes.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
