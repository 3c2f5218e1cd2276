"""The reference library's metrics on this project's networks, for the metric tests: torchmetrics'
CLIPScore handed an open_clip CLIP checkpoint through its (model, processor) hook, and torchmetrics'
LPIPS (which reads its backbone from the torch hub cache, as it reads torchvision's)."""

from __future__ import annotations

import types

import numpy as np
import torch


def as_transformers_clip(scorer, image_sign: float = 1.0):
    """(model, processor) in the shape of transformers' CLIP model and processor, as torchmetrics'
    CLIP score accepts them, over a `ClipScorer`'s open_clip model, preprocess and tokenizer. The
    image features are multiplied by `image_sign` (-1 turns the clamped score of a negative cosine
    into a positive one)."""
    from torchvision.transforms.functional import to_pil_image

    class AsTransformersClip(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model, self.config = model, types.SimpleNamespace()

        def get_image_features(self, pixel_values):
            return image_sign * self.model.encode_image(pixel_values)

        def get_text_features(self, input_ids, attention_mask=None):
            return self.model.encode_text(input_ids)

    def processor(text=None, images=None, return_tensors="pt", padding=True):
        if images is not None:
            return {"pixel_values": torch.stack([scorer.preprocess(to_pil_image(image)) for image in images])}
        ids = scorer.tokenizer(text)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

    return AsTransformersClip(scorer.model), processor


def clip_score_metric(checkpoint, config: dict | None = None):
    """torchmetrics' CLIPScore on the open_clip model in `checkpoint` (architecture `config`),
    wrapped in the shape of transformers' CLIP model and processor, as CLIPScore accepts."""
    from torchmetrics.multimodal.clip_score import CLIPScore

    from amodal.models.clip import load_clip

    scorer = load_clip(checkpoint, config=config)
    return CLIPScore(model_name_or_path=lambda: as_transformers_clip(scorer))


def chw(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)


def clip_score(metric, first: np.ndarray, second) -> float:
    """`metric` (a fresh CLIPScore) of a uint8 HxWx3 image and a text, or of two images."""
    with torch.no_grad():
        return float(metric(chw(first), second if isinstance(second, str) else chw(second)))


def lpips(first: np.ndarray, second: np.ndarray, net: str = "alex") -> float:
    """torchmetrics' LPIPS of two float RGB images in [0, 255] (its backbone from the torch hub cache)."""
    from torchmetrics.image.lpip import LearnedPerceptualImagePatchSimilarity

    metric = LearnedPerceptualImagePatchSimilarity(net_type=net)
    with torch.no_grad():
        return float(metric(chw(first / 127.5 - 1.0).float()[None], chw(second / 127.5 - 1.0).float()[None]))
