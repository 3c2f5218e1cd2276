"""SAM (segment-anything 1.0): box-prompted instance masks.

`build_sam` builds the released SAM architecture (ViT-H, ViT-L or ViT-B image encoder, the
prompt encoder and the mask decoder) with random weights through segment_anything's own
builders; `tiny=` builds a small image encoder of the same architecture, for tests.
`load_sam` then loads a checkpoint in a second, explicit step (strict key and shape match) and
moves the model to a device and dtype. Checkpoints are the files Meta released:

    vit_h  sam_vit_h_4b8939.pth   (weights name sam_vit_h)
    vit_l  sam_vit_l_0b3195.pth   (weights name sam_vit_l)
    vit_b  sam_vit_b_01ec64.pth   (weights name sam_vit_b)

Nothing is downloaded: a missing file is a `MissingCheckpoint` naming `amodal weights fetch
sam_<variant>` and the setting `models.paths.sam_<variant>`.

`BoxSegmenter.segment(image, boxes)` returns one boolean mask (at the image's own H x W) and
one predicted IoU per box. The image embedding (the expensive ViT pass over the image resized
to 1024 on its long side) is computed **once per image**: the segmenter keeps a reference to
the last image array and re-embeds only when it is given a different array object. Calling
`segment` again with the *same* object reuses the embedding, so do not modify an image in
place between calls (pass a new array, or call `forget_image()`). All boxes of one call are
decoded in one batched pass of the prompt encoder and mask decoder (single-mask output).

`BoxSegmenter.segment_many(images, boxes)` does the same for several images, embedding up to
`encoder_batch` of them (default `ENCODER_BATCH`; config `models.batch.sam_encoder`) in one
image-encoder call (every image is padded to 1024 x 1024 by SAM
itself, so batching changes no input); the completion loop's checks between passes use it.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from amodal.models import built_on, require_file

VARIANTS = ("vit_h", "vit_l", "vit_b")

# Images per image-encoder call in `segment_many` (config models.batch.sam_encoder). Measured on an
# H200 (benchmarks/batch_sizes_gpu.py): ViT-H takes 81 ms an image at every batch from 1 to 16 while
# its peak memory grows from 5 to 44 GiB, so one at a time is the default.
ENCODER_BATCH = 1

TINY_KEYS = ("encoder_embed_dim", "encoder_depth", "encoder_num_heads", "encoder_global_attn_indexes")


def _check_variant(variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"unknown SAM variant {variant!r}; expected one of {', '.join(VARIANTS)}")


def build_sam(variant: str = "vit_h", tiny: dict | None = None) -> torch.nn.Module:
    """The SAM architecture with random weights, in eval mode, on the CPU in float32.

    `tiny`, if given, holds the keys encoder_embed_dim, encoder_depth, encoder_num_heads and
    encoder_global_attn_indexes, and optionally image_size (default 1024, the released one): a
    small image encoder of the same architecture (patch 16, the released prompt encoder and mask
    decoder, built in segment_anything's order, so a seed gives the same weights as its
    `_build_sam`). A smaller image_size makes a smaller embedding (image_size / 16 on a side),
    over which the mask decoder attends for every box; `variant` is then only a name.
    """
    from segment_anything.build_sam import sam_model_registry

    _check_variant(variant)
    if tiny is None:
        return sam_model_registry[variant](checkpoint=None).eval()
    unknown, missing = set(tiny) - set(TINY_KEYS) - {"image_size"}, set(TINY_KEYS) - set(tiny)
    if unknown or missing:
        raise ValueError(
            f"tiny SAM needs exactly the keys {', '.join(TINY_KEYS)} (and may have image_size); got {sorted(tiny)}"
        )
    return _tiny_sam(tiny).eval()


def _tiny_sam(tiny: dict) -> torch.nn.Module:
    """segment_anything's Sam with the image encoder of `tiny` (see `build_sam`)."""
    from functools import partial

    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    image_size, patch, embed = int(tiny.get("image_size", 1024)), 16, 256
    grid = image_size // patch
    encoder = ImageEncoderViT(
        depth=int(tiny["encoder_depth"]),
        embed_dim=int(tiny["encoder_embed_dim"]),
        img_size=image_size,
        mlp_ratio=4,
        norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
        num_heads=int(tiny["encoder_num_heads"]),
        patch_size=patch,
        qkv_bias=True,
        use_rel_pos=True,
        global_attn_indexes=[int(i) for i in tiny["encoder_global_attn_indexes"]],
        window_size=14,
        out_chans=embed,
    )
    prompts = PromptEncoder(
        embed_dim=embed, image_embedding_size=(grid, grid), input_image_size=(image_size, image_size), mask_in_chans=16
    )
    decoder = MaskDecoder(
        num_multimask_outputs=3,
        transformer=TwoWayTransformer(depth=2, embedding_dim=embed, mlp_dim=2048, num_heads=8),
        transformer_dim=embed,
        iou_head_depth=3,
        iou_head_hidden_dim=256,
    )
    return Sam(
        image_encoder=encoder,
        prompt_encoder=prompts,
        mask_decoder=decoder,
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )


def load_sam(
    checkpoint,
    variant: str,
    device="cpu",
    dtype: torch.dtype = torch.float32,
    tiny: dict | None = None,
) -> torch.nn.Module:
    """Build SAM `variant` (or `tiny`, see `build_sam`) and load `checkpoint` into it strictly.

    Raises MissingCheckpoint if the file is absent, and RuntimeError naming the file if it is
    not a state dict of this architecture (missing, unexpected or mis-shaped keys).
    Returns the model on `device` in `dtype`, in eval mode. For bf16 on CUDA, load float32 and
    use `BoxSegmenter(..., autocast_bf16=True)`: segment_anything's prompt encoder builds some
    float32 tensors itself, so a model cast wholly to bf16 does not run without autocast.
    """
    _check_variant(variant)
    path = require_file(checkpoint, "SAM", f"sam_{variant}")
    with built_on(device):
        model = build_sam(variant, tiny=tiny)
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except Exception as err:
        raise RuntimeError(f"cannot read SAM checkpoint {path}: {err}") from err
    if not isinstance(state, dict):
        raise RuntimeError(f"SAM checkpoint {path} is not a state dict (got {type(state).__name__})")
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise RuntimeError(f"SAM checkpoint {path} does not match the {variant} architecture: {err}") from err
    return model.to(device=device, dtype=dtype).eval()


class BoxSegmenter:
    """Box prompts -> masks with one SAM model; the image embedding is computed once per image.

    The last image is remembered by identity (`is`): `segment` called again with the same array
    object reuses its embedding; a different object is embedded anew. The segmenter holds a
    reference to that array, so its id cannot be reused by another array meanwhile. In-place
    changes to the remembered array are not detected (call `forget_image()`).

    `autocast_bf16` runs the model under bf16 autocast when `device` is CUDA; on the CPU it is
    ignored (no autocast).
    """

    def __init__(
        self, model: torch.nn.Module, device="cpu", autocast_bf16: bool = False, encoder_batch: int = ENCODER_BATCH
    ):
        from segment_anything import SamPredictor

        if encoder_batch < 1:
            raise ValueError(f"encoder_batch must be at least 1, got {encoder_batch}")
        self.encoder_batch = int(encoder_batch)
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.predictor = SamPredictor(self.model)
        self.autocast_bf16 = bool(autocast_bf16) and self.device.type == "cuda"
        self._image = None

    def forget_image(self) -> None:
        """Drop the cached embedding; the next `segment` embeds its image again."""
        self._image = None
        self.predictor.reset_image()

    def _autocast(self):
        if self.autocast_bf16:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def segment(self, image: np.ndarray, boxes_xyxy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Masks (N, H, W) bool and predicted IoU (N,) float32 for N xyxy pixel boxes on `image`.

        `image` is uint8 H x W x 3 RGB. Boxes are float pixel coordinates of the image as given
        (the predictor rescales them with the image). N = 0 gives empty arrays.
        """
        boxes = _checked(image, boxes_xyxy)
        if boxes.shape[0] == 0:
            return no_masks(image)
        with torch.inference_mode(), self._autocast():
            if self._image is not image or not self.predictor.is_image_set:
                self._image = None
                self.predictor.set_image(image, image_format="RGB")
                self._image = image
            return self._decode(image, boxes)

    def segment_many(
        self, images: list[np.ndarray], boxes_xyxy: list[np.ndarray]
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """`segment` for each (image, boxes) pair, the images embedded `encoder_batch` at a time;
        an image without boxes is not embedded."""
        if len(images) != len(boxes_xyxy):
            raise ValueError(f"got {len(images)} images and {len(boxes_xyxy)} box arrays")
        boxes = [_checked(image, b) for image, b in zip(images, boxes_xyxy)]
        out = [no_masks(image) if b.shape[0] == 0 else None for image, b in zip(images, boxes)]
        todo = [i for i, b in enumerate(boxes) if b.shape[0]]
        for start in range(0, len(todo), self.encoder_batch):
            chunk = todo[start : start + self.encoder_batch]
            with torch.inference_mode(), self._autocast():
                features, sizes = self._embed([images[i] for i in chunk])
                for j, i in enumerate(chunk):
                    # The predictor's state as `set_image` leaves it, for this image's decoding.
                    self._image = None
                    self.predictor.features = features[j : j + 1]
                    self.predictor.original_size, self.predictor.input_size = images[i].shape[:2], sizes[j]
                    self.predictor.is_image_set = True
                    out[i] = self._decode(images[i], boxes[i])
                    self._image = images[i]
        return out

    def _embed(self, images: list[np.ndarray]):
        """Image-encoder features (B, C, h, w) of `images` in one call, and each one's resized size
        (the steps of SamPredictor.set_image, batched)."""
        batch, sizes = [], []
        for image in images:
            resized = self.predictor.transform.apply_image(image)
            tensor = torch.as_tensor(resized, device=self.device).permute(2, 0, 1).contiguous()[None]
            sizes.append(tuple(tensor.shape[-2:]))
            batch.append(self.model.preprocess(tensor))
        return self.model.image_encoder(torch.cat(batch)), sizes

    def _decode(self, image: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every box decoded on the predictor's current embedding (inside inference mode)."""
        height, width = image.shape[:2]
        boxes_t = torch.as_tensor(boxes, dtype=torch.float32, device=self.device)
        boxes_t = self.predictor.transform.apply_boxes_torch(boxes_t, (height, width))
        masks, iou, _ = self.predictor.predict_torch(
            point_coords=None, point_labels=None, boxes=boxes_t, multimask_output=False
        )
        masks_np = masks[:, 0].cpu().numpy().astype(bool, copy=False)
        iou_np = iou[:, 0].float().cpu().numpy().astype(np.float32, copy=False)
        return masks_np, iou_np


def _checked(image, boxes_xyxy) -> np.ndarray:
    """The boxes as a float32 (N, 4) array, after checking the image is uint8 H x W x 3."""
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3):
        raise ValueError(
            f"image must be a uint8 HxWx3 RGB array, got {getattr(image, 'dtype', type(image))} "
            f"{getattr(image, 'shape', '')}"
        )
    boxes = np.asarray(boxes_xyxy, dtype=np.float32)
    if boxes.size == 0:
        boxes = boxes.reshape(0, 4)
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4), got {boxes.shape}")
    return boxes


def no_masks(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What `segment` returns for `image` without boxes: (0, H, W) masks and (0,) IoUs."""
    height, width = image.shape[:2]
    return np.zeros((0, height, width), dtype=bool), np.zeros((0,), dtype=np.float32)
