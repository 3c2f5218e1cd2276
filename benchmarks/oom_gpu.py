"""Running out of GPU memory on a real GPU: the batched inpainting call split in halves
(`amodal.models.gpu_memory.map_splitting`, as the diffusers completion backend calls it) against the
same batch run unconstrained, full-size SD-2-inpainting at random weights (nothing downloaded).

    python benchmarks/oom_gpu.py --out DIR [--batch 8] [--steps 20] [--dtype float32]

1. The batch of N instances in one call with no limit: the reference outputs and its peak memory.
2. One instance alone: its peak memory.
3. The process is limited (`torch.cuda.set_per_process_memory_fraction`, which caps what the
   caching allocator reserves) to the peak memory one instance allocates plus a third of what
   the other N-1 add, so the whole batch cannot fit; the
   same N instances go through `map_splitting`. Printed: the batch sizes tried (from the
   inpainter's own calls), which calls ran out of memory, and the largest difference from the
   reference per instance (float32 by default: random fp16 weights may give NaNs).
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
from models_gpu import write_sd2_inpainting  # noqa: E402


def instances(n: int):
    rng = np.random.default_rng(0)
    images, masks = [], []
    for _ in range(n):
        images.append(rng.integers(0, 256, (480, 640, 3), dtype=np.uint8))
        mask = np.zeros((480, 640), bool)
        y, x = rng.integers(50, 250), rng.integers(50, 350)
        mask[y : y + 150, x : x + 200] = True
        masks.append(mask)
    return images, masks, ["cat"] * n, list(range(100, 100 + n))


def main() -> None:
    from amodal.models.gpu_memory import OutOfMemory, map_splitting
    from amodal.models.inpaint import load_inpainter

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--dtype", default="float32")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp()) / "sd2"
    write_sd2_inpainting(folder, smoke=False)
    inpainter = load_inpainter(str(folder), device="cuda", dtype=args.dtype)
    images, masks, prompts, seeds = instances(args.batch)

    calls = []

    def inpaint(batch):
        calls.append(len(batch))
        try:
            return inpainter.inpaint(
                [images[i] for i in batch],
                [masks[i] for i in batch],
                [prompts[i] for i in batch],
                [seeds[i] for i in batch],
                steps=args.steps,
                guidance=7.5,
                size=512,
            )
        except torch.OutOfMemoryError:
            calls[-1] = f"{len(batch)} (out of memory)"
            raise

    def peak(batch):
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        start = time.perf_counter()
        out = inpaint(batch)
        torch.cuda.synchronize()
        return out, torch.cuda.max_memory_allocated(), time.perf_counter() - start

    everyone = list(range(args.batch))
    reference, peak_all, time_all = peak(everyone)
    _, peak_one, time_one = peak([0])
    total = torch.cuda.get_device_properties(0).total_memory
    limit = peak_one + (peak_all - peak_one) / 3
    torch.cuda.empty_cache()
    torch.cuda.set_per_process_memory_fraction(limit / total)
    calls.clear()
    start = time.perf_counter()
    split = map_splitting(inpaint, everyone)
    time_split = time.perf_counter() - start
    differences = [
        None if isinstance(s, OutOfMemory) else int(np.abs(s.astype(int) - r.astype(int)).max())
        for s, r in zip(split, reference)
    ]
    summary = {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "dtype": args.dtype,
        "steps": args.steps,
        "batch": args.batch,
        "peak_gib_batch": peak_all / 2**30,
        "peak_gib_one": peak_one / 2**30,
        "limit_gib": limit / 2**30,
        "seconds_batch_unlimited": time_all,
        "seconds_one": time_one,
        "seconds_split": time_split,
        "calls_when_limited": calls,
        "instances_out_of_memory": sum(isinstance(s, OutOfMemory) for s in split),
        "max_abs_difference_per_instance": differences,
    }
    (args.out / "oom_gpu.json").write_text(json.dumps(summary, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
