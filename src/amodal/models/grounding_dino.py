"""GroundingDINO: open-vocabulary boxes for a text caption (the seed's `run_gdino`).

Two explicit steps, as for every model family here:

* `build_grounding_dino(config, text_encoder, overrides)` makes the real architecture with
  random weights, through groundingdino-py's own `build_model`, from a YAML config shipped in
  `configs/` ("swint_ogc", "swinb"), a YAML path, or a dict; `overrides` replaces keys (tests
  shrink the transformer with it).
* `load_grounding_dino(checkpoint, config, text_encoder, device)` builds and loads a released
  checkpoint strictly (see `BENIGN_UNEXPECTED_KEYS` for the only keys allowed to be left over).

`Grounder` runs the seed's inference: caption lower-cased, stripped and ended with ".", the image
resized (shorter side 800, longer at most 1333) and ImageNet-normalised, queries kept whose
best token probability is above `box_threshold`, the phrase made of the tokens above
`text_threshold`, boxes returned as pixel x0, y0, x1, y1.

The text encoder is a local BERT folder (tokenizer files + config + weights): groundingdino-py
calls `AutoTokenizer.from_pretrained` / `BertModel.from_pretrained` on it, so nothing is
downloaded. The checkpoint holds GroundingDINO's fine-tuned BERT weights, which replace the
folder's when loading.
"""

from __future__ import annotations

import argparse
import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml

from amodal.models import CheckpointMismatch, built_on, read_state_dict, require_file

CONFIG_DIR = Path(__file__).resolve().parent / "configs"
NAMED_CONFIGS = {
    "swint_ogc": CONFIG_DIR / "grounding_dino_swint_ogc.yaml",
    "swinb": CONFIG_DIR / "grounding_dino_swinb.yaml",
}
# weights names for `amodal weights fetch`, by config name and by backbone
WEIGHTS_NAMES = {"swint_ogc": "groundingdino_swint_ogc", "swinb": "groundingdino_swinb"}
_WEIGHTS_BY_BACKBONE = {"swin_T_224_1k": "groundingdino_swint_ogc", "swin_B_384_22k": "groundingdino_swinb"}
BERT_WEIGHTS_NAME = "bert_base_uncased"

DEFAULT_BOX_THRESHOLD = 0.35
DEFAULT_TEXT_THRESHOLD = 0.35
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# Checkpoint keys the inference model has no slot for, and why dropping them changes nothing:
BENIGN_UNEXPECTED_KEYS = {
    # the denoising-training label embedding (DINO's `label_enc`, dn_labelbook_size + 1 rows);
    # groundingdino-py's inference GroundingDINO has no such module (dn_number=0, no
    # denoising queries), so nothing would read it. Present in the released .pth files.
    "label_enc.weight": "training-only denoising label embedding",
}
# Also benign: any key naming a non-persistent buffer of the built model, e.g.
# "bert.embeddings.position_ids" (transformers >= 4.31 registers BertEmbeddings.position_ids
# and .token_type_ids with persistent=False, so checkpoints saved with older versions carry them;
# they are the constant arange / zeros the model already holds, and GroundingDINO passes its own
# position_ids anyway).


# ----------------------------------------------------------------------------------- config


def load_config(config, overrides: dict | None = None) -> dict:
    """The model arguments: a named config ("swint_ogc", "swinb"), a YAML path, or a dict,
    with `overrides` replacing existing keys (an unknown key is a KeyError: no silent typos)."""
    if isinstance(config, dict):
        cfg = dict(config)
    else:
        path = NAMED_CONFIGS.get(str(config), Path(config))
        if not Path(path).is_file():
            raise FileNotFoundError(
                f"GroundingDINO config {config!r} is neither one of {sorted(NAMED_CONFIGS)} nor a YAML file"
            )
        cfg = yaml.safe_load(Path(path).read_text())
        if not isinstance(cfg, dict):
            raise ValueError(f"GroundingDINO config {path} is not a mapping")
    for key, value in (overrides or {}).items():
        if key not in cfg:
            raise KeyError(f"unknown GroundingDINO config key {key!r} in overrides")
        cfg[key] = value
    if cfg.get("hidden_dim") != 256:
        # groundingdino-py hard-codes 256-wide sine embeddings of the text positions
        raise ValueError(f"GroundingDINO needs hidden_dim 256 (groundingdino-py fixes it), got {cfg.get('hidden_dim')}")
    return cfg


def weights_name_for(config, cfg: dict | None = None) -> str:
    """The `amodal weights fetch` name of the checkpoint that fits `config`."""
    if isinstance(config, str) and config in WEIGHTS_NAMES:
        return WEIGHTS_NAMES[config]
    backbone = (cfg or {}).get("backbone")
    return _WEIGHTS_BY_BACKBONE.get(backbone, "groundingdino_swint_ogc")


def _require_text_encoder(text_encoder) -> Path:
    return require_file(text_encoder, "BERT text encoder", BERT_WEIGHTS_NAME)


# ------------------------------------------------------------------------------------ build


def build_grounding_dino(config="swint_ogc", text_encoder=None, overrides: dict | None = None) -> torch.nn.Module:
    """The GroundingDINO architecture of `config` with random weights, in eval mode.

    `text_encoder` is a local BERT folder (tokenizer + config + weights); its tokenizer and
    architecture are used as they are. Only the transformer can be shrunk through `overrides`
    (enc_layers, dec_layers, num_queries, dim_feedforward, nheads, ...): the Swin backbones
    are fixed by name in groundingdino-py and hidden_dim must stay 256.
    """
    bert = _require_text_encoder(text_encoder)
    cfg = load_config(config, overrides)
    cfg["text_encoder_type"] = str(bert)
    from groundingdino.models import build_model

    with contextlib.redirect_stdout(io.StringIO()):  # it prints "final text_encoder_type: ..."
        model = build_model(argparse.Namespace(**cfg))
    return model.eval()


# ------------------------------------------------------------------------------------- load


def _non_persistent_buffers(model: torch.nn.Module) -> set[str]:
    names = set()
    for prefix, module in model.named_modules():
        for name in getattr(module, "_non_persistent_buffers_set", ()):
            names.add(f"{prefix}.{name}" if prefix else name)
    return names


def _benign(key: str, non_persistent: set[str]) -> bool:
    return key in BENIGN_UNEXPECTED_KEYS or key in non_persistent


def load_state_dict_strict(model: torch.nn.Module, state: dict, source) -> list[str]:
    """Load `state` into `model` with strict=True after dropping only benign extra keys
    (returned). Any other extra key, any missing key or any shape mismatch raises
    CheckpointMismatch naming `source`."""
    expected = set(model.state_dict())
    non_persistent = _non_persistent_buffers(model)
    unexpected = sorted(k for k in state if k not in expected)
    dropped = [k for k in unexpected if _benign(k, non_persistent)]
    real_unexpected = [k for k in unexpected if k not in dropped]
    missing = sorted(expected - set(state))
    if real_unexpected or missing:
        raise CheckpointMismatch(
            f"{source}: checkpoint does not fit the GroundingDINO config: "
            f"{len(missing)} missing keys {missing[:10]}, {len(real_unexpected)} unexpected keys {real_unexpected[:10]}"
        )
    kept = {k: v for k, v in state.items() if k not in dropped}
    try:
        model.load_state_dict(kept, strict=True)
    except RuntimeError as error:  # shape mismatches
        raise CheckpointMismatch(f"{source}: {error}") from error
    return dropped


def load_grounding_dino(
    checkpoint, config="swint_ogc", text_encoder=None, device="cpu", overrides: dict | None = None
) -> torch.nn.Module:
    """Build `config` and load `checkpoint` into it strictly; the model is in eval mode on `device`."""
    cfg = load_config(config, overrides)
    ckpt = require_file(checkpoint, "GroundingDINO", weights_name_for(config, cfg))
    _require_text_encoder(text_encoder)
    with built_on(device):
        model = build_grounding_dino(cfg, text_encoder)
    load_state_dict_strict(model, read_state_dict(ckpt, containers=("model",)), ckpt)
    return model.to(device).eval()


# ---------------------------------------------------------------------------------- helpers


@dataclass(frozen=True)
class Detection:
    box_xyxy: tuple[float, float, float, float]  # pixels of the input image
    score: float  # best token probability of the query
    phrase: str  # caption tokens above text_threshold


def normalize_caption(caption: str) -> str:
    """The seed's caption: lower-cased, stripped, ending with "."."""
    caption = caption.lower().strip()
    if not caption:
        raise ValueError("empty GroundingDINO caption")
    return caption if caption.endswith(".") else caption + "."


def caption_for(phrases: list[str]) -> str:
    """One caption for several tags, as the seed writes it: "cat. dog."."""
    tags = [p.strip() for p in phrases if p and p.strip()]
    if not tags:
        raise ValueError("no phrases for a GroundingDINO caption")
    return ". ".join(tags) + "."


def cxcywh_to_xyxy_pixels(boxes, width: int, height: int, clip: bool = True) -> np.ndarray:
    """Normalised (cx, cy, w, h) rows → pixel (x0, y0, x1, y1) rows, clipped to the image."""
    b = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    cx, cy, w, h = b[:, 0], b[:, 1], b[:, 2], b[:, 3]
    out = np.stack([(cx - w / 2) * width, (cy - h / 2) * height, (cx + w / 2) * width, (cy + h / 2) * height], axis=1)
    if clip:
        out[:, [0, 2]] = out[:, [0, 2]].clip(0, width)
        out[:, [1, 3]] = out[:, [1, 3]].clip(0, height)
    return out


def disable_activation_checkpointing(model: torch.nn.Module) -> None:
    """Turn off torch.utils.checkpoint in the Swin layers and the encoder (a training memory
    saver the configs enable): same outputs, no warnings, no recomputation."""
    for module in model.modules():
        if hasattr(module, "use_checkpoint"):
            module.use_checkpoint = False
        if hasattr(module, "use_transformer_ckpt"):
            module.use_transformer_ckpt = False


# --------------------------------------------------------------------------------- inference


class Grounder:
    """Boxes for text captions with a built or loaded GroundingDINO.

    `detect_many` loops over the captions, one forward each: groundingdino-py's text enhancer
    repeats the (batch, tokens, tokens) attention mask with `.repeat(nhead, 1, 1)` where
    nn.MultiheadAttention wants batch-major order, so a batch of different captions mixes their
    masks across batch items (checked: the outputs of a caption change with its batch-mates).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        device="cpu",
        box_threshold: float = DEFAULT_BOX_THRESHOLD,
        text_threshold: float = DEFAULT_TEXT_THRESHOLD,
        resize: int = 800,
        max_size: int = 1333,
    ):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        disable_activation_checkpointing(self.model)
        self.tokenizer = model.tokenizer
        self.box_threshold = float(box_threshold)
        self.text_threshold = float(text_threshold)
        self.resize = int(resize)
        self.max_size = int(max_size)

    def preprocess(self, image: np.ndarray) -> torch.Tensor:
        """(3, h, w) float tensor: the seed's transform (shorter side `resize`, longer at most
        `max_size`, ToTensor, ImageNet mean/std)."""
        from groundingdino.datasets import transforms as T
        from PIL import Image

        image = np.asarray(image)
        if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected a uint8 HxWx3 image, got {image.dtype} {image.shape}")
        transform = T.Compose(
            [
                T.RandomResize([self.resize], max_size=self.max_size),
                T.ToTensor(),
                T.Normalize(IMAGENET_MEAN, IMAGENET_STD),
            ]
        )
        tensor, _ = transform(Image.fromarray(image), None)
        return tensor

    def _phrases(self, above: torch.Tensor, tokenized) -> list[str]:
        """One phrase per row of `above` ((boxes, max_text_len) token probabilities over
        text_threshold): the caption tokens of the row decoded together. Rows with the same
        tokens share one decode (random-weight models keep hundreds of boxes, mostly alike)."""
        from groundingdino.util.utils import get_phrases_from_posmap

        ids = tokenized["input_ids"]
        usable = torch.zeros(above.shape[1], dtype=torch.bool)
        # The model reads at most max_text_len tokens of a longer caption (it truncates them, as
        # in the seed); only those can be part of a phrase. Padding slots are never part of one,
        # and [CLS]/[SEP] would decode to a literal "[CLS]" in the phrase.
        special = set(self.tokenizer.all_special_ids)
        for i, token in enumerate(ids[: above.shape[1]]):
            usable[i] = token not in special
        rows = above & usable
        phrases, decoded = [], {}
        for row in rows:
            key = row.numpy().tobytes()
            if key not in decoded:
                decoded[key] = get_phrases_from_posmap(row, tokenized, self.tokenizer).strip()
            phrases.append(decoded[key])
        return phrases

    @torch.inference_mode()
    def _detect_tensor(self, tensor: torch.Tensor, width: int, height: int, caption: str) -> list[Detection]:
        caption = normalize_caption(caption)
        outputs = self.model(tensor[None].to(self.device), captions=[caption])
        probs = outputs["pred_logits"].sigmoid()[0].float().cpu()  # (nq, 256)
        boxes = outputs["pred_boxes"][0].float().cpu()  # (nq, 4) normalised cx, cy, w, h
        scores = probs.max(dim=1)[0]
        keep = scores > self.box_threshold
        tokenized = self.tokenizer(caption)
        pixel = cxcywh_to_xyxy_pixels(boxes[keep].numpy(), width, height)
        phrases = self._phrases(probs[keep] > self.text_threshold, tokenized)
        return [
            Detection(box_xyxy=tuple(float(v) for v in box), score=float(score), phrase=phrase)
            for box, score, phrase in zip(pixel.tolist(), scores[keep].tolist(), phrases)
        ]

    def detect(self, image: np.ndarray, caption: str) -> list[Detection]:
        """Detections for one caption, in query order."""
        return self.detect_many(image, [caption])[0]

    def detect_many(self, image: np.ndarray, captions: list[str]) -> list[list[Detection]]:
        """Detections for each caption (one forward per caption; see the class docstring)."""
        tensor = self.preprocess(image)
        height, width = np.asarray(image).shape[:2]
        return [self._detect_tensor(tensor, width, height, caption) for caption in captions]
