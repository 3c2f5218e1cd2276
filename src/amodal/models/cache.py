"""Models loaded once per process (one shard job) from the run's `models` config.

A stage backend asks for a model by its weights name (`sam_vit_h`, ...); the first request
resolves the checkpoint (`models.paths`, `$AMODAL_WEIGHTS`, the Hugging Face cache: see
`amodal.models.weights`), builds and loads it on the configured device, and every later
request in the same process gets the same object. `models.architectures.<name>` holds extra
arguments for the loader (a smaller architecture for tests or a custom checkpoint).
"""

from __future__ import annotations

import json
import logging
import time

_LOADED: dict[tuple, object] = {}

SAM_VARIANTS = {"sam_vit_h": "vit_h", "sam_vit_l": "vit_l", "sam_vit_b": "vit_b"}
DINO_CONFIGS = {"groundingdino_swint_ogc": "swint_ogc", "groundingdino_swinb": "swinb"}
CLIP_MODELS = {"clip_vit_b32_openai": "ViT-B-32"}
ORDER_MODELS = ("instaorder_od",)
TAG_MODELS = ("ram_plus_swin_large_14m",)
DEPTH_MODELS = ("depth_anything_v2_small",)
# weights name -> torchmetrics' LPIPS backbone (amodal.models.lpips)
LPIPS_MODELS = {"lpips_alex": "alex", "lpips_vgg": "vgg", "lpips_squeeze": "squeeze"}
# weights name -> the feature-similarity backbone: CLIP's image encoder (a `ClipScorer`) or one of
# amodal.models.features
FEATURE_MODELS = {"clip_vit_b32_openai": "clip", "dinov2_base": "dinov2", "resnet50_imagenet1k_v2": "resnet50"}


def device_of(models: dict | None) -> str:
    """The torch device of the config: `auto` is cuda when torch sees a GPU, else cpu."""
    device = (models or {}).get("device", "auto")
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _once(key: tuple, models: dict | None, build):
    full = key + (json.dumps(models or {}, sort_keys=True),)
    if full not in _LOADED:
        start = time.perf_counter()
        _LOADED[full] = build()
        # The job's log (stderr) records what each model cost to load.
        logging.getLogger(__name__).info("loaded %s %s in %.2f s", key[0], key[1], time.perf_counter() - start)
    return _LOADED[full]


def _path(name: str, models: dict | None, config_key: str):
    from amodal.models.weights.locate import resolve

    return resolve(name, (models or {}).get("paths", {}).get(name), config_key=config_key)


def checkpoint(name: str, models: dict | None):
    """Where checkpoint `name` is on this machine (MissingCheckpoint when nowhere)."""
    return _path(name, models, f"models.paths.{name}")


def checkpoint_label(path) -> str:
    """A checkpoint's name for the records: its file or folder name, or `<repo>@<commit>` for a
    snapshot of the Hugging Face cache (whose folder name alone is a bare commit hash)."""
    from pathlib import Path

    path = Path(path)
    cache = path.parent.parent.name
    if path.parent.name == "snapshots" and cache.startswith("models--"):
        return f"{cache[len('models--') :].replace('--', '/')}@{path.name[:12]}"
    return path.name


def _arch(name: str, models: dict | None) -> dict:
    return dict((models or {}).get("architectures", {}).get(name, {}))


def sam_segmenter(name: str, models: dict | None):
    """A `BoxSegmenter` on SAM checkpoint `name` (bf16 autocast on CUDA)."""

    def build():
        from amodal.models.sam import BoxSegmenter, load_sam

        device = device_of(models)
        model = load_sam(
            _path(name, models, f"models.paths.{name}"), SAM_VARIANTS[name], device=device, **_arch(name, models)
        )
        batch = (models or {}).get("batch", {}).get("sam_encoder")
        return BoxSegmenter(
            model, device, autocast_bf16=device.startswith("cuda"), **({"encoder_batch": batch} if batch else {})
        )

    return _once(("sam", name), models, build)


def grounder(name: str, text_encoder: str, models: dict | None, box_threshold: float, text_threshold: float):
    """A `Grounder` on GroundingDINO checkpoint `name` with BERT folder `text_encoder`."""

    def build():
        from amodal.models.grounding_dino import Grounder, load_grounding_dino

        device = device_of(models)
        model = load_grounding_dino(
            _path(name, models, f"models.paths.{name}"),
            DINO_CONFIGS[name],
            _path(text_encoder, models, f"models.paths.{text_encoder}"),
            device=device,
            **_arch(name, models),
        )
        return Grounder(model, device, box_threshold=box_threshold, text_threshold=text_threshold)

    return _once(("grounding_dino", name, text_encoder, box_threshold, text_threshold), models, build)


def clip_scorer(name: str, models: dict | None):
    """A `ClipScorer` on CLIP checkpoint `name`."""

    def build():
        path = _path(name, models, f"models.paths.{name}")  # first: a missing file costs no torch import

        from amodal.models.clip import load_clip

        return load_clip(path, CLIP_MODELS[name], device=device_of(models), **_arch(name, models))

    return _once(("clip", name), models, build)


def inpainter(model: str, models: dict | None, dtype: str, scheduler: str):
    """An `Inpainter` on `model`: a weights name of the manifest (`sd2_inpainting`), a local
    diffusers folder or a Hugging Face id already in the local cache. The CPU runs float32."""

    def build():
        from amodal.models.inpaint import load_inpainter
        from amodal.models.weights.locate import resolve
        from amodal.models.weights.manifest import load_manifest

        device = device_of(models)
        configured = (models or {}).get("paths", {}).get(model)
        if model in load_manifest():
            source = resolve(model, configured, config_key=f"models.paths.{model}")
        else:
            source = configured or model
        return load_inpainter(
            str(source),
            device=device,
            dtype=dtype if device.startswith("cuda") else "float32",
            scheduler=scheduler,
            **_arch(model, models),
        )

    return _once(("inpaint", model, dtype, scheduler), models, build)


def order_predictor(name: str, models: dict | None, input_size: int = 384):
    """An InstaOrder `OrderPredictor` on checkpoint `name`."""
    if name not in ORDER_MODELS:
        raise ValueError(f"unknown order model {name!r}; known: {list(ORDER_MODELS)}")

    def build():
        from amodal.models.instaorder import OrderPredictor, load_instaorder

        device = device_of(models)
        model = load_instaorder(_path(name, models, f"models.paths.{name}"), device=device, **_arch(name, models))
        return OrderPredictor(model, device, size=input_size)

    return _once(("instaorder", name, input_size), models, build)


def depth_estimator(name: str, models: dict | None):
    """A `DepthEstimator` on the depth model folder `name`."""
    if name not in DEPTH_MODELS:
        raise ValueError(f"unknown depth model {name!r}; known: {list(DEPTH_MODELS)}")

    def build():
        from amodal.models.depth import load_depth

        return load_depth(_path(name, models, f"models.paths.{name}"), device=device_of(models))

    return _once(("depth", name), models, build)


def ram_tagger(name: str, models: dict | None):
    """A RAM++ `Tagger` on checkpoint `name` (the tag list and per-class thresholds it ships with)."""
    if name not in TAG_MODELS:
        raise ValueError(f"unknown tag model {name!r}; known: {list(TAG_MODELS)}")

    def build():
        from amodal.models.ram_plus import Tagger, load_ram_plus

        device = device_of(models)
        return Tagger(
            load_ram_plus(_path(name, models, f"models.paths.{name}"), device=device, **_arch(name, models)), device
        )

    return _once(("ram_plus", name), models, build)


def lpips(name: str, models: dict | None):
    """An `Lpips` distance whose backbone is the torchvision checkpoint `name`."""
    if name not in LPIPS_MODELS:
        raise ValueError(f"unknown LPIPS weights {name!r}; known: {list(LPIPS_MODELS)}")

    def build():
        path = _path(name, models, f"models.paths.{name}")  # first: a missing file costs no torch import

        from amodal.models.lpips import load_lpips

        return load_lpips(path, LPIPS_MODELS[name], name, device=device_of(models))

    return _once(("lpips", name), models, build)


def feature_encoder(name: str, models: dict | None):
    """The image encoder of feature similarity for weights `name`: the `ClipScorer` of a CLIP
    checkpoint (shared with the CLIP score), else a `FeatureEncoder` (amodal.models.features)."""
    if name not in FEATURE_MODELS:
        raise ValueError(f"unknown feature-similarity weights {name!r}; known: {list(FEATURE_MODELS)}")
    if FEATURE_MODELS[name] == "clip":
        return clip_scorer(name, models)

    def build():
        path = _path(name, models, f"models.paths.{name}")  # first: a missing file costs no torch import

        from amodal.models.features import load_feature_encoder

        return load_feature_encoder(path, FEATURE_MODELS[name], name, device=device_of(models), **_arch(name, models))

    return _once(("features", name), models, build)
