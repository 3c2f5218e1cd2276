"""Every metric's name, constants and definition, written once and printed under every table.

`definitions(spec, facts)` fills in the settings that change a number: the evaluate stage's
spec (background colour, model weights names, feature-similarity encoder, LPIPS size;
`experiment.schema.yaml`, section `evaluate`) and what the loaded models report about themselves
(`facts`: checkpoint file, backbone, input size; recorded in each instance's `metrics.json` under
`models`).
"""

from __future__ import annotations

from functools import lru_cache

# The schema's default background (a mid grey-brown) for callers without an evaluate spec.
# Both sides of a comparison are composited on it, so a prediction that leaves the object
# transparent shows up as an error, not as a hole.
BACKGROUND: tuple[int, int, int] = (124, 116, 104)

# skimage's SSIM uses a 7x7 window; padding every crop by this much keeps the scored pixels
# away from the crop border, where the filter would see reflected pixels instead of context.
SSIM_PAD = 7

# PSNR is infinite for a perfect match, and infinity is not valid JSON: report this instead.
PSNR_CAP = 100.0

# Metrics whose number comes from a network (weights from `amodal.models`).
MODEL_METRICS = ("clip_score", "lpips", "feature_similarity", "hidden_lpips")
# Of those, the ones that compare with the ground truth (None on datasets without it).
GT_MODEL_METRICS = ("hidden_lpips",)

# Feature similarity's image encoder per weights name (evaluate feature_similarity.model): what
# the embedding is, and the preprocessing after the padding to a square. The square is resized
# whole (no centre crop), so that no encoder cuts the object's ends.
FEATURE_ENCODERS = {
    "clip_vit_b32_openai": (
        "the CLIP image encoder (its projected image embedding)",
        "CLIP's own preprocessing (bicubic resize to its input size, centre crop, OpenAI mean and std)",
    ),
    "dinov2_base": (
        "DINOv2 ViT-B/14 (transformers' Dinov2Model; the embedding is its pooler_output, the CLS token "
        "of the last hidden state after the final layer norm, DINOv2's own x_norm_clstoken)",
        "resized to the checkpoint's crop size with its resampling (224 x 224 px, bicubic, for "
        "facebook/dinov2-base; PIL, 8 bits), no crop, scaled to [0, 1] and normalised with the "
        "checkpoint's mean and std (ImageNet's)",
    ),
    "resnet50_imagenet1k_v2": (
        "torchvision's ResNet-50, ImageNet weights IMAGENET1K_V2 (the embedding is the 2048-d "
        "global average pool before fc)",
        "resized to 224 x 224 px (bilinear, PIL, 8 bits), no crop, scaled to [0, 1] and normalised "
        "with ImageNet's mean and std",
    ),
}

# Table order.
METRICS = (
    "visible_iou",
    "amodal_iou",
    "amodal_iou_in_frame",
    "hidden_psnr",
    "hidden_ssim",
    "hidden_lpips",
    "visible_ssim",
    "order_accuracy",
    "clip_score",
    "lpips",
    "feature_similarity",
)

# What a failed instance's `failure` says happened, in the order a table lists them.
FAILURE_KINDS = {
    "bad_input": (
        "the dataset could not offer the instance (missing or unreadable image, no query, ...), or an "
        "external method's output file could not be used (unreadable, no alpha, wrong size, no placement)"
    ),
    "stage_failure": "a stage failed on the instance's files, or ran out of GPU memory on it",
    "remote_failed": "a remote model (the LISA app) gave no usable answer",
    "empty_mask": "grounding found no visible pixel of the queried object",
    "grounding_failure": "the query failed the validity test (grounding score or visible area too low)",
    "no_output": "the completion gave no result (the seed's no-output cases; an external method's missing or empty output)",
    "too_large": "the stage's memory estimate for the working image exceeded what its job had left (mem_mb, ulimit -v)",
    "out_of_memory": "the stage ran out of host memory on the instance",
    "killed": "the instance killed its job, then killed it again run alone (a signal: the kernel's out-of-memory kill, ...)",
}


@lru_cache(maxsize=1)
def default_spec() -> dict:
    """The evaluate stage's settings when an experiment states none (the schema's defaults)."""
    from amodal.config.schema import validated

    return validated({}, "experiment.schema.yaml")["evaluate"]


def definitions(spec: dict | None = None, facts: dict | None = None) -> dict[str, str]:
    """The definition of every metric in `METRICS` and of `failure_rate`, with `spec`'s settings
    (the evaluate stage's) and the loaded models' `facts` filled in."""
    spec = {**default_spec(), **(spec or {})}
    facts = facts or {}
    bg = "RGB ({}, {}, {})".format(*spec["background"])
    lpips, clip, features = spec["lpips"], spec["clip_score"], spec["feature_similarity"]
    size = lpips["size"]
    lpips_net = (
        f"LPIPS, backbone weights {lpips['model']}{_facts(facts.get('lpips') or facts.get('hidden_lpips'))}: "
        "torchvision's ImageNet network under the linear layers of LPIPS v0.1 as torchmetrics ships them, "
        "inputs scaled to [-1, 1]"
    )
    to_square = (
        f"padded to a square with the background colour and resized to {size} x {size} px "
        "(area interpolation when shrinking, bilinear when enlarging)"
    )
    visible_pair = (
        f"the visible mask's bounding box of the input photo and of the output composited "
        f"on {bg}, every pixel outside the predicted visible mask set to {bg} on both sides"
    )
    return {
        "visible_iou": (
            "IoU of the grounding stage's visible mask with the GT visible mask, in the image frame; "
            "pooled = sum of intersections / sum of unions."
        ),
        "amodal_iou": (
            "IoU of the predicted amodal mask (alpha > 127, placed at its offset) with the GT amodal "
            "mask (whole-object alpha > 127), in a frame containing both, so parts past the image "
            "border count; pooled = sum of intersections / sum of unions."
        ),
        "amodal_iou_in_frame": "Same as amodal_iou but both masks clipped to the image frame.",
        "hidden_psnr": (
            "PSNR (skimage, data_range 255) over the hidden pixels (GT amodal minus GT visible, also "
            f"past the border), prediction and GT whole object composited on {bg}; capped "
            f"at {PSNR_CAP:g} dB; pooled from the total squared error over all hidden pixels."
        ),
        "hidden_ssim": (
            "Mean of skimage's SSIM map (7x7 window, data_range 255, averaged over RGB) over the "
            f"hidden pixels, computed on the hidden region's bounding box padded by {SSIM_PAD} px, "
            f"both images composited on {bg}; pooled = sum of SSIM over all hidden pixels / their count."
        ),
        "hidden_lpips": (
            f"{lpips_net}, between the prediction and the GT whole object on the hidden region's "
            f"bounding box, both composited on {bg}, every pixel outside the hidden region set to "
            f"{bg} on both sides, {to_square}; lower is better; mean over instances (no pooled value)."
        ),
        "visible_ssim": (
            "Reference-free: mean SSIM map (as hidden_ssim) over the predicted visible pixels between "
            f"{visible_pair}, on the box padded by {SSIM_PAD} px; pooled = sum of SSIM / sum of pixels. "
            "It is 1 wherever the output copies the input's visible pixels (the classical completion "
            "does; the table says so when every instance did)."
        ),
        "order_accuracy": (
            "Fraction of candidate neighbour objects whose 'occludes the target' decision matches the "
            "GT; pooled = correct decisions / decisions over the dataset."
        ),
        "clip_score": (
            "Reference-free (the paper's headline): 100 x max(cos, 0) of the CLIP embeddings, weights "
            f"{clip['model']}{_facts(facts.get('clip_score'))}, of the output RGBA composited on {bg} "
            "over its own extent, padded to a square with the background colour, then CLIP's own "
            "preprocessing (bicubic resize to its input size, centre crop, OpenAI mean and std), and of "
            f"the text '{_shown(clip['template'])}' (the query without a leading article), as "
            "torchmetrics' CLIPScore; mean over instances."
        ),
        "lpips": (
            f"Reference-free (paper): {lpips_net}, between {visible_pair}, {to_square}; lower is better; "
            "mean over instances."
        ),
        "feature_similarity": (
            "Reference-free (paper): cosine similarity of the image embeddings of "
            f"{FEATURE_ENCODERS[features['model']][0]}, weights "
            f"{features['model']}{_facts(facts.get('feature_similarity'))}, of {visible_pair}, each "
            f"padded to a square with the background colour, then {FEATURE_ENCODERS[features['model']][1]}; "
            "1 = the same features; mean over instances."
        ),
        "failure_rate": (
            "Failed instances / all instances, counted by kind: "
            + "; ".join(f"{kind}: {text}" for kind, text in FAILURE_KINDS.items())
            + ". Every other metric is averaged over the instances that did not fail."
        ),
    }


def _shown(template: str) -> str:
    return template.replace("{}", "<object>")


# What a loaded network reports about itself that a definition shows (the rest, such as its
# weights name and the settings, the definition already says).
_SHOWN_FACTS = ("checkpoint", "backbone", "input_size")


def _facts(found: dict | None) -> str:
    """What a loaded network said about itself, as a parenthesis ('' when none was loaded)."""
    parts = [f"{key.replace('_', ' ')} {found[key]}" for key in _SHOWN_FACTS if key in (found or {})]
    return f" ({', '.join(parts)})" if parts else ""
