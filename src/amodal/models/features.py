"""Image encoders for feature similarity besides CLIP's: DINOv2 (transformers' `Dinov2Model`)
and torchvision's ResNet-50. Each is built as the real architecture, loaded from a local
checkpoint in a second step (strict key names and shapes), and embeds RGB images as
L2-normalised vectors, one batch per call (the same interface as `ClipScorer.image_embeddings`).

- **dinov2**: a transformers folder (config.json, model.safetensors or pytorch_model.bin,
  preprocessor_config.json): facebook/dinov2-base from `amodal weights fetch dinov2_base`, the
  user's Hugging Face cache, or any folder the config names. The embedding is `pooler_output`,
  which transformers 4.57's `Dinov2Model` defines as the CLS token of `last_hidden_state`, itself
  already after the final layer norm: what DINOv2's own code returns as `x_norm_clstoken`.
- **resnet50**: torchvision's ImageNet checkpoint (IMAGENET1K_V2, resnet50-11ad3fa6.pth; also
  found in the torch hub cache, where torchvision keeps it), loaded strictly into torchvision's
  ResNet-50 including `fc`; the embedding is the 2048-d global average pool before `fc`.

Preprocessing: the caller gives each image already padded to a square with the background
colour (`amodal.metrics.model_based`), so the image is resized to the encoder's input size as a
whole; the centre crop of the encoders' published evaluation transforms would cut the object's
ends. DINOv2: the checkpoint's processor's crop size, resampling, mean and std (224 x 224,
bicubic, ImageNet's for facebook/dinov2-base); ResNet-50: 224 x 224, bilinear, ImageNet's
(torchvision's IMAGENET1K_V2 transform). Resizing is PIL's on the 8-bit image, as both
libraries' own transforms do it on PIL images; then scaled to [0, 1] and normalised.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from amodal.models import CheckpointMismatch, MissingCheckpoint, read_state_dict, require_file

# weights name -> backbone of this module
BACKBONES = {"dinov2_base": "dinov2", "resnet50_imagenet1k_v2": "resnet50"}
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
RESNET_INPUT_SIZE = 224  # torchvision's crop size of IMAGENET1K_V2
RESNET50_LAYERS = (3, 4, 6, 3)
DINOV2_PROCESSOR = "preprocessor_config.json"
DINOV2_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin")
_RESAMPLING = {"bicubic": 3, "bilinear": 2}  # PIL's codes, as transformers' configs write them


@dataclass(frozen=True)
class Preprocess:
    """Square resize, scale to [0, 1], per-channel normalisation; (3, size, size) float32."""

    size: int
    resample: int  # PIL resampling code (2 bilinear, 3 bicubic)
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    def __call__(self, image: np.ndarray) -> torch.Tensor:
        from PIL import Image

        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected a uint8 HxWx3 image, got {image.dtype} {image.shape}")
        resized = Image.fromarray(np.ascontiguousarray(image), mode="RGB").resize(
            (self.size, self.size), resample=Image.Resampling(self.resample)
        )
        pixels = np.asarray(resized, dtype=np.float32) / 255.0
        pixels = (pixels - np.asarray(self.mean, np.float32)) / np.asarray(self.std, np.float32)
        return torch.from_numpy(pixels).permute(2, 0, 1).contiguous()


class FeatureEncoder:
    """Embeds uint8 RGB images with `network` (a module from a (N, 3, S, S) batch to (N, D))."""

    def __init__(self, network: torch.nn.Module, preprocess: Preprocess, backbone: str, device="cpu"):
        self.device = torch.device(device)
        self.network = network.to(self.device).eval()
        self.preprocess = preprocess
        self.backbone = backbone

    @property
    def input_size(self) -> int:
        return self.preprocess.size

    def image_embeddings(self, images: list[np.ndarray]) -> np.ndarray:
        """L2-normalised embeddings (float64, one row per image), one batch."""
        if not images:
            raise ValueError("no images to embed")
        batch = torch.stack([self.preprocess(image) for image in images]).to(self.device)
        with torch.inference_mode():
            features = self.network(batch).float()
            features = features / features.norm(dim=-1, keepdim=True)
        return features.double().cpu().numpy()


# --- DINOv2 -------------------------------------------------------------------------------------


class _Dinov2Embedding(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        return self.model(pixel_values=pixel_values).pooler_output


def build_dinov2(config):
    """transformers' `Dinov2Model` of `config` (a `Dinov2Config`) with random weights, in eval mode."""
    from transformers import Dinov2Model

    return Dinov2Model(config).eval()


def dinov2_preprocess(folder: Path) -> Preprocess:
    """The square resize of the folder's image processor config: its crop size (the side the
    network was evaluated at), resampling (transformers' default: bicubic), mean and std."""
    where = folder / DINOV2_PROCESSOR
    processor = json.loads(where.read_text())
    crop = processor.get("crop_size")
    side = crop.get("height") if isinstance(crop, dict) else crop
    if not isinstance(side, int) or (isinstance(crop, dict) and crop.get("width", side) != side):
        raise ValueError(f"{where}: needs a square crop_size, got {crop!r}")
    missing = [key for key in ("image_mean", "image_std") if key not in processor]
    if missing:
        raise ValueError(f"{where}: lacks {missing}")
    return Preprocess(
        size=side,
        resample=int(processor.get("resample", _RESAMPLING["bicubic"])),
        mean=tuple(processor["image_mean"]),
        std=tuple(processor["image_std"]),
    )


def load_dinov2(folder, weights_name: str = "dinov2_base", device="cpu") -> FeatureEncoder:
    """`Dinov2Model` from a local transformers folder (offline), loaded strictly, float32; a
    missing folder or file is `MissingCheckpoint`, keys or shapes that do not fit `CheckpointMismatch`."""
    from transformers import Dinov2Model

    path = require_file(folder, "DINOv2", weights_name)
    for needed in ("config.json", DINOV2_PROCESSOR):
        if not (path / needed).is_file():
            raise MissingCheckpoint("DINOv2", path / needed, weights_name)
    if not any((path / name).is_file() for name in DINOV2_WEIGHT_FILES):
        raise MissingCheckpoint("DINOv2", path / DINOV2_WEIGHT_FILES[0], weights_name)
    try:
        model, info = Dinov2Model.from_pretrained(
            str(path), local_files_only=True, output_loading_info=True, dtype=torch.float32
        )
    except RuntimeError as error:  # a parameter of another shape
        raise CheckpointMismatch(f"{path}: not a checkpoint of its config.json's Dinov2Model: {error}") from None
    problems = [f"{key} missing" for key in info["missing_keys"]]
    problems += [f"{key} unexpected" for key in info["unexpected_keys"]]
    problems += [f"{key} has another shape" for key, *_ in info.get("mismatched_keys", [])]
    if problems:
        raise CheckpointMismatch(
            f"{path}: not a checkpoint of its config.json's Dinov2Model: " + "; ".join(problems[:5])
        )
    config = model.config
    backbone = f"dinov2 ViT (width {config.hidden_size}, {config.num_hidden_layers} layers, patch {config.patch_size})"
    return FeatureEncoder(_Dinov2Embedding(model.eval()), dinov2_preprocess(path), backbone, device)


# --- ResNet-50 ----------------------------------------------------------------------------------


def build_resnet50(layers=RESNET50_LAYERS):
    """torchvision's ResNet-50 (bottleneck blocks per stage `layers`; fewer make a small network
    with the same key names) with random weights, in eval mode."""
    from torchvision.models.resnet import Bottleneck, ResNet

    return ResNet(Bottleneck, list(layers)).eval()


def load_resnet50(
    checkpoint, weights_name: str = "resnet50_imagenet1k_v2", device="cpu", layers=RESNET50_LAYERS
) -> FeatureEncoder:
    """torchvision's ResNet-50 loaded strictly from its ImageNet file, `fc` replaced by the
    identity: the embedding is the global average pool (2048-d)."""
    path = require_file(checkpoint, "ResNet-50", weights_name)
    model = build_resnet50(layers)
    try:
        model.load_state_dict(read_state_dict(path), strict=True)
    except RuntimeError as error:
        raise CheckpointMismatch(f"{path}: not a torchvision ResNet-50 checkpoint: {error}") from None
    model.fc = torch.nn.Identity()
    preprocess = Preprocess(RESNET_INPUT_SIZE, _RESAMPLING["bilinear"], IMAGENET_MEAN, IMAGENET_STD)
    blocks = "-".join(str(n) for n in layers)
    return FeatureEncoder(model, preprocess, f"resnet50 (bottleneck blocks {blocks})", device)


def load_feature_encoder(checkpoint, backbone: str, weights_name: str, device="cpu", **architecture) -> FeatureEncoder:
    """The encoder of `backbone` ("dinov2" or "resnet50") on `checkpoint`."""
    if backbone == "dinov2":
        return load_dinov2(checkpoint, weights_name, device=device, **architecture)
    if backbone == "resnet50":
        return load_resnet50(checkpoint, weights_name, device=device, **architecture)
    raise ValueError(f"unknown feature backbone {backbone!r}; known: dinov2, resnet50")
