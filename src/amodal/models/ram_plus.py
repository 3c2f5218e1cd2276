"""RAM++ (Huang et al., "Open-Set Image Tagging with Multi-Grained Text Supervision"): which of
4,585 tags an image shows. The inference network only, written so that the released
`ram_plus_swin_large_14m.pth` loads strictly by its own key names and shapes (recorded from
the reference implementation in tests/reference/ram_plus_state_dict.json).

- `visual_encoder`: Swin-L at 384 px (window 12), timm's SwinTransformer underneath. Its state
  dict is shown and read in the original Swin layout the checkpoint uses (`SwinLayout`): the
  patch-merging layer ends a stage there and starts the next one in timm, and the two buffers
  timm derives instead of storing (`relative_position_index`, `attn_mask`) are written out and,
  on loading, checked against ours. Output: the mean token, then the 144 spatial tokens.
- `image_proj` to 512; `label_embed`: 51 description embeddings per tag, weighted per image by
  a softmax of their similarity with the image's mean token (scale `reweight_scale.exp()`);
  `wordvec_proj` to 768 + ReLU; `tagging_head`: 2 BERT layers of cross-attention only
  (queries the tags, keys and values the 512-wide image tokens, so transformers' BertLayer,
  whose cross-attention is as wide as its queries, cannot hold these weights); `fc` to one logit a tag.
- A tag is on when sigmoid(logit) exceeds its class threshold.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from amodal.models import CheckpointMismatch, built_on, read_state_dict, require_file

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CHECKPOINT_FILE = "ram_plus_swin_large_14m.pth"
DATA = Path(__file__).resolve().parent.parent / "data" / "ram_plus"


@dataclass(frozen=True)
class RamPlusConfig:
    """The released model's sizes; tests pass smaller ones."""

    image_size: int = 384
    embed_dim: int = 192
    depths: tuple = (2, 2, 18, 2)
    num_heads: tuple = (6, 12, 24, 48)
    window_size: int = 12
    num_classes: int = 4585
    descriptions: int = 51
    text_width: int = 512  # label embeddings and projected image tokens
    head_width: int = 768
    head_layers: int = 2
    head_heads: int = 4
    head_intermediate: int = 3072
    extra: dict = field(default_factory=dict)

    @property
    def vision_width(self) -> int:
        return self.embed_dim * 2 ** (len(self.depths) - 1)


class SwinLayout(nn.Module):
    """timm's Swin with the state dict of the original Swin code (see the module docstring)."""

    def __init__(self, config: RamPlusConfig):
        super().__init__()
        from timm.models.swin_transformer import SwinTransformer

        self.swin = SwinTransformer(
            img_size=config.image_size,
            patch_size=4,
            embed_dim=config.embed_dim,
            depths=config.depths,
            num_heads=config.num_heads,
            window_size=config.window_size,
            num_classes=0,
            global_pool="",
            drop_path_rate=0.0,
        )
        self.register_state_dict_post_hook(_to_original_layout)
        self.register_load_state_dict_pre_hook(_from_original_layout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.swin.forward_features(x).flatten(1, 2)  # (B, H*W, C) after the final norm
        return torch.cat([tokens.mean(dim=1, keepdim=True), tokens], dim=1)


def _derived_buffers(module: SwinLayout) -> dict[str, torch.Tensor]:
    """The buffers the original layout stores and timm derives, under the original names."""
    found = {}
    for name, buffer in module.swin.named_buffers():
        if buffer is not None and name.endswith(("relative_position_index", "attn_mask")):
            found[name] = buffer
    return found


def _downsample_moved(name: str, step: int) -> str:
    return re.sub(r"^layers\.(\d+)\.downsample\.", lambda m: f"layers.{int(m.group(1)) + step}.downsample.", name)


def _to_original_layout(module, state_dict, prefix, local_metadata):
    inner = prefix + "swin."
    for key in [k for k in state_dict if k.startswith(inner)]:
        state_dict[prefix + _downsample_moved(key[len(inner) :], -1)] = state_dict.pop(key)
    for name, buffer in _derived_buffers(module).items():
        state_dict[prefix + name] = buffer.detach().clone()


def _from_original_layout(module, state_dict, prefix, local_metadata, strict, missing, unexpected, errors):
    derived = _derived_buffers(module)
    for key in [k for k in state_dict if k.startswith(prefix) and not k.startswith(prefix + "swin.")]:
        name = key[len(prefix) :]
        value = state_dict.pop(key)
        if name in derived:
            if tuple(value.shape) != tuple(derived[name].shape) or not torch.equal(
                value.to(derived[name]), derived[name]
            ):
                errors.append(f"{key}: differs from the one Swin derives for this configuration")
            continue
        state_dict[prefix + "swin." + _downsample_moved(name, +1)] = value


class CrossAttention(nn.Module):
    """BERT cross-attention: `self` (query / key / value) and `output` (dense, LayerNorm)."""

    def __init__(self, width: int, context_width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.self = nn.Module()
        self.self.query = nn.Linear(width, width)
        self.self.key = nn.Linear(context_width, width)
        self.self.value = nn.Linear(context_width, width)
        self.output = nn.Module()
        self.output.dense = nn.Linear(width, width)
        self.output.LayerNorm = nn.LayerNorm(width, eps=1e-12)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        def split(t):
            return t.view(t.shape[0], t.shape[1], self.heads, -1).transpose(1, 2)

        q, k, v = split(self.self.query(x)), split(self.self.key(context)), split(self.self.value(context))
        attended = nn.functional.scaled_dot_product_attention(q, k, v).transpose(1, 2).flatten(2)
        return self.output.LayerNorm(self.output.dense(attended) + x)


class TaggingLayer(nn.Module):
    def __init__(self, config: RamPlusConfig):
        super().__init__()
        self.crossattention = CrossAttention(config.head_width, config.text_width, config.head_heads)
        self.intermediate = nn.Module()
        self.intermediate.dense = nn.Linear(config.head_width, config.head_intermediate)
        self.output = nn.Module()
        self.output.dense = nn.Linear(config.head_intermediate, config.head_width)
        self.output.LayerNorm = nn.LayerNorm(config.head_width, eps=1e-12)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        x = self.crossattention(x, context)
        hidden = nn.functional.gelu(self.intermediate.dense(x))
        return self.output.LayerNorm(self.output.dense(hidden) + x)


class TaggingHead(nn.Module):
    def __init__(self, config: RamPlusConfig):
        super().__init__()
        self.encoder = nn.Module()
        self.encoder.layer = nn.ModuleList(TaggingLayer(config) for _ in range(config.head_layers))

    def forward(self, queries: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        for layer in self.encoder.layer:
            queries = layer(queries, context)
        return queries


class RamPlus(nn.Module):
    def __init__(self, config: RamPlusConfig = RamPlusConfig()):
        super().__init__()
        self.config = config
        self.visual_encoder = SwinLayout(config)
        self.image_proj = nn.Linear(config.vision_width, config.text_width)
        self.label_embed = nn.Parameter(torch.zeros(config.num_classes * config.descriptions, config.text_width))
        self.reweight_scale = nn.Parameter(torch.tensor(float(np.log(1 / 0.07))))
        self.wordvec_proj = nn.Linear(config.text_width, config.head_width)
        self.tagging_head = TaggingHead(config)
        self.fc = nn.Linear(config.head_width, 1)

    def label_queries(self, image_token: torch.Tensor) -> torch.Tensor:
        """(B, classes, text_width): each tag's description embeddings averaged with softmax weights
        of their similarity to the image's normalised mean token, scaled by exp(reweight_scale)."""
        config = self.config
        image = nn.functional.normalize(image_token, dim=-1)
        descriptions = self.label_embed.view(config.num_classes, config.descriptions, config.text_width)
        similarity = self.reweight_scale.exp() * image @ self.label_embed.t()  # (B, classes * descriptions)
        weights = similarity.view(-1, config.num_classes, config.descriptions).softmax(dim=-1)
        return torch.einsum("bcd,cde->bce", weights, descriptions)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Tag probabilities (B, num_classes) for ImageNet-normalised (B, 3, S, S) images."""
        tokens = self.image_proj(self.visual_encoder(images))  # (B, 1 + L, text_width)
        queries = nn.functional.relu(self.wordvec_proj(self.label_queries(tokens[:, 0])))
        return torch.sigmoid(self.fc(self.tagging_head(queries, tokens)).squeeze(-1))


def build_ram_plus(config: RamPlusConfig | None = None, **overrides) -> RamPlus:
    """The network with random weights (label embeddings zero), in eval mode."""
    if config is None:
        config = RamPlusConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in overrides.items()})
    return RamPlus(config).eval()


def load_ram_plus(checkpoint, device: str = "cpu", **overrides) -> RamPlus:
    """The released checkpoint: its "model" entry (the file also keeps the training run's
    optimizer state) or a bare state dict. Every key of the network must be there with its shape
    (else CheckpointMismatch naming the file). As the reference loader, a `vision_multi` prefix
    reads as `tagging_head` and Swin's derived buffers may be absent (present, they must equal
    ours); keys the network does not have, which the reference ignores silently, are logged."""
    import logging

    path = require_file(checkpoint, "RAM++", "ram_plus_swin_large_14m")
    state = {
        k.replace("vision_multi", "tagging_head"): v for k, v in read_state_dict(path, containers=("model",)).items()
    }
    with built_on(device):
        model = build_ram_plus(**overrides)
    ours = model.state_dict()
    for name, buffer in ours.items():
        if name.endswith(("relative_position_index", "attn_mask")):
            state.setdefault(name, buffer)
    extra = sorted(set(state) - set(ours))
    if extra:
        logging.getLogger(__name__).warning("%s: %d keys RAM++ does not use, ignored: %s", path, len(extra), extra[:10])
    try:
        model.load_state_dict({k: v for k, v in state.items() if k in ours}, strict=True)
    except RuntimeError as error:
        raise CheckpointMismatch(f"{path} does not fit RAM++ Swin-L: {error}") from None
    return model.to(device).eval()


def tag_list() -> list[str]:
    return (DATA / "ram_tag_list.txt").read_text().splitlines()


@functools.cache
def class_thresholds() -> np.ndarray:
    return np.array([float(v) for v in (DATA / "ram_tag_list_threshold.txt").read_text().split()], dtype=np.float32)


def prepare(image: np.ndarray, size: int, interpolation: str = "bicubic") -> torch.Tensor:
    """(3, size, size): RGB resized to a square without keeping the aspect ratio (PIL, `bicubic` as
    the seed's `Image.resize`, or `bilinear` as the reference's own transform), ImageNet-normalised."""
    from PIL import Image

    resample = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR}[interpolation]
    resized = np.asarray(Image.fromarray(image).resize((size, size), resample), dtype=np.float32) / 255.0
    normalised = (resized - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
    return torch.from_numpy(normalised.transpose(2, 0, 1).copy())


class Tagger:
    """Tags of an image: every tag whose probability exceeds its threshold, in tag-list order."""

    def __init__(self, model: RamPlus, device: str = "cpu", names: list[str] | None = None):
        self.model, self.device = model.to(device).eval(), device
        self.names = names if names is not None else tag_list()
        if len(self.names) != model.config.num_classes:
            raise ValueError(f"{len(self.names)} tag names for a model of {model.config.num_classes} classes")

    @torch.inference_mode()
    def probabilities(self, image: np.ndarray, interpolation: str = "bicubic") -> np.ndarray:
        batch = prepare(image, self.model.config.image_size, interpolation)[None].to(self.device)
        return self.model(batch)[0].float().cpu().numpy()

    def tags(
        self, image: np.ndarray, threshold: float | None = None, interpolation: str = "bicubic"
    ) -> list[tuple[str, float]]:
        """(name, probability) of each tag above `threshold`, or above the checkpoint's own
        per-class thresholds when None."""
        probability = self.probabilities(image, interpolation)
        limit = class_thresholds() if threshold is None else np.float32(threshold)
        on = np.flatnonzero(probability > limit)
        return [(self.names[i], float(probability[i])) for i in on]
