"""Tiny random-weight builds of the real architectures, shared by the model tests and the
end-to-end test of the model backends: the architectures' arguments, a tiny BERT folder, and
checkpoints written to disk with a `models` config that points the workflow at them."""

from __future__ import annotations

import json
from pathlib import Path

# SAM's tiny image encoder at 256 px (a 16 x 16 embedding): the mask decoder, full size as
# released, attends over the embedding for every box, 16 times fewer positions than at 1024 px.
SAM = {
    "encoder_embed_dim": 32,
    "encoder_depth": 2,
    "encoder_num_heads": 2,
    "encoder_global_attn_indexes": [1],
    "image_size": 256,
}
# Widths of 64 give one head per tower under both open_clip's config (head_width 64) and the
# architecture open_clip infers from an OpenAI state dict (width // 64). The tokenizer needs
# vocab 49408 and context 77.
CLIP = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "patch_size": 8},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 1, "layers": 2},
}
# RAM++ at tiny width: Swin of 16 channels at 96 px (window 3), 2 descriptions of 16 dims per
# tag (the 4,585 tags stay: the tag list and thresholds ship with amodal), a 32-wide head.
RAM_PLUS = dict(
    image_size=96,
    embed_dim=16,
    depths=[1, 1, 2, 1],
    num_heads=[1, 1, 2, 2],
    window_size=3,
    descriptions=2,
    text_width=16,
    head_width=32,
    head_heads=2,
    head_intermediate=64,
)
INSTAORDER = {"layers": [1, 1, 1, 1]}
# DINOv2 at tiny width: position embeddings for 98 px (7 x 7 patches) evaluated at a 56 px crop
# (4 x 4), so they are interpolated, as facebook/dinov2-base's 518 px ones are at 224 px.
DINOV2 = dict(
    hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, patch_size=14, image_size=98
)
DINOV2_CROP = 56
# ResNet-50's key names and widths with one bottleneck block per stage.
RESNET50 = {"layers": [1, 1, 1, 1]}
GROUNDING_DINO = dict(enc_layers=1, dec_layers=1, num_queries=12, dim_feedforward=64)
# The workflow runs feed it images of 160 px on the shorter side: the Swin-T backbone is full
# size (groundingdino-py fixes it by name), and at the default 800 px one call costs about 10 s on
# one CPU thread, at 160 px 0.3 s.
GROUNDING_DINO_INPUT = {"resize": 160, "max_size": 267}
BERT_VOCAB = [
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    ".",
    "?",
    "a",
    "the",
    "cat",
    "dog",
    "photo",
    "of",
    "background",
    "person",
    "car",
    "cup",
    "bird",
    "camera",
    "potato",
    "cone",
]


def write_tiny_bert(folder: Path) -> Path:
    """A BERT folder GroundingDINO can read offline: 2 layers of width 32 and a small vocabulary."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(BERT_VOCAB) + "\n")
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=len(BERT_VOCAB), hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64
    )
    BertModel(config).save_pretrained(folder)
    BertTokenizer(str(folder / "vocab.txt")).save_pretrained(folder)
    return folder


def write_tiny_checkpoints(folder: Path) -> dict:
    """Tiny SAM (vit_b layout), GroundingDINO SwinT-OGC, CLIP ViT-B-32, SD inpainting, RAM++, InstaOrder and
    DINOv2 checkpoints and a random LPIPS AlexNet backbone under `folder`; returns the config `models` section that makes the workflow load them on the CPU."""
    import torch

    from amodal.models.clip import build_clip
    from amodal.models.grounding_dino import build_grounding_dino
    from amodal.models.instaorder import build_instaorder
    from amodal.models.sam import build_sam

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    bert = write_tiny_bert(folder / "bert")
    torch.save(build_sam("vit_b", tiny=SAM).state_dict(), folder / "sam.pth")
    dino = build_grounding_dino("swint_ogc", bert, overrides=GROUNDING_DINO)
    torch.save({"model": dino.state_dict()}, folder / "dino.pth")
    torch.save(build_clip(config=CLIP)[0].state_dict(), folder / "clip.pt")
    inpainting = write_tiny_inpainting(folder / "sd")
    ram_plus = write_tiny_ram_plus(folder / "ram_plus.pth")
    torch.save(
        {
            "step": 1,
            "state_dict": {f"module.{k}": v for k, v in build_instaorder(INSTAORDER["layers"]).state_dict().items()},
        },
        folder / "instaorder.pth.tar",
    )
    write_lpips_backbone(folder / "alexnet.pth")
    dinov2 = write_tiny_dinov2(folder / "dinov2")
    return {
        "device": "cpu",
        # the same tiny SAM answers for vit_b (the tests' experiments) and vit_h (paper.yaml)
        "paths": {
            "sam_vit_b": str(folder / "sam.pth"),
            "sam_vit_h": str(folder / "sam.pth"),
            "groundingdino_swint_ogc": str(folder / "dino.pth"),
            "bert_base_uncased": str(bert),
            "clip_vit_b32_openai": str(folder / "clip.pt"),
            "sd2_inpainting": str(inpainting),
            "ram_plus_swin_large_14m": str(ram_plus),
            "instaorder_od": str(folder / "instaorder.pth.tar"),
            "lpips_alex": str(folder / "alexnet.pth"),
            "dinov2_base": str(dinov2),
        },
        "architectures": {
            "sam_vit_b": {"tiny": SAM},
            "sam_vit_h": {"tiny": SAM},
            "groundingdino_swint_ogc": {"overrides": GROUNDING_DINO, **GROUNDING_DINO_INPUT},
            "clip_vit_b32_openai": {"config": CLIP},
            "ram_plus_swin_large_14m": RAM_PLUS,
            "instaorder_od": INSTAORDER,
        },
    }


def write_lpips_backbone(path: Path, net: str = "alexnet", seed: int = 0) -> Path:
    """A torchvision ImageNet checkpoint in the released layout (`features.*`, `classifier.*`) with
    random convolutions, LPIPS's backbone. LPIPS reads only `features`; the classifier (most of
    AlexNet's 61M parameters) is saved as zeros broadcast from one value, so the file stays small
    and still loads strictly into torchvision's full model (as torchmetrics loads it)."""
    import torch
    import torchvision

    torch.manual_seed(seed)
    state = getattr(torchvision.models, net)(weights=None).state_dict()
    state = {
        k: v if k.startswith("features.") else torch.zeros(1, dtype=v.dtype).expand(v.shape) for k, v in state.items()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


def write_tiny_dinov2(folder: Path, seed: int = 0) -> Path:
    """A transformers folder of the real `Dinov2Model` at tiny size (`DINOV2`) with random weights
    and facebook/dinov2-base's image processor settings but for its sizes (bicubic, ImageNet mean
    and std, crop `DINOV2_CROP`)."""
    import torch
    from transformers import BitImageProcessor, Dinov2Config, Dinov2Model

    torch.manual_seed(seed)
    Dinov2Model(Dinov2Config(**DINOV2)).save_pretrained(folder)
    crop = {"height": DINOV2_CROP, "width": DINOV2_CROP}
    BitImageProcessor(
        size={"shortest_edge": DINOV2_CROP * 8 // 7},
        crop_size=crop,
        resample=3,
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    ).save_pretrained(folder)
    return folder


def write_resnet50_checkpoint(path: Path, layers=RESNET50["layers"], seed: int = 0) -> Path:
    """A torchvision ResNet-50 checkpoint in the released layout (`conv1.*`, `layer<k>.*`, `fc.*`)
    with `layers` bottleneck blocks per stage and random weights and batch-norm statistics."""
    import torch
    from torchvision.models.resnet import Bottleneck, ResNet

    torch.manual_seed(seed)
    model = ResNet(Bottleneck, list(layers))
    for module in model.modules():  # statistics other than 0 and 1, so that the loaded ones matter
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.1, 0.1)
            module.running_var.uniform_(0.5, 1.5)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return path


def write_tiny_ram_plus(path: Path) -> Path:
    """A tiny RAM++ checkpoint in the released layout ({"model": state dict, "optimizer": ...}),
    label embeddings drawn at random (the build leaves them zero), the output bias lowered so that
    a photo gets a few tags above 0.6, not thousands."""
    import torch

    from amodal.models.ram_plus import build_ram_plus

    torch.manual_seed(0)
    state = build_ram_plus(**RAM_PLUS).state_dict()
    state["label_embed"] = torch.randn(state["label_embed"].shape)
    state["fc.bias"] = state["fc.bias"] - 1.2
    torch.save({"model": state, "optimizer": {"state": {}, "param_groups": []}, "epoch": 4}, path)
    return path


def _tiny_clip_tokenizer(folder):
    """A CLIPTokenizer from a hand-written BPE vocabulary (no hub access)."""
    words = ["a", "cat", "dog", "cup"]
    chars = sorted({c for w in words for c in w})
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for tok in chars + [c + "</w>" for c in chars]:
        vocab.setdefault(tok, len(vocab))
    merges = []
    for w in words:  # left-to-right merges building each word, e.g. "c a", "ca t</w>"
        parts = list(w[:-1]) + [w[-1] + "</w>"]
        while len(parts) > 1:
            merges.append(f"{parts[0]} {parts[1]}")
            parts = [parts[0] + parts[1]] + parts[2:]
            vocab.setdefault(parts[0], len(vocab))
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(dict.fromkeys(merges)) + "\n")
    import transformers

    tok = transformers.CLIPTokenizer(
        vocab_file=str(folder / "vocab.json"), merges_file=str(folder / "merges.txt"), model_max_length=77
    )
    return tok


def write_tiny_inpainting(root: Path) -> Path:
    """A tiny Stable-Diffusion inpainting pipeline (random weights, the real classes) saved as a
    diffusers folder under `root`; returns the folder."""
    import diffusers
    import torch
    import transformers

    torch.manual_seed(0)
    tokenizer = _tiny_clip_tokenizer(root / "tok_src")
    ids = tokenizer("a cat").input_ids
    assert ids[0] == 0 and ids[-1] == 1 and tokenizer.unk_token_id not in ids[1:-1], ids
    text_encoder = transformers.CLIPTextModel(
        transformers.CLIPTextConfig(
            vocab_size=len(tokenizer),
            hidden_size=32,
            intermediate_size=37,
            num_hidden_layers=2,
            num_attention_heads=2,
            max_position_embeddings=77,
            projection_dim=32,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        )
    )
    unet = diffusers.UNet2DConditionModel(
        sample_size=16,
        in_channels=9,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=32,
        attention_head_dim=(2, 4),
    )
    # Four levels like SD's VAE (latents 8x smaller than the image), so that a 512 px completion,
    # paper.yaml's size, gives the UNet 64x64 latents as it does at full size; narrow channels keep
    # the 512 px decode cheap on the CPU.
    vae = diffusers.AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(8, 8, 16, 16),
        norm_num_groups=8,
        latent_channels=4,
        sample_size=64,
    )
    pipe = diffusers.StableDiffusionInpaintPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=diffusers.PNDMScheduler(skip_prk_steps=True),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    folder = root / "pipeline"
    pipe.save_pretrained(folder)
    return folder


def write_tiny_depth(folder: Path) -> Path:
    """A Depth Anything model (the real classes: DINOv2 backbone, DPT-style neck and head) at tiny
    width with random weights, and its image processor, saved as a transformers folder."""
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    torch.manual_seed(0)
    backbone = Dinov2Config(
        hidden_size=32,
        num_hidden_layers=4,
        num_attention_heads=2,
        intermediate_size=64,
        patch_size=14,
        image_size=56,
        out_features=["stage1", "stage2", "stage3", "stage4"],
        reshape_hidden_states=False,
    )
    config = DepthAnythingConfig(
        backbone_config=backbone,
        neck_hidden_sizes=[8, 16, 32, 32],
        fusion_hidden_size=16,
        head_hidden_size=8,
        reassemble_hidden_size=32,
        patch_size=14,
    )
    DepthAnythingForDepthEstimation(config).save_pretrained(folder)
    DPTImageProcessor(
        do_resize=True,
        size={"height": 56, "width": 56},
        keep_aspect_ratio=True,
        ensure_multiple_of=14,
        resample=3,
        do_normalize=True,
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
    ).save_pretrained(folder)
    return folder
