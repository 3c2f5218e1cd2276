"""Model load time on a GPU: each loader of `amodal.models` with the network built on the CPU and
then moved (how every loader worked before `amodal.models.built_on`) against built on the GPU
(`built_on`: parameters created and initialised there, the checkpoint loaded over them). Full-size
architectures at random weights, nothing downloaded: SAM ViT-H, GroundingDINO SwinT-OGC + BERT,
RAM++ Swin-L, CLIP ViT-B/32, InstaOrderNet ResNet-50.

    python benchmarks/load_gpu.py --out DIR

Each checkpoint is written first (so both loads read it from the page cache), loaded the old
way, then the new way; the two models' parameters and buffers are compared (max |difference|).
Prints and writes DIR/load.json. `--smoke` runs the tiny test models on the CPU (checks the script).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

HERE = Path(__file__).resolve().parent
NAMES = ("sam_vit_h", "groundingdino_swint_ogc", "ram_plus_swin_large_14m", "clip_vit_b32_openai", "instaorder_od")
ROOT = HERE.parent


@torch.no_grad()
def difference(a: torch.nn.Module, b: torch.nn.Module) -> float:
    """Largest absolute difference between the two models' parameters and buffers (all of them,
    non-persistent buffers included); inf when their names differ."""
    one = dict(a.named_parameters()) | dict(a.named_buffers())
    two = dict(b.named_parameters()) | dict(b.named_buffers())
    if one.keys() != two.keys():
        return float("inf")
    worst = 0.0
    for name, tensor in one.items():
        other = two[name].to(tensor.device)
        if tensor.dtype.is_floating_point:
            worst = max(worst, float((tensor.float() - other.float()).abs().max()) if tensor.numel() else 0.0)
        elif not torch.equal(tensor, other):
            return float("inf")
    return worst


def loaders(paths: dict, device: str, arch: dict) -> dict:
    """name -> (module whose `built_on` the old way replaces, function returning the nn.Module);
    `arch` holds the tests' tiny architectures by name (empty: full size)."""
    from amodal.models import clip, grounding_dino, instaorder, ram_plus, sam

    def kwargs(name):
        return dict(arch.get(name, {}))

    return {
        "sam_vit_h": (sam, lambda: sam.load_sam(paths["sam_vit_h"], "vit_h", device=device, **kwargs("sam_vit_h"))),
        "groundingdino_swint_ogc": (
            grounding_dino,
            lambda: grounding_dino.load_grounding_dino(
                paths["groundingdino_swint_ogc"],
                "swint_ogc",
                paths["bert_base_uncased"],
                device=device,
                **kwargs("groundingdino_swint_ogc"),
            ),
        ),
        "ram_plus_swin_large_14m": (
            ram_plus,
            lambda: ram_plus.load_ram_plus(
                paths["ram_plus_swin_large_14m"], device=device, **kwargs("ram_plus_swin_large_14m")
            ),
        ),
        "clip_vit_b32_openai": (
            clip,
            lambda: clip.load_clip(paths["clip_vit_b32_openai"], device=device, **kwargs("clip_vit_b32_openai")).model,
        ),
        "instaorder_od": (
            instaorder,
            lambda: instaorder.load_instaorder(paths["instaorder_od"], device=device, **kwargs("instaorder_od")),
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp())
    device = "cpu" if args.smoke else "cuda"
    sys.path.insert(0, str(HERE))
    if args.smoke:
        sys.path.insert(0, str(ROOT / "tests"))
        from tiny_models import write_tiny_checkpoints

        models = write_tiny_checkpoints(folder)
        paths, arch = models["paths"], models["architectures"]
    else:
        from paper_gpu import write_checkpoints

        paths, arch = write_checkpoints(folder, NAMES)["paths"], {}
    result = {
        "device": torch.cuda.get_device_name() if device == "cuda" else "cpu (smoke)",
        "torch": torch.__version__,
        "models": {},
    }
    for name, (module, load) in loaders(paths, device, arch).items():
        times = {}
        original = module.built_on
        for way, context in (
            ("built_on_cpu_then_moved", lambda _device: contextlib.nullcontext()),
            ("built_on_device", original),
        ):
            module.built_on = context
            try:
                if device == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
                model = load()
                if device == "cuda":
                    torch.cuda.synchronize()
                times[way] = (time.perf_counter() - start, model)
            finally:
                module.built_on = original
        (old_s, old), (new_s, new) = times["built_on_cpu_then_moved"], times["built_on_device"]
        result["models"][name] = {
            "built_on_cpu_then_moved_s": old_s,
            "built_on_device_s": new_s,
            "max_abs_difference": difference(old, new),
        }
        print(name, result["models"][name], flush=True)
        del old, new, times
        if device == "cuda":
            torch.cuda.empty_cache()
    (args.out / "load.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
