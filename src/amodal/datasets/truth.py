"""Ground truth of one instance, as written by the synthetic benchmark (scene.json and its files)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from amodal.errors import InstanceError
from amodal.imaging import io
from amodal.synthetic.files import SCENE_FILES


@dataclass
class Truth:
    query: str
    category: str
    visible: np.ndarray  # (H, W) bool, the target's visible pixels
    amodal_in_frame: np.ndarray  # (H, W) bool
    whole: np.ndarray  # RGBA of the whole target, may extend past the frame
    whole_offset: tuple[int, int]  # (x, y) of whole's top-left in image coordinates
    object_masks: list[np.ndarray]  # visible mask of object k (index 0 = target)
    object_categories: list[str]
    occludes: set[tuple[int, int]]  # (i, j): object i is in front of and overlaps object j

    def occluders_of(self, index: int = 0) -> set[int]:
        return {i for i, j in self.occludes if j == index}


def load_truth(scene_json, instance: str = "?") -> Truth:
    path = Path(scene_json)
    if not path.exists():
        raise InstanceError(instance, path, "ground-truth scene file not found; rebuild the benchmark")
    record = io.read_json(path)
    root = path.parent
    visible = io.read_mask(root / SCENE_FILES["visible_mask"])
    objects = sorted(record["objects"], key=lambda o: o["index"])
    masks = [visible if o["index"] == 0 else io.read_mask(root / o["mask"]) for o in objects]
    return Truth(
        query=record["query"],
        category=record["category"],
        visible=visible,
        amodal_in_frame=io.read_mask(root / SCENE_FILES["amodal_mask"]),
        whole=io.read_rgba(root / SCENE_FILES["whole"]),
        whole_offset=tuple(record["whole_offset"]),
        object_masks=masks,
        object_categories=[o["category"] for o in objects],
        occludes={(int(i), int(j)) for i, j in record["occludes"]},
    )
