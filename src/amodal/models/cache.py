"""The models of one job: a `ModelCache` built from the run's `models` config and handed to
every stage function that needs a network.

The job that runs the stages (`amodal.run.job`: one per shard job, one for all the stages of a
fused job; `amodal.run.one_image` for its one image) makes one `ModelCache` and passes it down;
nothing is kept at module level. A stage backend asks it for a model by its weights name
(`sam_vit_h`, ...): the cache resolves the checkpoint (`models.paths`, `$AMODAL_WEIGHTS`, the
Hugging Face and torch hub caches: see `amodal.models.weights`), and the first request for a
key builds and loads the model; every later request for the same key gets the same object.
The key holds every input of the load: the family, the weights name, the resolved checkpoint
path(s), the device, the dtype, the loader's extra arguments (`models.architectures.<name>`: a
smaller architecture for tests or a custom checkpoint; for GroundingDINO also its input size,
`resize` and `max_size`) and the family's own settings (thresholds, batch size, input size,
scheduler). So the same weights name found at another path
(`$AMODAL_WEIGHTS` changed) or asked for on another device is another model.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import time

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
    """The torch device of a `models` config: `auto` is cuda when torch sees a GPU, else cpu."""
    device = (models or {}).get("device", "auto")
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def checkpoint_label(path) -> str:
    """A checkpoint's name for the records: its file or folder name, or `<repo>@<commit>` for a
    snapshot of the Hugging Face cache (whose folder name alone is a bare commit hash)."""
    from pathlib import Path

    path = Path(path)
    cache = path.parent.parent.name
    if path.parent.name == "snapshots" and cache.startswith("models--"):
        return f"{cache[len('models--') :].replace('--', '/')}@{path.name[:12]}"
    return path.name


class ModelCache:
    """The models one job loaded, each under the key of everything its load read.

    `models` is the run's `models` config section (device, paths, architectures, batch, lisa);
    the cache keeps its own copy, so editing the dict afterwards changes nothing here.
    """

    def __init__(self, models: dict | None = None):
        self.config: dict = copy.deepcopy(dict(models or {}))
        self._loaded: dict[tuple, object] = {}
        self._device: str | None = None

    # --------------------------------------------------------------------- what stages read

    @property
    def device(self) -> str:
        """The torch device of the config (`auto` resolved once: cuda when torch sees a GPU)."""
        if self._device is None:
            self._device = device_of(self.config)
        return self._device

    def batch(self, name: str, default=None):
        """`models.batch.<name>`, else `default`."""
        return (self.config.get("batch") or {}).get(name, default)

    def lisa_settings(self) -> dict:
        """The `models.lisa` section with the schema's defaults (`amodal.models.lisa.settings`)."""
        from amodal.models import lisa

        return lisa.settings(self.config)

    def checkpoint(self, name: str):
        """Where checkpoint `name` is on this machine (MissingCheckpoint when nowhere)."""
        from amodal.models.weights.locate import resolve

        return resolve(name, self.config.get("paths", {}).get(name), config_key=f"models.paths.{name}")

    def keys(self) -> list[tuple]:
        """The keys of the models loaded so far, in loading order."""
        return list(self._loaded)

    def loaded(self, family: str) -> list:
        """The models of `family` (`sam`, `inpaint`, ...) loaded so far, in loading order."""
        return [model for key, model in self._loaded.items() if key[0] == family]

    def forget(self, family: str | None = None) -> None:
        """Drop the loaded models of `family` (all when None), so the next request loads again."""
        for key in [k for k in self._loaded if family is None or k[0] == family]:
            del self._loaded[key]

    # --------------------------------------------------------------------------- the loading

    def _arch(self, name: str) -> dict:
        return dict(self.config.get("architectures", {}).get(name, {}))

    def _key(self, family: str, name: str, paths, dtype: str, *settings) -> tuple:
        where = tuple(os.path.abspath(os.path.expanduser(str(p))) for p in paths)
        return (family, name, where, self.device, dtype, json.dumps(self._arch(name), sort_keys=True), *settings)

    def _once(self, key: tuple, build):
        if key not in self._loaded:
            start = time.perf_counter()
            self._loaded[key] = build()
            # The job's log (stderr) records what each model cost to load.
            logging.getLogger(__name__).info("loaded %s %s in %.2f s", key[0], key[1], time.perf_counter() - start)
        return self._loaded[key]

    def sam_segmenter(self, name: str):
        """A `BoxSegmenter` on SAM checkpoint `name` (bf16 autocast on CUDA)."""
        path, device = self.checkpoint(name), self.device
        autocast = device.startswith("cuda")
        batch = self.batch("sam_encoder")

        def build():
            from amodal.models.sam import BoxSegmenter, load_sam

            model = load_sam(path, SAM_VARIANTS[name], device=device, **self._arch(name))
            return BoxSegmenter(model, device, autocast_bf16=autocast, **({"encoder_batch": batch} if batch else {}))

        return self._once(self._key("sam", name, [path], "bfloat16-autocast" if autocast else "float32", batch), build)

    def grounder(self, name: str, text_encoder: str, box_threshold: float, text_threshold: float):
        """A `Grounder` on GroundingDINO checkpoint `name` with BERT folder `text_encoder`."""
        path, text_path, device = self.checkpoint(name), self.checkpoint(text_encoder), self.device

        arch = self._arch(name)
        # the input size (by default groundingdino's load_image: shorter side 800, longer at most 1333)
        # is the Grounder's, not the loader's: a test's tiny build runs small, where Swin costs little
        sizes = {key: arch.pop(key) for key in ("resize", "max_size") if key in arch}

        def build():
            from amodal.models.grounding_dino import Grounder, load_grounding_dino

            model = load_grounding_dino(path, DINO_CONFIGS[name], text_path, device=device, **arch)
            return Grounder(model, device, box_threshold=box_threshold, text_threshold=text_threshold, **sizes)

        key = self._key("grounding_dino", name, [path, text_path], "float32", box_threshold, text_threshold)
        return self._once(key, build)

    def clip_scorer(self, name: str):
        """A `ClipScorer` on CLIP checkpoint `name`."""
        path = self.checkpoint(name)  # first: a missing file costs no torch import

        def build():
            from amodal.models.clip import load_clip

            return load_clip(path, CLIP_MODELS[name], device=self.device, **self._arch(name))

        return self._once(self._key("clip", name, [path], "float32"), build)

    def inpainter(self, model: str, dtype: str, scheduler: str):
        """An `Inpainter` on `model`: a weights name of the manifest (`sd2_inpainting`), a local
        diffusers folder or a Hugging Face id already in the local cache. The CPU runs float32."""
        from amodal.models.weights.manifest import load_manifest

        named = model in load_manifest()
        source = self.checkpoint(model) if named else (self.config.get("paths", {}).get(model) or model)
        device = self.device
        dtype = dtype if device.startswith("cuda") else "float32"

        def build():
            from amodal.models.inpaint import load_inpainter

            return load_inpainter(str(source), device=device, dtype=dtype, scheduler=scheduler, **self._arch(model))

        # a Hugging Face id is its own key: where the cache keeps it is diffusers' to find
        local = named or os.path.exists(os.path.expanduser(str(source)))
        key = self._key("inpaint", model, [source] if local else [], dtype, scheduler, None if local else str(source))
        return self._once(key, build)

    def order_predictor(self, name: str, input_size: int = 384):
        """An InstaOrder `OrderPredictor` on checkpoint `name`."""
        if name not in ORDER_MODELS:
            raise ValueError(f"unknown order model {name!r}; known: {list(ORDER_MODELS)}")
        path, device = self.checkpoint(name), self.device

        def build():
            from amodal.models.instaorder import OrderPredictor, load_instaorder

            return OrderPredictor(load_instaorder(path, device=device, **self._arch(name)), device, size=input_size)

        return self._once(self._key("instaorder", name, [path], "float32", input_size), build)

    def depth_estimator(self, name: str):
        """A `DepthEstimator` on the depth model folder `name`."""
        if name not in DEPTH_MODELS:
            raise ValueError(f"unknown depth model {name!r}; known: {list(DEPTH_MODELS)}")
        path = self.checkpoint(name)

        def build():
            from amodal.models.depth import load_depth

            return load_depth(path, device=self.device)

        return self._once(self._key("depth", name, [path], "float32"), build)

    def ram_tagger(self, name: str):
        """A RAM++ `Tagger` on checkpoint `name` (the tag list and per-class thresholds it ships with)."""
        if name not in TAG_MODELS:
            raise ValueError(f"unknown tag model {name!r}; known: {list(TAG_MODELS)}")
        path, device = self.checkpoint(name), self.device

        def build():
            from amodal.models.ram_plus import Tagger, load_ram_plus

            return Tagger(load_ram_plus(path, device=device, **self._arch(name)), device)

        return self._once(self._key("ram_plus", name, [path], "float32"), build)

    def lpips(self, name: str):
        """An `Lpips` distance whose backbone is the torchvision checkpoint `name`."""
        if name not in LPIPS_MODELS:
            raise ValueError(f"unknown LPIPS weights {name!r}; known: {list(LPIPS_MODELS)}")
        path = self.checkpoint(name)  # first: a missing file costs no torch import

        def build():
            from amodal.models.lpips import load_lpips

            return load_lpips(path, LPIPS_MODELS[name], name, device=self.device)

        return self._once(self._key("lpips", name, [path], "float32"), build)

    def feature_encoder(self, name: str):
        """The image encoder of feature similarity for weights `name`: the `ClipScorer` of a CLIP
        checkpoint (shared with the CLIP score), else a `FeatureEncoder` (amodal.models.features)."""
        if name not in FEATURE_MODELS:
            raise ValueError(f"unknown feature-similarity weights {name!r}; known: {list(FEATURE_MODELS)}")
        if FEATURE_MODELS[name] == "clip":
            return self.clip_scorer(name)
        path = self.checkpoint(name)  # first: a missing file costs no torch import

        def build():
            from amodal.models.features import load_feature_encoder

            return load_feature_encoder(path, FEATURE_MODELS[name], name, device=self.device, **self._arch(name))

        return self._once(self._key("features", name, [path], "float32"), build)
