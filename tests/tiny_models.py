"""Tiny random-weight builds of the real architectures, shared by the model tests and the
end-to-end test of the model backends: the architectures' arguments, a tiny BERT folder, and
checkpoints written to disk with a `models` config that points the workflow at them."""

from __future__ import annotations

from pathlib import Path

SAM = {"encoder_embed_dim": 32, "encoder_depth": 2, "encoder_num_heads": 2, "encoder_global_attn_indexes": [1]}
# Widths of 64 give one head per tower under both open_clip's config (head_width 64) and the
# architecture open_clip infers from an OpenAI state dict (width // 64). The tokenizer needs
# vocab 49408 and context 77.
CLIP = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 1, "layers": 2},
}
GROUNDING_DINO = dict(enc_layers=1, dec_layers=1, num_queries=12, dim_feedforward=64)
BERT_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", "?", "a", "the", "cat", "dog", "photo", "of",
              "background", "person", "car", "cup", "bird", "camera", "potato", "cone"]


def write_tiny_bert(folder: Path) -> Path:
    """A BERT folder GroundingDINO can read offline: 2 layers of width 32 and a small vocabulary."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(BERT_VOCAB) + "\n")
    torch.manual_seed(0)
    config = BertConfig(vocab_size=len(BERT_VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64)
    BertModel(config).save_pretrained(folder)
    BertTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)
    return folder


def write_tiny_checkpoints(folder: Path) -> dict:
    """Tiny SAM (vit_b layout), GroundingDINO SwinT-OGC and CLIP ViT-B-32 checkpoints under
    `folder`; returns the config `models` section that makes the workflow load them on the CPU."""
    import torch

    from amodal.models.clip import build_clip
    from amodal.models.grounding_dino import build_grounding_dino
    from amodal.models.sam import build_sam

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    bert = write_tiny_bert(folder / "bert")
    torch.save(build_sam("vit_b", tiny=SAM).state_dict(), folder / "sam.pth")
    dino = build_grounding_dino("swint_ogc", bert, overrides=GROUNDING_DINO)
    torch.save({"model": dino.state_dict()}, folder / "dino.pth")
    torch.save(build_clip(config=CLIP)[0].state_dict(), folder / "clip.pt")
    return {
        "device": "cpu",
        "paths": {"sam_vit_b": str(folder / "sam.pth"), "groundingdino_swint_ogc": str(folder / "dino.pth"),
                  "bert_base_uncased": str(bert), "clip_vit_b32_openai": str(folder / "clip.pt")},
        "architectures": {"sam_vit_b": {"tiny": SAM}, "groundingdino_swint_ogc": {"overrides": GROUNDING_DINO},
                          "clip_vit_b32_openai": {"config": CLIP}},
    }
