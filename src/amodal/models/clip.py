"""CLIP (OpenAI ViT-B/32 by default) through open_clip: build with random weights, load a checkpoint,
score an image against texts, embed images.

Mirrors the reference implementation (saraao/amodal, `clip_similarity_w_query`): the image is the
photo with only the target's visible pixels kept (black elsewhere), passed through CLIP's preprocess;
each candidate c in tags + [query] becomes "a photo of a {c}"; image and text features are
L2-normalised and the probabilities are `(100 * image @ text.T).softmax(-1)`; the prompt is the
argmax candidate.

The architecture is open_clip's (`ViT-B-32` with QuickGELU, which is what OpenAI's weights were
trained with); weights come from a local file only: OpenAI's TorchScript archive (`ViT-B-32.pt`)
or an open_clip / plain state dict (.pt, .pth, .bin, .safetensors).
"""

from __future__ import annotations

import json
import logging
import tempfile
import warnings
import zipfile
from contextlib import contextmanager
from copy import deepcopy
from pathlib import Path

import numpy as np
import torch

from amodal.models import MissingCheckpoint, built_on, require_file

PROMPT_TEMPLATE = "a photo of a {}"
WEIGHTS_NAME = "clip_vit_b32_openai"
OPENAI_FILE_NAME = "ViT-B-32.pt"

# Keys of OpenAI's TorchScript archives that are not parameters of the model.
_OPENAI_EXTRA_KEYS = ("input_resolution", "context_length", "vocab_size")
# File names looked for when the configured checkpoint is a folder, in order.
_FOLDER_CANDIDATES = (
    OPENAI_FILE_NAME,
    "open_clip_model.safetensors",
    "open_clip_pytorch_model.safetensors",
    "open_clip_pytorch_model.bin",
    "model.safetensors",
    "pytorch_model.bin",
)
# open_clip logs these when a model is built without weights, which is intended here.
_QUIET_MESSAGES = ("No pretrained weights loaded", "no CLIP weights found")


class _DropRandomInitWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in _QUIET_MESSAGES)


@contextmanager
def _quiet_random_init():
    root = logging.getLogger()
    quiet = _DropRandomInitWarnings()
    root.addFilter(quiet)
    try:
        yield
    finally:
        root.removeFilter(quiet)


def build_clip(model_name: str = "ViT-B-32", config: dict | None = None, quick_gelu: bool = True, device="cpu"):
    """(model, preprocess, tokenizer): open_clip's architecture with random weights, in eval mode.

    `config` is an open_clip model config (embed_dim, vision_cfg, text_cfg, ...); when given, it is
    used instead of `model_name` (passed to open_clip through its `local-dir:` schema, a temporary
    folder holding open_clip_config.json, so open_clip's global registry is left untouched).
    `quick_gelu` (OpenAI's activation) applies unless `config` sets "quick_gelu" itself.
    `preprocess` is the evaluation transform (resize shortest side bicubic, centre crop, OpenAI
    mean/std), taking a PIL image. The model is on `device` (open_clip moves it there).
    """
    import open_clip

    with _quiet_random_init():
        if config is None:
            model, _, preprocess = open_clip.create_model_and_transforms(
                model_name, pretrained=None, force_quick_gelu=quick_gelu, device=device
            )
            tokenizer = open_clip.get_tokenizer(model_name)
        else:
            missing = [key for key in ("embed_dim", "vision_cfg", "text_cfg") if key not in config]
            if missing:
                raise ValueError(f"CLIP config lacks {missing}")
            model_cfg = deepcopy(dict(config))
            model_cfg.setdefault("quick_gelu", quick_gelu)
            with tempfile.TemporaryDirectory(prefix="amodal_clip_cfg_") as folder:
                (Path(folder) / "open_clip_config.json").write_text(json.dumps({"model_cfg": model_cfg}))
                name = f"local-dir:{folder}"
                model, _, preprocess = open_clip.create_model_and_transforms(name, device=device)
                tokenizer = open_clip.get_tokenizer(name)
    return model.eval(), preprocess, tokenizer


def is_torchscript_archive(path) -> bool:
    """Whether `path` is a TorchScript archive (torch.jit.save, as OpenAI's CLIP files are) rather
    than a torch.save pickle: its zip has a code/ folder and constants.pkl."""
    path = Path(path)
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    return any(name.endswith("/constants.pkl") for name in names) and any("/code/" in name for name in names)


def read_clip_state_dict(path) -> dict[str, torch.Tensor]:
    """The model state dict in a checkpoint file, on the CPU: OpenAI TorchScript archive, safetensors,
    or a torch.save'd state dict (optionally under "state_dict", optionally "module."-prefixed)."""
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state = load_file(str(path), device="cpu")
    elif is_torchscript_archive(path):
        with warnings.catch_warnings():  # torch marks TorchScript deprecated; OpenAI ships it
            warnings.simplefilter("ignore", FutureWarning)
            state = dict(torch.jit.load(str(path), map_location="cpu").state_dict())
        for key in _OPENAI_EXTRA_KEYS:
            state.pop(key, None)
    else:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
    if not isinstance(state, dict) or not state:
        raise ValueError(f"{path} holds no CLIP state dict")
    if all(key.startswith("module.") for key in state):
        state = {key[len("module.") :]: value for key, value in state.items()}
    return state


def _checkpoint_file(checkpoint) -> Path:
    path = require_file(checkpoint, "CLIP", WEIGHTS_NAME)
    if path.is_dir():
        for name in _FOLDER_CANDIDATES:
            if (path / name).is_file():
                return path / name
        raise MissingCheckpoint("CLIP", path / OPENAI_FILE_NAME, WEIGHTS_NAME)
    return path


def load_clip(
    checkpoint,
    model_name: str = "ViT-B-32",
    device="cpu",
    dtype: torch.dtype = torch.float32,
    config: dict | None = None,
    quick_gelu: bool = True,
) -> "ClipScorer":
    """Build the model (`build_clip`) and load `checkpoint` into it strictly; a `ClipScorer`.

    A missing file is `MissingCheckpoint` (fetch with `amodal weights fetch clip_vit_b32_openai`).
    """
    path = _checkpoint_file(checkpoint)
    with built_on(device):
        model, preprocess, tokenizer = build_clip(model_name, config=config, quick_gelu=quick_gelu, device=device)
    state = read_clip_state_dict(path)
    logit_scale = state.get("logit_scale")
    if logit_scale is not None and logit_scale.ndim != model.logit_scale.ndim:
        state["logit_scale"] = logit_scale.reshape(model.logit_scale.shape)
    # non-persistent buffers (the text causal mask) are rebuilt by the model; scripted copies save them
    transient = {name for name, _ in model.named_buffers()} - set(model.state_dict())
    state = {key: value for key, value in state.items() if key not in transient}
    model.load_state_dict(state, strict=True)  # copies cast OpenAI's fp16 tensors to the model's dtype
    model = model.to(device=device, dtype=dtype).eval()
    return ClipScorer(model, preprocess, tokenizer, device)


def _unique(names) -> list[str]:
    seen: dict[str, None] = {}
    for name in names:
        seen.setdefault(name, None)
    return list(seen)


class ClipScorer:
    """Scores an RGB image against texts with a CLIP model (no gradients, one batch of texts)."""

    def __init__(self, model, preprocess, tokenizer, device="cpu"):
        self.model = model.eval()
        self.preprocess = preprocess
        self.tokenizer = tokenizer
        self.device = torch.device(device)
        self.dtype = next(model.parameters()).dtype

    def _image_batch(self, image: np.ndarray) -> torch.Tensor:
        from PIL import Image

        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected a uint8 HxWx3 image, got {image.dtype} {image.shape}")
        pixels = self.preprocess(Image.fromarray(np.ascontiguousarray(image), mode="RGB"))
        return pixels.unsqueeze(0).to(device=self.device, dtype=self.dtype)

    def cosine(self, image: np.ndarray, texts: list[str]) -> np.ndarray:
        """Cosine similarity (float64, shape (len(texts),)) of the image's and each text's features."""
        texts = list(texts)
        if not texts:
            raise ValueError("no texts to score")
        with torch.inference_mode():
            image_features = self.model.encode_image(self._image_batch(image)).float()
            tokens = self.tokenizer(texts).to(self.device)
            text_features = self.model.encode_text(tokens).float()
            image_features = image_features / image_features.norm(dim=-1, keepdim=True)
            text_features = text_features / text_features.norm(dim=-1, keepdim=True)
            similarity = (image_features @ text_features.T)[0]
        return similarity.double().cpu().numpy()

    @property
    def input_size(self) -> int:
        """Side (px) of the square the preprocessing gives the image encoder."""
        size = self.model.visual.image_size
        return int(size[0] if isinstance(size, (tuple, list)) else size)

    def image_embeddings(self, images: list[np.ndarray]) -> np.ndarray:
        """L2-normalised image features (float64, one row per image), one batch."""
        if not images:
            raise ValueError("no images to embed")
        with torch.inference_mode():
            batch = torch.cat([self._image_batch(image) for image in images])
            features = self.model.encode_image(batch).float()
            features = features / features.norm(dim=-1, keepdim=True)
        return features.double().cpu().numpy()

    def text_probabilities(self, image: np.ndarray, texts: list[str]) -> np.ndarray:
        """softmax(100 * cosine) over `texts` (float64, sums to 1), as the reference does."""
        logits = torch.from_numpy(100.0 * self.cosine(image, texts))
        return logits.softmax(-1).numpy()

    def choose_prompt(
        self, image: np.ndarray, visible_mask: np.ndarray, candidates: list[str], query: str | None
    ) -> dict:
        """The reference's prompt choice: the image with pixels outside `visible_mask` set to 0,
        scored against "a photo of a {c}" for c in candidates + [query] (deduplicated, first kept;
        no query when None); {"prompt": argmax candidate (first on ties), "candidates": {candidate: probability}}."""
        image = np.asarray(image)
        visible_mask = np.asarray(visible_mask, dtype=bool)
        if visible_mask.shape != image.shape[:2]:
            raise ValueError(f"visible mask {visible_mask.shape} does not match image {image.shape}")
        names = _unique([*candidates, *([] if query is None else [query])])
        if not names:
            raise ValueError("no candidate to choose a prompt from")
        masked = np.where(visible_mask[..., None], image, 0).astype(np.uint8)
        probabilities = self.text_probabilities(masked, [PROMPT_TEMPLATE.format(name) for name in names])
        best = int(np.argmax(probabilities))
        return {
            "prompt": names[best],
            "candidates": {name: float(p) for name, p in zip(names, probabilities)},
        }

    def zero_shot_tags(
        self, image: np.ndarray, vocabulary: list[str], top_k: int, min_probability: float
    ) -> list[tuple[str, float]]:
        """Softmax over "a photo of a {c}" for the (deduplicated) vocabulary; the `top_k` words with
        probability >= `min_probability`, most probable first (vocabulary order on ties)."""
        names = _unique(vocabulary)
        if top_k <= 0 or not names:
            return []
        probabilities = self.text_probabilities(image, [PROMPT_TEMPLATE.format(name) for name in names])
        order = sorted(range(len(names)), key=lambda i: (-probabilities[i], i))
        chosen = [(names[i], float(probabilities[i])) for i in order if probabilities[i] >= min_probability]
        return chosen[:top_k]
