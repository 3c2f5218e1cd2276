"""LPIPS (Zhang et al., CVPR 2018) through torchmetrics' implementation: build with a random
backbone, load the backbone's ImageNet checkpoint, measure the distance of two images.

The network is torchmetrics' `_LPIPS` (the one its `LearnedPerceptualImagePatchSimilarity`
runs): a torchvision backbone (AlexNet, VGG-16 or SqueezeNet 1.1) cut into slices, its
activations unit-normalised per channel, squared differences weighted by the linear layers of
LPIPS v0.1 and averaged over space. The linear layers ship inside torchmetrics
(`lpips_models/<net>.pth`); the backbone's weights are torchvision's ImageNet checkpoint, which
torchmetrics would download into the torch hub cache. Here it is never downloaded: the file is
looked up like every checkpoint (`amodal.models.weights`: models.paths, $AMODAL_WEIGHTS, the
torch hub cache) and loaded strictly into the backbone, so a missing file is a
`MissingCheckpoint` naming it and `amodal weights fetch <name>`.
"""

from __future__ import annotations

import re

import numpy as np
import torch

from amodal.models import CheckpointMismatch, read_state_dict, require_file

# torchmetrics' name of each backbone -> torchvision's model whose `features` it slices.
BACKBONES = {"alex": "alexnet", "vgg": "vgg16", "squeeze": "squeezenet1_1"}
# A backbone parameter of the sliced network: slice<k>.<i>.<rest> (AlexNet, VGG) or
# slices.<k>.<i>.<rest> (SqueezeNet), where <i> is its index in torchvision's `features`.
_SLICED = re.compile(r"^(?:slice\d+|slices\.\d+)\.(\d+)\.(.+)$")


def build_lpips(net: str = "alex"):
    """torchmetrics' LPIPS network with the v0.1 linear layers and a randomly initialised backbone
    (nothing is downloaded), in eval mode."""
    from torchmetrics.functional.image.lpips import _LPIPS

    if net not in BACKBONES:
        raise ValueError(f"unknown LPIPS backbone {net!r}; known: {sorted(BACKBONES)}")
    return _LPIPS(pretrained=True, net=net, pnet_rand=True).eval()


def backbone_state_dict(state: dict, model) -> dict:
    """The entries of a torchvision checkpoint (`features.<i>.<rest>`) under the names of the
    sliced backbone `model.net`; CheckpointMismatch naming what is missing or of another shape."""
    mapped, problems = {}, []
    for name, param in model.net.state_dict().items():
        found = _SLICED.match(name)
        source = f"features.{found.group(1)}.{found.group(2)}" if found else name
        if source not in state:
            problems.append(f"{source} missing")
        elif tuple(state[source].shape) != tuple(param.shape):
            problems.append(f"{source} has shape {tuple(state[source].shape)}, the backbone {tuple(param.shape)}")
        else:
            mapped[name] = state[source]
    if problems:
        raise CheckpointMismatch(
            f"not a torchvision {BACKBONES[model.pnet_type]} checkpoint: " + "; ".join(problems[:5])
        )
    return mapped


def load_lpips(checkpoint, net: str = "alex", weights_name: str = "lpips_alex", device="cpu") -> "Lpips":
    """`build_lpips(net)` with the backbone loaded strictly from `checkpoint` (torchvision's file,
    e.g. alexnet-owt-7be5be79.pth); a missing file is MissingCheckpoint."""
    path = require_file(checkpoint, f"LPIPS {net} backbone", weights_name)
    model = build_lpips(net)
    model.net.load_state_dict(backbone_state_dict(read_state_dict(path), model), strict=True)
    return Lpips(model.to(device), net, device)


class Lpips:
    """Distance of two RGB images of equal size (float or uint8 in [0, 255]); lower is closer."""

    def __init__(self, model, net: str, device="cpu"):
        self.model = model.eval()
        self.net = net
        self.device = torch.device(device)

    def _tensor(self, image: np.ndarray) -> torch.Tensor:
        image = np.asarray(image, dtype=np.float32)
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected an HxWx3 image, got shape {image.shape}")
        # LPIPS takes [-1, 1] (torchmetrics' normalize=False)
        return torch.from_numpy(image / 127.5 - 1.0).permute(2, 0, 1)[None].to(self.device)

    def distance(self, a: np.ndarray, b: np.ndarray) -> float:
        if np.shape(a) != np.shape(b):
            raise ValueError(f"images differ in shape: {np.shape(a)} vs {np.shape(b)}")
        with torch.inference_mode():
            return float(self.model(self._tensor(a), self._tensor(b)).reshape(()))
