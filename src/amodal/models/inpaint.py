"""Stable Diffusion inpainting backend (diffusers).

The paper inpaints with ``stabilityai/stable-diffusion-2-inpainting`` through
``StableDiffusionInpaintPipeline`` at the pipeline's defaults (50 steps, guidance 7.5), fp16
on GPU, 512x512 inputs and the prompt ``"a {prompt}"``.

Nothing is downloaded: ``load_inpainter`` takes a local diffusers folder, or a Hugging Face
repo id that must already be in the local HF cache (``local_files_only=True``). Anything
else is a :class:`amodal.models.MissingCheckpoint`.

The pipeline class is ``StableDiffusionInpaintPipeline``, not ``AutoPipelineForInpainting``:
the paper names that pipeline, and :class:`Inpainter` relies on its call signature
(per-instance generator lists, 9-channel masked-image conditioning). ``AutoPipeline`` would
silently map another folder to an SDXL / Kandinsky / Flux pipeline with different arguments
and behaviour; with the explicit class a wrong checkpoint fails loudly instead.

Batch independence: with a *list* of generators, diffusers draws the initial latents one
instance at a time from that instance's generator (``randn_tensor``), encodes the masked image
one instance at a time with that instance's generator (``_encode_vae_image``), and stochastic
schedulers (e.g. Euler ancestral) draw their step noise per instance the same way. So every
random number an instance sees comes from its own generator only; what remains shared is
batched arithmetic (UNet / VAE / text encoder), which is independent per sample up to
floating-point kernel choices: on CPU the tests see at most one grey level of difference on
a few pixels (batched kernels round differently); GPU kernels may differ by batch size in
the last bits too, especially in fp16.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import numpy as np
from PIL import Image

from amodal.models import MissingCheckpoint, require_file

WHAT = "inpainting pipeline"
WEIGHTS_NAME = "sd2_inpainting"
CONFIG_KEY = "complete.diffusers.model"

PAPER_MODEL = "stabilityai/stable-diffusion-2-inpainting"
PAPER_PROMPT_TEMPLATE = "a {}"

DTYPES = ("float32", "float16", "bfloat16")
SCHEDULERS = ("default", "ddim", "pndm", "euler", "euler_a", "dpm")


def _torch_dtype(dtype):
    import torch

    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    return getattr(torch, dtype)


def _scheduler_class(name: str):
    import diffusers

    classes = {
        "ddim": diffusers.DDIMScheduler,
        "pndm": diffusers.PNDMScheduler,
        "euler": diffusers.EulerDiscreteScheduler,
        "euler_a": diffusers.EulerAncestralDiscreteScheduler,
        "dpm": diffusers.DPMSolverMultistepScheduler,
    }
    if name not in classes:
        raise ValueError(f"scheduler must be one of {SCHEDULERS}, got {name!r}")
    return classes[name]


def _looks_like_repo_id(source: str) -> bool:
    parts = source.split("/")
    return len(parts) == 2 and all(parts) and not source.startswith((".", "~")) and "\\" not in source


def _resolve_folder(source, cache_dir) -> Path:
    """The local diffusers folder for `source` (folder or cached repo id), else MissingCheckpoint."""
    if source is None:
        return require_file(None, WHAT, WEIGHTS_NAME, CONFIG_KEY)
    path = Path(source).expanduser()
    if path.exists() or not _looks_like_repo_id(str(source)):
        return require_file(path, WHAT, WEIGHTS_NAME, CONFIG_KEY)
    from diffusers import DiffusionPipeline

    try:
        folder = DiffusionPipeline.download(str(source), local_files_only=True, cache_dir=cache_dir)
    except OSError as err:  # huggingface_hub.LocalEntryNotFoundError and friends
        raise MissingCheckpoint(
            f"{WHAT} (Hugging Face id {source!r}, not in the local HF cache)", source, WEIGHTS_NAME, CONFIG_KEY
        ) from err
    return Path(folder)


def _safety_checker_absent(folder: Path) -> bool:
    """True if model_index.json declares a safety checker whose files are not in the folder."""
    index = folder / "model_index.json"
    if not index.is_file():
        return False
    spec = json.loads(index.read_text()).get("safety_checker")
    declared = isinstance(spec, (list, tuple)) and len(spec) == 2 and spec[0] is not None and spec[1] is not None
    return declared and not (folder / "safety_checker").is_dir()


def load_inpainter(
    source,
    device: str = "cpu",
    dtype: str = "float32",
    scheduler: str = "default",
    cache_dir=None,
) -> "Inpainter":
    """Load a Stable Diffusion inpainting pipeline from a local folder or the local HF cache."""
    torch_dtype = _torch_dtype(dtype)
    scheduler_cls = None if scheduler == "default" else _scheduler_class(scheduler)
    folder = _resolve_folder(source, cache_dir)
    if not (folder / "model_index.json").is_file():
        raise MissingCheckpoint(f"{WHAT} (no model_index.json)", folder / "model_index.json", WEIGHTS_NAME, CONFIG_KEY)

    from diffusers import StableDiffusionInpaintPipeline

    kwargs = {}
    if _safety_checker_absent(folder):
        kwargs.update(safety_checker=None, requires_safety_checker=False)
    try:
        pipe = StableDiffusionInpaintPipeline.from_pretrained(
            folder, torch_dtype=torch_dtype, local_files_only=True, **kwargs
        )
    except OSError as err:  # a component's weights missing from an incomplete folder / snapshot
        raise MissingCheckpoint(f"{WHAT} (incomplete: {err})", source, WEIGHTS_NAME, CONFIG_KEY) from err
    if scheduler_cls is not None:
        pipe.scheduler = scheduler_cls.from_config(pipe.scheduler.config)
    pipe = pipe.to(device)
    pipe.set_progress_bar_config(disable=True)
    return Inpainter(pipe, device)


class Inpainter:
    """Batched, per-instance-seeded inpainting with a StableDiffusionInpaintPipeline."""

    def __init__(self, pipeline, device="cpu"):
        self.pipeline = pipeline
        self.device = device

    def inpaint(
        self,
        images: list[np.ndarray],
        masks: list[np.ndarray],
        prompts: list[str],
        seeds: list[int],
        steps: int = 50,
        guidance: float = 7.5,
        size: int = 512,
        prompt_template: str = PAPER_PROMPT_TEMPLATE,
    ) -> list[np.ndarray]:
        """Inpaint `masks` (True = region to fill) of `images`; one uint8 HxWx3 result per input.

        All instances go through ONE pipeline call. Each is resized to size x size (image with
        LANCZOS, mask with NEAREST), gets its own CPU torch.Generator seeded with its seed, and
        the result is resized back (LANCZOS) to that input's own HxW. `prompt_template`
        formats each prompt (paper: "a {}"); pass "{}" to use prompts verbatim.
        """
        import torch

        n = len(images)
        if not (len(masks) == len(prompts) == len(seeds) == n):
            raise ValueError(
                f"images, masks, prompts, seeds must have equal lengths, got {n}, {len(masks)}, {len(prompts)}, {len(seeds)}"
            )
        if n == 0:
            return []
        if size % 8 != 0:
            raise ValueError(f"size must be a multiple of 8, got {size}")

        pil_images, pil_masks, shapes = [], [], []
        for i, (image, mask) in enumerate(zip(images, masks)):
            image = np.asarray(image)
            mask = np.asarray(mask)
            if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
                raise ValueError(f"image {i} must be uint8 HxWx3, got {image.dtype} {image.shape}")
            if mask.shape != image.shape[:2]:
                raise ValueError(f"mask {i} has shape {mask.shape}, image has {image.shape[:2]}")
            shapes.append(image.shape[:2])
            pil_images.append(Image.fromarray(image, "RGB").resize((size, size), Image.LANCZOS))
            pil_masks.append(
                Image.fromarray(mask.astype(bool).astype(np.uint8) * 255, "L").resize((size, size), Image.NEAREST)
            )

        # CPU generators: the same seed gives the same noise on every device.
        generators = [torch.Generator(device="cpu").manual_seed(int(seed)) for seed in seeds]
        start = time.perf_counter()
        unet_timer = _UnetTimer(self.pipeline.unet)
        with unet_timer:
            result = self.pipeline(
                prompt=[prompt_template.format(p) for p in prompts],
                image=pil_images,
                mask_image=pil_masks,
                height=size,
                width=size,
                num_inference_steps=steps,
                guidance_scale=guidance,
                generator=generators,
                output_type="np",
            )
        arrays = np.asarray(result.images)  # (n, size, size, 3) float in [0, 1]
        # The job's log: what each batched call cost (benchmarks/throughput_gpu.py reads it).
        logging.getLogger(__name__).info(
            "inpainted %d at %d px, %d steps in %.3f s%s",
            n,
            size,
            steps,
            time.perf_counter() - start,
            unet_timer.note(),
        )
        out = []
        for array, (h, w) in zip(arrays, shapes):
            array = (np.clip(array, 0.0, 1.0) * 255.0).round().astype(np.uint8)
            out.append(np.asarray(Image.fromarray(array, "RGB").resize((w, h), Image.LANCZOS)))
        return out


class _UnetTimer:
    """GPU time of the UNet's forwards during one pipeline call, from CUDA events recorded by
    forward hooks (no synchronisation until the call ends); nothing on the CPU."""

    def __init__(self, unet):
        self.unet, self.pairs, self.handles = unet, [], []

    def __enter__(self):
        import torch

        if (
            torch.cuda.is_available()
            and getattr(self.unet, "device", None) is not None
            and self.unet.device.type == "cuda"
        ):

            def before(module, args):
                self.pairs.append([torch.cuda.Event(enable_timing=True), None])
                self.pairs[-1][0].record()

            def after(module, args, output):
                self.pairs[-1][1] = torch.cuda.Event(enable_timing=True)
                self.pairs[-1][1].record()

            self.handles = [self.unet.register_forward_pre_hook(before), self.unet.register_forward_hook(after)]
        return self

    def __exit__(self, *exc):
        for handle in self.handles:
            handle.remove()
        return False

    def note(self) -> str:
        """', UNet X s in N forwards' (the log line benchmarks/throughput_gpu.py reads), or ''."""
        done = [(a, b) for a, b in self.pairs if b is not None]
        if not done:
            return ""
        done[-1][1].synchronize()
        return f", UNet {sum(a.elapsed_time(b) for a, b in done) / 1000:.3f} s in {len(done)} forwards"
