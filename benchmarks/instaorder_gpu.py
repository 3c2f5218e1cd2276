"""InstaOrderNet^o,d at full size with random weights: written in the released checkpoint layout,
loaded by `amodal.models.instaorder.load_instaorder`, then `OrderPredictor.both_ways` timed for
a target against K segments (2K network inputs in one batch) at the seed's 384 px.

    python benchmarks/instaorder_gpu.py --out DIR [--device cuda]

One warm-up call, then the mean of 5, between `torch.cuda.synchronize()`s; peak memory from
`torch.cuda.max_memory_allocated`, reset before each K. Random weights: only times and memory
mean anything.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    from amodal.models.instaorder import OrderPredictor, build_instaorder, load_instaorder

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    path = Path(tempfile.mkdtemp()) / "InstaOrder_InstaOrderNet_od.pth.tar"
    torch.manual_seed(0)
    torch.save({"step": 0, "state_dict": {f"module.{k}": v for k, v in build_instaorder().state_dict().items()}}, path)
    cuda = args.device.startswith("cuda")
    start = time.perf_counter()
    predictor = OrderPredictor(load_instaorder(path, device=args.device), args.device)
    if cuda:
        torch.cuda.synchronize()
    figures = {
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "torch": torch.__version__,
        "load_s": time.perf_counter() - start,
        "calls": {},
    }
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    target = np.zeros((480, 640), bool)
    target[100:300, 200:400] = True
    for k in (1, 8, 32):
        others = np.zeros((k, 480, 640), bool)
        for i in range(k):
            y, x = rng.integers(0, 400), rng.integers(0, 560)
            others[i, y : y + 80, x : x + 80] = True
        if cuda:
            torch.cuda.reset_peak_memory_stats()
        predictor.both_ways(image, target, others)
        times = []
        for _ in range(5):
            if cuda:
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            predictor.both_ways(image, target, others)
            if cuda:
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        figures["calls"][k] = {
            "seconds": sum(times) / len(times),
            "peak_gib": torch.cuda.max_memory_allocated() / 2**30 if cuda else None,
        }
    (args.out / "instaorder_gpu.json").write_text(json.dumps(figures, indent=2))
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
