"""Full-size model families with random weights: checkpoint round trip through the project's
loaders, load times, forward times and peak GPU memory.

    python benchmarks/models_gpu.py --out DIR            # full sizes, on CUDA
    python benchmarks/models_gpu.py --out DIR --smoke    # tiny sizes, CPU: checks the script itself

For each family the script first writes a checkpoint in the released format to a temporary
folder (random weights; nothing is downloaded), then loads it with `amodal.models.*`'s loader
and times that load, then times the family's inference entry point: one warm-up call, then
the mean of 3 calls, each between `torch.cuda.synchronize()`s. Peak GPU memory
(`torch.cuda.max_memory_allocated`) is reset before each family's load.

* SAM ViT-H: `BoxSegmenter.segment` on a 640x480 image with 1 and 10 boxes, bf16 autocast and
  fp32; "full call" embeds the image (the segmenter is made to forget it first), "decode only"
  reuses the cached embedding; embed = full - decode.
* GroundingDINO SwinT-OGC (BERT-base text encoder with random weights and a SYNTHETIC
  30522-entry vocabulary): `Grounder.detect`, 800x1200 image (H x W), 7-phrase caption, fp32.
* CLIP ViT-B-32: `ClipScorer.choose_prompt` with 8 candidate texts; `zero_shot_tags` over 80 names.
* RAM++ Swin-L (the released layout: {"model": state dict}, label embeddings random):
  `Tagger.tags` on a 640x480 image at 384 px, fp32, the seed's flat threshold 0.6.
* SD-2-inpainting (hand-written configs of stabilityai/stable-diffusion-2-inpainting, random
  weights, CLIP BPE tokenizer derived from open_clip's shipped vocabulary, DDIM):
  `Inpainter.inpaint` at 512, 50 steps, guidance 7.5, fp16, 1 / 4 / 8 instances per call.

Random weights give meaningless outputs (GroundingDINO's box count is whatever crosses the
thresholds; SD in fp16 may give NaNs): only times and memory mean anything.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import platform
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "src") not in sys.path:
    sys.path.insert(0, str(ROOT / "src"))

# ----------------------------------------------------------------------------- sizes

# --smoke uses the tests' tiny architectures (tests/tiny_models.py), so both check the same builds.
sys.path.insert(0, str(ROOT / "tests"))
from tiny_models import CLIP as TINY_CLIP  # noqa: E402
from tiny_models import GROUNDING_DINO as TINY_DINO  # noqa: E402
from tiny_models import RAM_PLUS as TINY_RAM_PLUS  # noqa: E402
from tiny_models import SAM as TINY_SAM  # noqa: E402

PHRASES = ["person", "car", "cup", "bird", "camera", "potato", "traffic cone"]
CLIP_CANDIDATES = ["cat", "dog", "person", "car", "cup", "bird", "camera", "potato"]
from amodal.stages.tag import vocabulary  # noqa: E402

COCO = vocabulary("coco")  # the 80 COCO names shipped with amodal
assert len(COCO) == 80

ROWS: list[dict] = []
ERRORS: list[dict] = []


def record(family: str, what: str, value, unit: str) -> None:
    ROWS.append({"family": family, "what": what, "value": value, "unit": unit})
    shown = f"{value:.4g}" if isinstance(value, float) else value
    print(f"  [{family}] {what}: {shown} {unit}", flush=True)


class Clock:
    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def once(self, fn):
        self.sync()
        t0 = time.perf_counter()
        result = fn()
        self.sync()
        return time.perf_counter() - t0, result

    def mean(self, fn, repeats: int = 3, warmup: int = 1, before=None) -> tuple[float, list[float]]:
        for _ in range(warmup):
            if before:
                before()
            fn()
        times = []
        for _ in range(repeats):
            if before:
                before()
            times.append(self.once(fn)[0])
        return statistics.mean(times), times

    def reset_peak(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()

    def peak_gib(self) -> float | None:
        return torch.cuda.max_memory_allocated() / 2**30 if self.cuda else None


def free() -> None:
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# ----------------------------------------------------------------------------- SAM


def bench_sam(tmp: Path, device: torch.device, clock: Clock, smoke: bool) -> None:
    from amodal.models.sam import BoxSegmenter, build_sam, load_sam

    fam = "SAM ViT-H"
    tiny = TINY_SAM if smoke else None
    torch.manual_seed(0)
    t0 = time.perf_counter()
    model = build_sam("vit_h", tiny=tiny)
    record(fam, "parameters", n_params(model) / 1e6, "M")
    path = tmp / "sam_vit_h_4b8939.pth"
    torch.save(model.state_dict(), path)
    del model
    free()
    record(fam, "build + save checkpoint (CPU, not the loader)", time.perf_counter() - t0, "s")
    record(fam, "checkpoint size", path.stat().st_size / 2**30, "GiB")

    clock.reset_peak()
    load_s, model = clock.once(lambda: load_sam(path, "vit_h", device=device, tiny=tiny))
    record(fam, "load_sam (build + torch.load + strict load + to device)", load_s, "s")

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    corners = rng.uniform([0, 0, 0, 0], [300, 200, 300, 250], (10, 4)).astype(np.float32)
    boxes10 = np.concatenate([corners[:, :2], corners[:, :2] + 40 + corners[:, 2:]], axis=1)
    boxes10[:, [0, 2]] = boxes10[:, [0, 2]].clip(0, 639)
    boxes10[:, [1, 3]] = boxes10[:, [1, 3]].clip(0, 479)
    for label, bf16 in (("bf16 autocast", True), ("fp32", False)):
        seg = BoxSegmenter(model, device, autocast_bf16=bf16)
        for nbox, boxes in ((1, boxes10[:1]), (10, boxes10)):
            full, _ = clock.mean(lambda: seg.segment(image, boxes), before=seg.forget_image)
            seg.segment(image, boxes)  # embedding cached for `image`
            dec, _ = clock.mean(lambda: seg.segment(image, boxes))
            record(
                fam,
                f"segment, {label}, {nbox} box{'es' if nbox > 1 else ''}: full call (embed + decode)",
                full * 1e3,
                "ms",
            )
            record(
                fam,
                f"segment, {label}, {nbox} box{'es' if nbox > 1 else ''}: decode only (cached embedding)",
                dec * 1e3,
                "ms",
            )
            record(
                fam,
                f"segment, {label}, {nbox} box{'es' if nbox > 1 else ''}: embed (full - decode)",
                (full - dec) * 1e3,
                "ms",
            )
        seg = None  # dropped: the lambdas above hold the name, so `del` cannot
    record(fam, "peak GPU memory (load + all segment calls)", clock.peak_gib(), "GiB")
    del model
    free()


# ----------------------------------------------------------------------------- GroundingDINO


def write_bert(folder: Path, smoke: bool) -> Path:
    """A BERT folder with random weights and a SYNTHETIC 30522-entry lowercase vocabulary
    (bert-base-uncased's size and special tokens; the words are not bert-base-uncased's)."""
    from transformers import BertConfig, BertModel, BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    words = list(
        dict.fromkeys(
            [
                ".",
                "?",
                ",",
                "!",
                "'",
                "-",
                *"abcdefghijklmnopqrstuvwxyz",
                *map(str, range(10)),
                "a",
                "the",
                "of",
                "photo",
                "background",
                *(w for name in COCO + PHRASES + CLIP_CANDIDATES for w in name.split()),
            ]
        )
    )
    vocab = specials + words
    i = 0
    while len(vocab) < 30522:
        vocab.append(f"##w{i}" if i % 4 == 3 else f"w{i}")
        i += 1
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    if smoke:
        config = BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    else:
        config = BertConfig()  # bert-base-uncased sizes: 12 layers, 768 wide, vocab 30522
    assert config.vocab_size == len(vocab)
    torch.manual_seed(0)
    BertModel(config).save_pretrained(folder)
    BertTokenizer(str(folder / "vocab.txt"), do_lower_case=True).save_pretrained(folder)
    return folder


def bench_grounding_dino(tmp: Path, device: torch.device, clock: Clock, smoke: bool) -> None:
    from amodal.models.grounding_dino import Grounder, build_grounding_dino, caption_for, load_grounding_dino

    fam = "GroundingDINO SwinT-OGC"
    overrides = TINY_DINO if smoke else None
    t0 = time.perf_counter()
    bert = write_bert(tmp / "bert-base-uncased", smoke)
    torch.manual_seed(0)
    model = build_grounding_dino("swint_ogc", bert, overrides=overrides)
    record(fam, "parameters (BERT-base included)", n_params(model) / 1e6, "M")
    path = tmp / "groundingdino_swint_ogc.pth"
    torch.save({"model": model.state_dict()}, path)
    del model
    free()
    record(fam, "build + save checkpoint (CPU, not the loader)", time.perf_counter() - t0, "s")
    record(fam, "checkpoint size", path.stat().st_size / 2**30, "GiB")

    clock.reset_peak()
    load_s, model = clock.once(lambda: load_grounding_dino(path, "swint_ogc", bert, device=device, overrides=overrides))
    record(fam, "load_grounding_dino", load_s, "s")
    height, width = (200, 300) if smoke else (800, 1200)
    kwargs = dict(resize=200, max_size=300) if smoke else {}
    grounder = Grounder(model, device, **kwargs)
    image = np.random.default_rng(1).integers(0, 256, (height, width, 3), dtype=np.uint8)
    caption = caption_for(PHRASES)
    detections = grounder.detect(image, caption)
    mean, _ = clock.mean(lambda: grounder.detect(image, caption))
    record(fam, f"detect, {height}x{width} image, 7-phrase caption, fp32", mean * 1e3, "ms")
    record(fam, "detections kept (random weights: meaningless)", len(detections), "boxes")
    record(fam, "peak GPU memory (load + detect)", clock.peak_gib(), "GiB")
    grounder = model = None  # dropped: the lambdas above hold the name, so `del` cannot
    free()


# ----------------------------------------------------------------------------- CLIP


def bench_clip(tmp: Path, device: torch.device, clock: Clock, smoke: bool) -> None:
    from amodal.models.clip import build_clip, load_clip

    fam = "CLIP ViT-B-32"
    config = TINY_CLIP if smoke else None
    t0 = time.perf_counter()
    torch.manual_seed(0)
    model = build_clip(config=config)[0]
    record(fam, "parameters", n_params(model) / 1e6, "M")
    path = tmp / "ViT-B-32_state_dict.pt"
    torch.save(model.state_dict(), path)
    del model
    free()
    record(fam, "build + save checkpoint (CPU, not the loader)", time.perf_counter() - t0, "s")

    clock.reset_peak()
    load_s, scorer = clock.once(lambda: load_clip(path, device=device, config=config))
    record(fam, "load_clip", load_s, "s")
    rng = np.random.default_rng(2)
    image = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    visible = np.zeros((480, 640), bool)
    visible[100:380, 150:500] = True
    mean, _ = clock.mean(lambda: scorer.choose_prompt(image, visible, CLIP_CANDIDATES, "cat"))
    record(fam, "choose_prompt, 8 candidates", mean * 1e3, "ms")
    mean, _ = clock.mean(lambda: scorer.zero_shot_tags(image, COCO, top_k=5, min_probability=0.0))
    record(fam, "zero_shot_tags, 80 names", mean * 1e3, "ms")
    record(fam, "peak GPU memory (load + calls)", clock.peak_gib(), "GiB")
    scorer = None  # dropped: the lambdas above hold the name, so `del` cannot
    free()


def bench_ram_plus(tmp: Path, device: torch.device, clock: Clock, smoke: bool) -> None:
    from amodal.models.ram_plus import Tagger, build_ram_plus, load_ram_plus

    fam = "RAM++ Swin-L"
    overrides = TINY_RAM_PLUS if smoke else {}
    t0 = time.perf_counter()
    torch.manual_seed(0)
    model = build_ram_plus(**overrides)
    record(fam, "parameters", n_params(model) / 1e6, "M")
    state = model.state_dict()
    state["label_embed"] = torch.randn(state["label_embed"].shape) * 0.05
    path = tmp / "ram_plus_swin_large_14m.pth"
    torch.save({"model": state}, path)
    del model, state
    free()
    record(fam, "build + save checkpoint (CPU, not the loader)", time.perf_counter() - t0, "s")

    clock.reset_peak()
    load_s, model = clock.once(lambda: load_ram_plus(path, device=str(device), **overrides))
    record(fam, "load_ram_plus", load_s, "s")
    tagger = Tagger(model, str(device))
    image = np.random.default_rng(3).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    mean, _ = clock.mean(lambda: tagger.tags(image, 0.6))
    record(fam, "tags of one 640x480 image (384 px, fp32)", mean * 1e3, "ms")
    record(fam, "peak GPU memory (load + calls)", clock.peak_gib(), "GiB")
    tagger = model = None  # dropped: the lambdas above hold the name, so `del` cannot
    free()


# ----------------------------------------------------------------------------- SD-2 inpainting


def write_clip_bpe_tokenizer(folder: Path):
    """A transformers CLIPTokenizer from open_clip's shipped BPE file, with the vocabulary built
    the way CLIP's SimpleTokenizer builds it: 256 byte symbols, the same with "</w>", one entry
    per merge (the first 48894 merges), then <|startoftext|> and <|endoftext|> (49408 entries)."""
    from open_clip.tokenizer import bytes_to_unicode, default_bpe
    from transformers import CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    lines = gzip.open(default_bpe()).read().decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : 49152 - 256 - 2 + 1]]
    symbols = list(bytes_to_unicode().values())
    vocab = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    assert len(vocab) == 49408, len(vocab)
    (folder / "vocab.json").write_text(json.dumps({token: i for i, token in enumerate(vocab)}, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")
    # SD-2's tokenizer pads with "!" (token 0), as stabilityai's tokenizer_config.json says
    return CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), pad_token="!", model_max_length=77)


def write_sd2_inpainting(folder: Path, smoke: bool) -> dict:
    import diffusers
    import transformers

    torch.manual_seed(0)
    if smoke:
        unet = diffusers.UNet2DConditionModel(
            sample_size=8,
            in_channels=9,
            out_channels=4,
            layers_per_block=1,
            block_out_channels=(32, 64),
            attention_head_dim=(2, 4),
            cross_attention_dim=32,
            use_linear_projection=True,
            down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
            up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        )
        vae = diffusers.AutoencoderKL(
            in_channels=3,
            out_channels=3,
            latent_channels=4,
            layers_per_block=1,
            block_out_channels=(32, 64),
            down_block_types=("DownEncoderBlock2D",) * 2,
            up_block_types=("UpDecoderBlock2D",) * 2,
            sample_size=64,
        )
        text_config = transformers.CLIPTextConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            hidden_act="gelu",
            projection_dim=32,
            vocab_size=49408,
            max_position_embeddings=77,
        )
    else:
        unet = diffusers.UNet2DConditionModel(
            sample_size=64,
            in_channels=9,
            out_channels=4,
            layers_per_block=2,
            block_out_channels=(320, 640, 1280, 1280),
            attention_head_dim=(5, 10, 20, 20),
            cross_attention_dim=1024,
            use_linear_projection=True,
            down_block_types=("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
            up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
        )
        vae = diffusers.AutoencoderKL(
            in_channels=3,
            out_channels=3,
            latent_channels=4,
            layers_per_block=2,
            block_out_channels=(128, 256, 512, 512),
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            sample_size=512,
        )
        text_config = transformers.CLIPTextConfig(
            hidden_size=1024,
            num_hidden_layers=23,
            num_attention_heads=16,
            intermediate_size=4096,
            hidden_act="gelu",
            projection_dim=512,
            vocab_size=49408,
            max_position_embeddings=77,
        )
    text_encoder = transformers.CLIPTextModel(text_config)
    tokenizer = write_clip_bpe_tokenizer(folder.parent / "clip_bpe")
    scheduler = diffusers.DDIMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        steps_offset=1,
        clip_sample=False,
        set_alpha_to_one=False,
        prediction_type="epsilon",
    )
    counts = {"unet": n_params(unet), "vae": n_params(vae), "text_encoder": n_params(text_encoder)}
    pipe = diffusers.StableDiffusionInpaintPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder)
    ids = tokenizer("a photo of a traffic cone")["input_ids"]
    assert ids[0] == 49406 and ids[-1] == 49407, ids
    return counts


def bench_inpaint(tmp: Path, device: torch.device, clock: Clock, smoke: bool) -> None:
    from amodal.models.inpaint import load_inpainter

    fam = "SD-2-inpainting"
    t0 = time.perf_counter()
    folder = tmp / "stable-diffusion-2-inpainting"
    counts = write_sd2_inpainting(folder, smoke)
    for name, count in counts.items():
        record(fam, f"parameters, {name}", count / 1e6, "M")
    record(fam, "build + save_pretrained (CPU, not the loader)", time.perf_counter() - t0, "s")
    size_gib = sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**30
    record(fam, "folder size (fp32 safetensors)", size_gib, "GiB")

    dtype = "float32" if smoke else "float16"
    clock.reset_peak()
    load_s, inpainter = clock.once(lambda: load_inpainter(str(folder), device=str(device), dtype=dtype))
    record(fam, f"load_inpainter ({dtype})", load_s, "s")
    record(fam, "peak GPU memory after load", clock.peak_gib(), "GiB")
    size, steps = (32, 2) if smoke else (512, 50)
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    mask = np.zeros((480, 640), bool)
    mask[120:360, 160:480] = True
    for n in (1, 4, 8):
        clock.reset_peak()
        outputs = []

        def call():
            out = inpainter.inpaint(
                [image] * n, [mask] * n, ["cup"] * n, list(range(n)), steps=steps, guidance=7.5, size=size
            )
            outputs.append(out)

        mean, _ = clock.mean(call)
        assert len(outputs[-1]) == n and outputs[-1][0].shape == image.shape
        record(fam, f"inpaint {size}², {steps} steps, guidance 7.5, {dtype}, {n} instance(s): per call", mean, "s")
        record(fam, f"inpaint, {n} instance(s): per instance", mean / n, "s")
        record(fam, f"peak GPU memory, {n} instance(s)", clock.peak_gib(), "GiB")
    inpainter = None  # dropped: the lambdas above hold the name, so `del` cannot
    free()


# ----------------------------------------------------------------------------- main

FAMILIES = {
    "sam": bench_sam,
    "grounding_dino": bench_grounding_dino,
    "clip": bench_clip,
    "ram_plus": bench_ram_plus,
    "inpaint": bench_inpaint,
}


def versions() -> dict:
    import diffusers
    import transformers

    out = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
    }
    try:
        import open_clip

        out["open_clip"] = open_clip.__version__
    except Exception:  # pragma: no cover
        pass
    return out


def markdown(meta: dict) -> str:
    lines = [
        f"Device: {meta['device_name']}; torch {meta['versions']['torch']}, diffusers {meta['versions']['diffusers']}, "
        f"transformers {meta['versions']['transformers']}{' (SMOKE: tiny sizes)' if meta['smoke'] else ''}",
        "",
        "| family | what | figure |",
        "|---|---|---|",
    ]
    for row in ROWS:
        value = row["value"]
        if value is None:
            shown = "n/a"
        elif isinstance(value, float):
            shown = f"{value:.3g}" if abs(value) < 100 else f"{value:.0f}"
        else:
            shown = str(value)
        lines.append(f"| {row['family']} | {row['what']} | {shown} {row['unit']} |")
    for err in ERRORS:
        lines.append(f"| {err['family']} | FAILED | {err['error']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, type=Path)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (checks the script on the CPU)")
    parser.add_argument("--device", default=None, help="default: cuda if available (cpu with --smoke)")
    parser.add_argument("--families", default=",".join(FAMILIES), help=f"comma-separated subset of {list(FAMILIES)}")
    parser.add_argument("--tmp", default=None, help="folder for the checkpoints (default: a temporary folder)")
    args = parser.parse_args(argv)

    device = torch.device(args.device or ("cpu" if args.smoke or not torch.cuda.is_available() else "cuda"))
    if args.smoke and device.type == "cpu":
        torch.set_num_threads(1)
    clock = Clock(device)
    if device.type == "cuda":
        torch.ones(1, device=device).sum().item()  # CUDA context outside every timing
    meta = {
        "smoke": args.smoke,
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
        "versions": versions(),
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "timing": "one warm-up, then mean of 3 calls between torch.cuda.synchronize(); loads timed once",
        "notes": ["random weights", "GroundingDINO's BERT folder has a synthetic 30522-entry vocabulary"],
    }
    print(json.dumps(meta, indent=1), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="amodal_models_gpu_", dir=args.tmp) as tmp:
        for name in args.families.split(","):
            print(f"== {name}", flush=True)
            t0 = time.perf_counter()
            try:
                FAMILIES[name](Path(tmp), device, clock, args.smoke)
            except Exception as err:  # keep going: the other families' figures still count
                traceback.print_exc()
                ERRORS.append({"family": name, "error": f"{type(err).__name__}: {err}"[:300]})
                free()
            print(f"== {name} done in {time.perf_counter() - t0:.1f} s", flush=True)
            (args.out / "models_gpu.json").write_text(
                json.dumps({"meta": meta, "rows": ROWS, "errors": ERRORS}, indent=1)
            )
    table = markdown(meta)
    (args.out / "models_gpu.md").write_text(table + "\n")
    print(table)
    return 1 if ERRORS else 0


if __name__ == "__main__":
    sys.exit(main())
