"""InstaOrderNet^o,d (Lee & Park, CVPR 2022): which of two instances occludes the other.

The network is a ResNet-50 (torchvision's layout: conv1, bn1, layer1-4 of Bottleneck blocks
[3, 4, 6, 3]) whose first convolution reads 5 channels (the two instances' masks, then the
ImageNet-normalised RGB image), global average pooling, and two linear heads on the 2048
features: `fc_occ` (2 logits) and `fc_depth` (3 logits). Built on torchvision's ResNet so the
released checkpoint `InstaOrder_InstaOrderNet_od.pth.tar` ({"state_dict": {"module.<name>":
...}, "step", "optimizer"}) loads strictly by its own key names; the names and shapes are
checked against the reference implementation's (tests/reference/instaorder_od_state_dict.json).

How the seed uses it (its `main.py`, through InstaOrder's `infer_order_sup_occ_depth` with
`patch_or_image="resize"`, input 384): the whole image (/255, bicubic) and each mask (nearest)
resized to 384x384 without keeping the aspect ratio; each pair run in both orders; sigmoid of
the occlusion logits; P(a occludes b) = (occ(a, b)[1] + occ(b, a)[0]) / 2, occluding when
> 0.5. The seed's expanded boxes are computed but unused in that mode, so none are here.
"""

from __future__ import annotations


import numpy as np
import torch
from torch import nn

from amodal.models import CheckpointMismatch, built_on, read_state_dict, require_file

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INPUT_SIZE = 384
FULL_LAYERS = (3, 4, 6, 3)
CHECKPOINT_FILE = "InstaOrder_InstaOrderNet_od.pth.tar"


class InstaOrderNet(nn.Module):
    """ResNet-50 on (mask a, mask b, RGB) with an occlusion head (2) and a depth head (3)."""

    def __init__(self, layers=FULL_LAYERS):
        super().__init__()
        from torchvision.models.resnet import Bottleneck, ResNet

        trunk = ResNet(Bottleneck, list(layers))
        trunk.conv1 = nn.Conv2d(5, 64, kernel_size=7, stride=2, padding=3, bias=False)
        for name in ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool"):
            setattr(self, name, getattr(trunk, name))
        features = 512 * Bottleneck.expansion
        self.fc_occ = nn.Linear(features, 2)
        self.fc_depth = nn.Linear(features, 3)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc_occ(x), self.fc_depth(x)


def build_instaorder(layers=FULL_LAYERS) -> InstaOrderNet:
    """The network with random weights, in eval mode (smaller `layers` for tests)."""
    return InstaOrderNet(layers).eval()


def load_instaorder(checkpoint, device: str = "cpu", layers=FULL_LAYERS) -> InstaOrderNet:
    """The released checkpoint (or a bare state dict) loaded strictly; no arbitrary unpickling."""
    path = require_file(checkpoint, "InstaOrder", "instaorder_od")
    state = read_state_dict(path, containers=("state_dict",))
    with built_on(device):
        model = build_instaorder(layers)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise CheckpointMismatch(f"{path} does not fit InstaOrderNet_od: {error}") from None
    return model.to(device).eval()


def prepare(image: np.ndarray, masks: np.ndarray, size: int = INPUT_SIZE) -> tuple[torch.Tensor, torch.Tensor]:
    """(normalised RGB (3, size, size), masks (N, size, size)) as the seed's resize mode makes them."""
    import cv2

    rgb = cv2.resize(image.astype(np.float32) / 255.0, (size, size), interpolation=cv2.INTER_CUBIC)
    rgb = (rgb - np.array(IMAGENET_MEAN, np.float32)) / np.array(IMAGENET_STD, np.float32)
    resized = [cv2.resize(m.astype(np.float32), (size, size), interpolation=cv2.INTER_NEAREST) for m in masks]
    stack = np.stack(resized) if resized else np.zeros((0, size, size), np.float32)
    return torch.from_numpy(rgb.transpose(2, 0, 1).copy()), torch.from_numpy(stack)


def occlusion_probability(occ_ab: torch.Tensor, occ_ba: torch.Tensor) -> torch.Tensor:
    """P(a occludes b) from the occlusion logits of (a, b) and of (b, a), as InstaOrder averages them."""
    return (torch.sigmoid(occ_ab)[..., 1] + torch.sigmoid(occ_ba)[..., 0]) / 2


class OrderPredictor:
    """Which segments occlude a target: every (segment, target) pair in both orders, batched
    `pairs_per_batch` pairs (twice as many network inputs) at a time, so memory does not grow
    with the number of segments."""

    def __init__(self, model: InstaOrderNet, device: str = "cpu", size: int = INPUT_SIZE, pairs_per_batch: int = 64):
        self.model, self.device, self.size = model.to(device).eval(), device, size
        self.pairs_per_batch = pairs_per_batch

    def occludes_target(self, image: np.ndarray, target: np.ndarray, others) -> np.ndarray:
        """P(other k occludes the target) for each of the `others` (Segments or a (K, H, W)
        stack); (K,) float."""
        return self.both_ways(image, target, others)[0]

    @torch.inference_mode()
    def both_ways(self, image: np.ndarray, target: np.ndarray, others) -> tuple[np.ndarray, np.ndarray]:
        """(P(other k occludes the target), P(the target occludes other k)), each (K,) float."""
        from amodal.imaging.segments import Segments

        others = Segments.of(others)
        if len(others) == 0:
            return np.zeros(0), np.zeros(0)
        rgb, target_small = prepare(image, target[None], self.size)
        front, behind = [], []
        for start in range(0, len(others), self.pairs_per_batch):
            batch = range(start, min(len(others), start + self.pairs_per_batch))
            o = torch.from_numpy(others.resized(batch, self.size))
            t = target_small.expand(len(batch), -1, -1)
            colour = rgb[None].expand(len(batch), -1, -1, -1)
            other_first = torch.cat([o[:, None], t[:, None], colour], dim=1)  # (k, target)
            target_first = torch.cat([t[:, None], o[:, None], colour], dim=1)  # (target, k)
            occ, _ = self.model(torch.cat([other_first, target_first]).to(self.device))
            occ = occ.float().cpu()
            k_first, t_first = occ[: len(batch)], occ[len(batch) :]
            front.append(occlusion_probability(k_first, t_first))
            behind.append(occlusion_probability(t_first, k_first))
        return torch.cat(front).numpy(), torch.cat(behind).numpy()
