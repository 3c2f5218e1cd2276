"""The other things in an image (every segment but the target), held so that memory is bounded
by the frame, not by how many things there are.

Segments that may overlap one another (detected or true objects, at most `max_boxes` or the
ground truth's objects) are a boolean stack; disjoint ones (background regions, which can be
thousands in a cluttered photo) are one int32 label map. Segment `i` is a full-frame mask either
way, but a consumer asks for its window (`window`) and never needs more than one frame at a
time. In segment order: the first `regions_at` stacked masks, then the regions (label r is
segment `regions_at + r - 1`), then the rest of the stack.

Stored in a segment stage's `segments.npz` (`amodal.imaging.io.write_segments`) under `masks`,
`regions` and `regions_at`; a file with `masks` only (written before the label map) reads as a
stack of every segment.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


class Segments:
    """`masks` (K, H, W) bool; `regions` (H, W) int32, 0 where no region lies, labels 1..R."""

    def __init__(self, masks: np.ndarray, regions: np.ndarray | None = None, regions_at: int | None = None):
        self.masks = np.asarray(masks, dtype=bool)
        if self.masks.ndim != 3:
            raise ValueError(f"segment masks must be (K, H, W), got shape {self.masks.shape}")
        shape = self.masks.shape[1:]
        self.regions = np.zeros(shape, np.int32) if regions is None else np.asarray(regions, dtype=np.int32)
        if self.regions.shape != shape:
            raise ValueError(f"region labels {self.regions.shape} do not match the masks' frame {shape}")
        self.regions_at = len(self.masks) if regions_at is None else int(regions_at)
        # one bounding box (a pair of slices) per region label, in label order: a pass over the frame
        self.region_boxes = ndimage.find_objects(self.regions) if self.regions.any() else []
        if any(box is None for box in self.region_boxes):
            raise ValueError("region labels must run 1..R without a gap")

    @classmethod
    def of(cls, segments) -> "Segments":
        """Segments as they are, or a (K, H, W) stack of masks as Segments."""
        return segments if isinstance(segments, cls) else cls(np.asarray(segments, dtype=bool))

    @property
    def shape(self) -> tuple[int, int]:
        return self.masks.shape[1:]

    @property
    def n_regions(self) -> int:
        return len(self.region_boxes)

    def __len__(self) -> int:
        return len(self.masks) + self.n_regions

    def _where(self, i: int) -> tuple[str, int]:
        if not 0 <= i < len(self):
            raise IndexError(f"segment {i} of {len(self)}")
        if i < self.regions_at:
            return "mask", i
        if i < self.regions_at + self.n_regions:
            return "region", i - self.regions_at + 1
        return "mask", i - self.n_regions

    def box(self, i: int) -> tuple[slice, slice] | None:
        """Segment i's bounding box as slices (None for an empty mask)."""
        kind, index = self._where(i)
        if kind == "region":
            return self.region_boxes[index - 1]
        found = ndimage.find_objects(self.masks[index].astype(np.uint8))
        return found[0] if found else None

    def window(self, i: int, margin: int = 0) -> tuple[tuple[slice, slice], np.ndarray]:
        """(slices, segment i's mask inside them): its bounding box grown by `margin` on every
        side and clipped to the frame (an empty mask gives an empty window)."""
        box = self.box(i)
        if box is None:
            window = (slice(0, 0), slice(0, 0))
        else:
            window = tuple(
                slice(max(0, s.start - margin), min(size, s.stop + margin)) for s, size in zip(box, self.shape)
            )
        kind, index = self._where(i)
        crop = self.masks[index][window] if kind == "mask" else self.regions[window] == index
        return window, crop

    def mask(self, i: int) -> np.ndarray:
        """Segment i over the whole frame (one frame of memory)."""
        kind, index = self._where(i)
        return self.masks[index].copy() if kind == "mask" else self.regions == index

    def union(self, indices) -> np.ndarray:
        """The union of the given segments over the whole frame."""
        out = np.zeros(self.shape, dtype=bool)
        labels = []
        for i in indices:
            kind, index = self._where(i)
            if kind == "mask":
                out |= self.masks[index]
            else:
                labels.append(index)
        if labels:
            out |= np.isin(self.regions, labels)
        return out

    def region_counts(self, inside: np.ndarray | None = None) -> np.ndarray:
        """Each region's pixel count (within the boolean frame `inside` when given), in label
        order: one histogram of the label map, whatever the number of regions."""
        labels = self.regions.ravel() if inside is None else self.regions[inside]
        return np.bincount(labels, minlength=self.n_regions + 1)[1:]

    def areas(self) -> np.ndarray:
        """Each segment's pixel count, in segment order."""
        mask_areas = self.masks.reshape(len(self.masks), -1).sum(axis=1)
        return self._in_order(mask_areas, self.region_counts())

    def intersections(self, other: np.ndarray) -> np.ndarray:
        """Each segment's pixel count inside the boolean frame `other`, in segment order."""
        mask_counts = (self.masks & other[None]).reshape(len(self.masks), -1).sum(axis=1)
        return self._in_order(mask_counts, self.region_counts(other))

    def _in_order(self, of_masks: np.ndarray, of_regions: np.ndarray) -> np.ndarray:
        at = self.regions_at
        return np.concatenate([of_masks[:at], of_regions, of_masks[at:]]).astype(np.int64)

    def resized(self, indices, size: int) -> np.ndarray:
        """The given segments resized to (size, size) by nearest neighbour, as float32 (N, size,
        size): the regions' label map is resized once, so this costs one frame, not one per region."""
        import cv2

        small_regions = None
        out = np.zeros((len(indices), size, size), np.float32)
        for row, i in enumerate(indices):
            kind, index = self._where(i)
            if kind == "mask":
                out[row] = cv2.resize(
                    self.masks[index].astype(np.float32), (size, size), interpolation=cv2.INTER_NEAREST
                )
            else:
                if small_regions is None:
                    small_regions = cv2.resize(self.regions, (size, size), interpolation=cv2.INTER_NEAREST)
                out[row] = small_regions == index
        return out

    def stacked(self) -> np.ndarray:
        """Every segment as one (N, H, W) stack: N frames of memory, for small images and tests."""
        return np.stack([self.mask(i) for i in range(len(self))]) if len(self) else np.zeros((0,) + self.shape, bool)
