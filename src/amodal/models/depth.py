"""Monocular relative depth from a `transformers` depth-estimation model in a local folder
(Depth Anything V2 Small by default; any `AutoModelForDepthEstimation` folder with its image
processor works). Such models predict relative inverse depth: larger values are nearer. The
map is resized back to the image (the processor's own post-processing)."""

from __future__ import annotations

import numpy as np
import torch

from amodal.models import require_file


class DepthEstimator:
    def __init__(self, model, processor, device: str = "cpu"):
        self.model, self.processor, self.device = model.to(device).eval(), processor, device

    @torch.inference_mode()
    def nearness(self, image: np.ndarray) -> np.ndarray:
        """(H, W) float32 relative nearness of a uint8 RGB image: larger is closer to the camera."""
        inputs = self.processor(images=image, return_tensors="pt").to(self.device)
        outputs = self.model(**inputs)
        post = self.processor.post_process_depth_estimation(outputs, target_sizes=[image.shape[:2]])
        return post[0]["predicted_depth"].float().cpu().numpy()


def load_depth(folder, device: str = "cpu") -> DepthEstimator:
    """The model and processor of a local folder (offline: nothing is downloaded)."""
    from transformers import AutoImageProcessor, AutoModelForDepthEstimation

    path = require_file(folder, "depth model", "depth_anything_v2_small")
    model = AutoModelForDepthEstimation.from_pretrained(str(path), local_files_only=True)
    processor = AutoImageProcessor.from_pretrained(str(path), local_files_only=True)
    return DepthEstimator(model, processor, device)
