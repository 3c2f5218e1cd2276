"""Synthetic-occlusion benchmark: cutouts pasted over photos, with exact amodal ground truth.

A scene is a background photo, a target cutout, 1-2 occluder cutouts pasted in front of it
and 0-1 cutouts pasted behind it (which the target partly hides, so that an occlusion-order
method also meets neighbours that do not occlude the target). Because every object is a
whole cutout, the ground truth is exact: the target's amodal mask, its visible mask, each
other object's visible mask, and the whole target's appearance, including any part outside
the frame.

Object indices: 0 is the target, 1..k the occluders, k+1.. the objects behind. Painter's
order (each record's "depth", 0 = drawn first) is: objects behind in index order, the
target, the occluders in index order.

Scene i draws everything from `np.random.default_rng([seed, i])`, so a scene does not
depend on how many scenes are generated, and a rerun writes byte-identical files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from amodal.imaging.frames import Region, over, paste, window
from amodal.imaging.io import atomic_path, read_rgb, read_rgba, write_image, write_json, write_mask

# Scenes without a border cut keep the target this far from every side, so the seed's
# 10-px border-touch test (geometry.sides_touched) cannot fire on them.
MARGIN = 12
# Share of the target's amodal area that a border cut puts outside the frame.
BORDER_FRACTION = (0.10, 0.40)
# Each occluder must visibly cover at least this share of the target, so that every
# occluder really occludes and is not hidden behind a later one.
MIN_OCCLUDER_SHARE = 0.03
# An occluder or object behind must keep at least this share of its own mask inside the
# frame, so it reads as an object in the picture and not as a sliver at the edge.
MIN_OCCLUDER_IN_FRAME = 0.5
# Occluder longer side, relative to the target's longer side.
OCCLUDER_SIZE = (0.40, 0.90)
# Object-behind longer side, relative to the target's longer side: somewhat larger than an
# occluder, since the target hides part of it and the rest must still read as an object.
BEHIND_SIZE = (0.50, 1.00)
# Share of an object behind's in-frame mask that the target's amodal mask must cover (so the
# target really hides part of it), and share that must stay visible in the final picture
# (so it is a segment a method can see and has to judge).
MIN_BEHIND_COVERED = 0.10
MIN_BEHIND_VISIBLE = 0.30
# Rejection sampling bounds: placements per object combination, combinations per scene.
PLACEMENT_TRIES = 40
COMBINATION_TRIES = 60
MASK_THRESHOLD = 127  # ground-truth masks are alpha > 127

INSTANCE_COLUMNS = ["id", "image", "query", "category", "gt"]


@dataclass(frozen=True)
class Cutout:
    file: str
    category: str
    rgba: np.ndarray = field(repr=False)  # the whole file, uint8 (H, W, 4)
    longer_side: int  # of the alpha > 0 box: the object's size, not the file's


@dataclass(frozen=True)
class Background:
    file: str
    rgb: np.ndarray = field(repr=False)


@dataclass
class Scene:
    record: dict
    image: np.ndarray  # uint8 (S, S, 3)
    amodal: np.ndarray  # bool (S, S), target in frame
    visible: np.ndarray  # bool (S, S), target minus all occluders
    object_visible: list[np.ndarray]  # bool (S, S) visible masks of objects 1.. in index order
    whole: np.ndarray  # uint8 RGBA of the whole target, cropped to alpha > 0


@dataclass
class _Placed:
    """A scaled cutout at an image position (x, y) of its top-left corner (may be negative)."""

    cutout: Cutout
    scale: float
    rgba: np.ndarray
    offset: tuple[int, int]

    @property
    def mask(self) -> np.ndarray:
        return self.rgba[..., 3] > MASK_THRESHOLD


# ---------------------------------------------------------------------------------------
# Public API


def scene_ids(n_scenes: int) -> list[str]:
    return [f"scene_{i:04d}" for i in range(n_scenes)]


def query_for(category: str) -> str:
    return "the " + category.replace("_", " ")


def make_benchmark(
    out_dir,
    *,
    cutouts_dir=None,
    backgrounds_dir=None,
    n_scenes: int,
    seed: int,
    hidden_fraction=(0.15, 0.60),
    border_share=0.25,
    occluders=(1, 2),
    image_size=512,
    target_size=(0.45, 0.75),
    behind=(0, 1),
) -> pd.DataFrame:
    """Write `n_scenes` scenes under out_dir, plus instances.csv and benchmark.json. The cutouts
    and backgrounds default to the shipped ones (data/cutouts, data/backgrounds of the checkout
    amodal is installed from), wherever this runs."""
    params = _check_params(n_scenes, seed, hidden_fraction, border_share, occluders, image_size, target_size, behind)
    cutouts_dir, backgrounds_dir = _source_dirs(cutouts_dir, backgrounds_dir)
    cutouts = load_cutouts(cutouts_dir)
    backgrounds = load_backgrounds(backgrounds_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    rows = []
    for i, scene_id in enumerate(scene_ids(n_scenes)):
        scene = _indexed_scene(scene_id, i, cutouts, backgrounds, params, border_share, image_size, seed)
        write_scene(out_dir / scene_id, scene)
        record = scene.record
        rows.append(
            {
                "id": scene_id,
                "image": f"{scene_id}/{record['image']}",
                "query": record["query"],
                "category": record["category"],
                "gt": f"{scene_id}/scene.json",
            }
        )

    table = pd.DataFrame(rows, columns=INSTANCE_COLUMNS)
    with atomic_path(out_dir / "instances.csv") as tmp:
        table.to_csv(tmp, index=False)
    write_json(
        out_dir / "benchmark.json",
        {
            **params,
            "cutouts_dir": str(cutouts_dir),
            "backgrounds_dir": str(backgrounds_dir),
            "cutouts": [c.file for c in cutouts],
            "backgrounds": [b.file for b in backgrounds],
            "instances": "instances.csv",
            "margin": MARGIN,
            "border_fraction": list(BORDER_FRACTION),
        },
    )
    return table


def make_scene(
    scene_id: str,
    rng: np.random.Generator,
    cutouts: list[Cutout],
    backgrounds: list[Background],
    *,
    hidden_fraction=(0.15, 0.60),
    border_share=0.25,
    occluders=(1, 2),
    image_size=512,
    target_size=(0.45, 0.75),
    behind=(0, 1),
    seed: int | None = None,
) -> Scene:
    """One scene whose hidden fraction lies in `hidden_fraction`; raises if none is found.

    `behind` = (min, max) count of objects pasted behind the target, each partly hidden by it.
    """
    if len(cutouts) < 2:
        raise ValueError(f"{scene_id}: need at least 2 cutouts (a target and an occluder), got {len(cutouts)}")
    size = int(image_size)
    background = backgrounds[int(rng.integers(len(backgrounds)))]
    canvas = _cover_crop(background.rgb, size, rng)
    border_cut = bool(rng.random() < border_share)

    for _ in range(COMBINATION_TRIES):
        target, others = _draw_objects(rng, cutouts, occluders)
        target_scale = rng.uniform(*target_size) * size / target.longer_side
        placed_target = _Placed(target, float(target_scale), scale_cutout(target.rgba, target_scale), (0, 0))
        placed_occluders = []
        for occluder in others:
            ratio = rng.uniform(*OCCLUDER_SIZE)
            occ_scale = ratio * target_scale * target.longer_side / occluder.longer_side
            placed_occluders.append(_Placed(occluder, float(occ_scale), scale_cutout(occluder.rgba, occ_scale), (0, 0)))
        found = _place_objects(rng, placed_target, placed_occluders, size, border_cut, hidden_fraction)
        if found is None:
            continue
        # Objects behind come last, so a fixed count of 0 draws nothing more from rng.
        placed_behind = _add_behind(rng, cutouts, behind, size, *found)
        if placed_behind is not None:
            return _build_scene(scene_id, seed, size, background, canvas, border_cut, *found, *placed_behind)
    raise RuntimeError(
        f"{scene_id}: no placement with a hidden fraction in {tuple(hidden_fraction)} and "
        f"{tuple(behind)} objects behind after {COMBINATION_TRIES} object combinations x "
        f"{PLACEMENT_TRIES} placements; widen hidden_fraction or target_size, lower behind, or add cutouts"
    )


def write_scene(scene_dir, scene: Scene) -> None:
    """Write a scene's files; scene.json goes last, so its presence means the scene is complete."""
    scene_dir = Path(scene_dir)
    objects_dir = scene_dir / "objects"
    objects_dir.mkdir(parents=True, exist_ok=True)
    # A rerun with another seed may have fewer objects: drop masks the new record does not list.
    wanted = {f"{k}.png" for k in range(1, len(scene.object_visible) + 1)}
    for stale in objects_dir.glob("*.png"):
        if stale.name not in wanted:
            stale.unlink()
    write_image(scene_dir / "image.png", scene.image)
    write_mask(scene_dir / "visible_mask.png", scene.visible)
    write_mask(scene_dir / "amodal_mask.png", scene.amodal)
    for k, mask in enumerate(scene.object_visible, start=1):
        write_mask(objects_dir / f"{k}.png", mask)
    write_image(scene_dir / "whole.png", scene.whole)
    write_json(scene_dir / "scene.json", scene.record)


# ---------------------------------------------------------------------------------------
# Inputs


def cutout_entries(cutouts_dir) -> list[tuple[str, str]]:
    """(file name, category) of the cutouts: cutouts.csv (file, category), or every *.png if there is no CSV."""
    folder = _existing_dir(cutouts_dir, "cutouts")
    listing = folder / "cutouts.csv"
    if listing.exists():
        table = _read_listing(listing, ["file", "category"])
        return list(zip(table["file"], table["category"]))
    # Without a manifest the category is the file stem minus a numeric suffix: car_02 -> car.
    return [(p.name, re.sub(r"_\d+$", "", p.stem)) for p in sorted(folder.glob("*.png"))]


def background_names(backgrounds_dir) -> list[str]:
    """File names of the background photos: backgrounds.csv (column file), or every jpg/png if there is no CSV."""
    folder = _existing_dir(backgrounds_dir, "backgrounds")
    listing = folder / "backgrounds.csv"
    if listing.exists():
        return sorted(_read_listing(listing, ["file"])["file"])
    return sorted(p.name for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})


def source_files(cutouts_dir, backgrounds_dir) -> list[str]:
    """Every file building scenes reads: the listings that exist and each cutout and background
    they name (the workflow's inputs of a scenes job, so replacing one rebuilds the scenes)."""
    files = []
    for folder, listing, names in (
        (Path(cutouts_dir), "cutouts.csv", lambda: [n for n, _ in cutout_entries(cutouts_dir)]),
        (Path(backgrounds_dir), "backgrounds.csv", lambda: background_names(backgrounds_dir)),
    ):
        if not folder.is_dir():  # the workflow then reports the missing listing as a missing input
            files.append(str(folder / listing))
            continue
        if (folder / listing).exists():
            files.append(str(folder / listing))
        files.extend(str(folder / name) for name in names())
    return files


def load_cutouts(cutouts_dir) -> list[Cutout]:
    """The RGBA cutouts of `cutout_entries`, each checked to hold an object."""
    folder = _existing_dir(cutouts_dir, "cutouts")
    entries = cutout_entries(folder)
    cutouts = []
    for name, category in sorted(entries):
        path = folder / name
        rgba = _read_image(path, read_rgba)
        alpha = rgba[..., 3]
        if not (alpha > MASK_THRESHOLD).any():
            raise ValueError(f"cutout {path} has no pixel with alpha > {MASK_THRESHOLD} (no object); fix or remove it")
        longer = max(Region.bounding(alpha).shape)
        cutouts.append(Cutout(str(name), str(category), rgba, longer))
    if len(cutouts) < 2:
        raise ValueError(f"{folder}: need at least 2 cutouts (a target and an occluder), found {len(cutouts)}")
    return cutouts


def load_backgrounds(backgrounds_dir) -> list[Background]:
    """Photos listed in backgrounds.csv (column file), or every jpg/png if there is no CSV."""
    folder = _existing_dir(backgrounds_dir, "backgrounds")
    names = background_names(folder)
    if not names:
        raise ValueError(f"{folder}: no background photos (*.jpg, *.png) found")
    return [Background(str(name), _read_image(folder / name, read_rgb)) for name in names]


def _source_dirs(cutouts_dir, backgrounds_dir) -> tuple:
    """The folders as given; one left None is the shipped folder (the config schema's default, in the checkout)."""
    from amodal.config.schema import shipped_default

    return (
        cutouts_dir if cutouts_dir is not None else shipped_default("cutouts"),
        backgrounds_dir if backgrounds_dir is not None else shipped_default("backgrounds"),
    )


def _existing_dir(path, what: str) -> Path:
    folder = Path(path)
    if not folder.is_dir():
        raise FileNotFoundError(f"{what} folder not found: {folder} (pass the folder holding the {what} and its CSV)")
    return folder


def _read_listing(path: Path, columns: list[str]) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except Exception as err:  # pandas raises several types for a malformed CSV
        raise ValueError(f"cannot read {path}: {err}") from err
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{path} lacks column(s) {missing}; it needs {columns}")
    return table


def _read_image(path: Path, reader) -> np.ndarray:
    if not path.is_file():
        raise FileNotFoundError(f"image listed but missing: {path} (fix the CSV or restore the file)")
    try:
        return reader(path)
    except Exception as err:  # PIL raises several types for a corrupt file
        raise ValueError(f"cannot read image {path}: {err}; replace or remove it") from err


def _check_params(n_scenes, seed, hidden_fraction, border_share, occluders, image_size, target_size, behind) -> dict:
    lo, hi = (float(v) for v in hidden_fraction)
    if not 0.0 <= lo < hi <= 1.0:
        raise ValueError(f"hidden_fraction must be (low, high) with 0 <= low < high <= 1, got {hidden_fraction}")
    if not 0.0 <= float(border_share) <= 1.0:
        raise ValueError(f"border_share must lie in [0, 1], got {border_share}")
    n_lo, n_hi = (int(v) for v in occluders)
    if not 1 <= n_lo <= n_hi:
        raise ValueError(f"occluders must be (min, max) counts with 1 <= min <= max, got {occluders}")
    b_lo, b_hi = (int(v) for v in behind)
    if not 0 <= b_lo <= b_hi:
        raise ValueError(f"behind must be (min, max) counts with 0 <= min <= max, got {behind}")
    t_lo, t_hi = (float(v) for v in target_size)
    if not 0.0 < t_lo <= t_hi:
        raise ValueError(f"target_size must be (low, high) with 0 < low <= high, got {target_size}")
    # The target must fit inside the frame with MARGIN on both sides (plus resampling slack).
    if t_hi * image_size > image_size - 2 * MARGIN - 4:
        raise ValueError(
            f"target_size {target_size} is too large for image_size {image_size} with a {MARGIN}-px margin"
        )
    if int(n_scenes) < 0:
        raise ValueError(f"n_scenes must be >= 0, got {n_scenes}")
    return {
        "n_scenes": int(n_scenes),
        "seed": int(seed),
        "hidden_fraction": [lo, hi],
        "border_share": float(border_share),
        "occluders": [n_lo, n_hi],
        "behind": [b_lo, b_hi],
        "image_size": int(image_size),
        "target_size": [t_lo, t_hi],
    }


# ---------------------------------------------------------------------------------------
# Rendering


def scale_cutout(rgba: np.ndarray, scale: float) -> np.ndarray:
    """The cutout file resized by `scale` (uint8 RGBA); deterministic, so tests can recompute it.

    Resampling is done on premultiplied colour: otherwise the colour of fully transparent
    pixels (often black) bleeds into the soft edge and leaves a dark fringe.
    """
    h, w = rgba.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    alpha = rgba[..., 3:4].astype(np.float32)
    premultiplied = np.concatenate([rgba[..., :3].astype(np.float32) * (alpha / 255.0), alpha], axis=2)
    resized = cv2.resize(premultiplied, size, interpolation=interpolation)
    out_alpha = np.clip(np.rint(resized[..., 3]), 0, 255)
    coverage = resized[..., 3:4] / 255.0
    colour = np.divide(resized[..., :3], coverage, out=np.zeros_like(resized[..., :3]), where=coverage > 1e-6)
    colour = np.clip(np.rint(colour), 0, 255)
    colour[out_alpha == 0] = 0  # colour under zero alpha is undefined; keep files clean
    return np.dstack([colour, out_alpha]).astype(np.uint8)


def _composite(canvas: np.ndarray, objects: list[_Placed]) -> np.ndarray:
    """Alpha-blend the objects over the canvas in painter's order (later is in front)."""
    image = canvas.astype(np.float32)
    for obj in objects:
        overlap = window(obj.rgba.shape, obj.offset, image.shape)
        if overlap is not None:
            inside, part = overlap
            image[inside] = over(obj.rgba[part], image[inside], np.float32)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8)


def _cover_crop(rgb: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Resize so the shorter side is `size`, then crop a random size x size square."""
    h, w = rgb.shape[:2]
    scale = size / min(h, w)
    new_w, new_h = max(size, round(w * scale)), max(size, round(h * scale))
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=interpolation)
    x = int(rng.integers(new_w - size + 1))
    y = int(rng.integers(new_h - size + 1))
    return np.ascontiguousarray(resized[y : y + size, x : x + size])


# ---------------------------------------------------------------------------------------
# Sampling


def _draw_objects(rng: np.random.Generator, cutouts: list[Cutout], occluders) -> tuple[Cutout, list[Cutout]]:
    """A target and its occluders, the occluders of other categories where there are enough."""
    target = cutouts[int(rng.integers(len(cutouts)))]
    count = int(rng.integers(occluders[0], occluders[1] + 1))
    return target, _pick_others(rng, cutouts, target, count)


def _pick_others(rng: np.random.Generator, cutouts: list[Cutout], target: Cutout, count: int) -> list[Cutout]:
    """`count` cutouts other than the target, of other categories where there are enough."""
    pool = [c for c in cutouts if c.category != target.category]
    if len(pool) < count:
        pool += [c for c in cutouts if c.category == target.category and c.file != target.file]
    if not pool:
        pool = [target]
    picks = rng.choice(len(pool), size=count, replace=len(pool) < count)
    return [pool[int(k)] for k in picks]


def _place_target(rng: np.random.Generator, target: _Placed, box: Region, size: int, border_cut: bool):
    """An offset for the target: fully inside with MARGIN, or cut by one side; None if impossible."""
    if not border_cut:
        x = _inside_position(rng, box.x0, box.x1, size)
        y = _inside_position(rng, box.y0, box.y1, size)
        return None if x is None or y is None else (x, y)

    mask = target.mask
    total = int(mask.sum())
    side = ("left", "right", "top", "bottom")[int(rng.integers(4))]
    axis_sums = mask.sum(axis=0) if side in ("left", "right") else mask.sum(axis=1)
    far = side in ("right", "bottom")
    if far:
        axis_sums = axis_sums[::-1]
    # outside[k]: mask pixels beyond the side when k array rows/columns stick out of it.
    outside = np.concatenate([[0], np.cumsum(axis_sums)])
    fraction = outside / total
    valid = np.nonzero((fraction >= BORDER_FRACTION[0]) & (fraction <= BORDER_FRACTION[1]))[0]
    if valid.size == 0:
        return None
    k = int(valid[int(rng.integers(valid.size))])
    length = axis_sums.size
    cut = size - length + k if far else -k
    if side in ("left", "right"):
        y = _inside_position(rng, box.y0, box.y1, size)
        return None if y is None else (cut, y)
    x = _inside_position(rng, box.x0, box.x1, size)
    return None if x is None else (x, cut)


def _inside_position(rng: np.random.Generator, lo: int, hi: int, size: int):
    """A position keeping the span [lo, hi) of the array at least MARGIN px inside [0, size)."""
    first, last = MARGIN - lo, size - MARGIN - hi
    if first > last:
        return None
    return int(rng.integers(first, last + 1))


def _place_objects(rng, target: _Placed, occluders: list[_Placed], size: int, border_cut: bool, hidden_range):
    """Rejection-sample placements until the border, hidden-fraction and occluder checks pass.

    Sets the offsets of `target` and `occluders`; returns (target, occluders, amodal, occluder
    masks in frame) or None when no placement passed within PLACEMENT_TRIES.
    """
    shape = (size, size)
    target_mask = target.mask
    target_local = np.argwhere(target_mask)  # shifted per try: cheaper than searching the frame
    target_total = len(target_local)
    box = Region.bounding(target.rgba[..., 3])  # of the alpha > 0 pixels
    occluder_masks = [o.mask for o in occluders]
    occluder_points = [np.argwhere(m) for m in occluder_masks]
    for _ in range(PLACEMENT_TRIES):
        offset = _place_target(rng, target, box, size, border_cut)
        if offset is None:
            continue
        target.offset = offset
        target_points = target_local + (offset[1], offset[0])
        if border_cut:
            target_points = target_points[((target_points >= 0) & (target_points < size)).all(axis=1)]
        area = len(target_points)
        # Check the border contract on the actual in-frame area, whatever the file's margins.
        outside = (target_total - area) / target_total
        if (border_cut and not BORDER_FRACTION[0] <= outside <= BORDER_FRACTION[1]) or (not border_cut and outside):
            continue
        masks = _pin_onto_target(rng, occluders, occluder_masks, occluder_points, target_points, shape)
        if masks is None:
            continue
        amodal = paste(target_mask, offset, shape)
        if any((v & amodal).sum() < MIN_OCCLUDER_SHARE * area for v in _visible_masks(masks)):
            continue
        hidden = int((amodal & np.logical_or.reduce(masks)).sum())
        if hidden_range[0] <= hidden / area <= hidden_range[1]:
            return target, occluders, amodal, masks
    return None


def _pin_onto_target(rng, objects, masks, points, target_points, shape):
    """Place each object (occluder or object behind) so a random pixel of it lands on a random
    in-frame target pixel.

    Pinning guarantees overlap with the target; returns the in-frame masks, or None when an
    object would be mostly outside the frame.
    """
    placed = []
    for occ, mask, occ_points in zip(objects, masks, points):
        ty, tx = target_points[int(rng.integers(len(target_points)))]
        oy, ox = occ_points[int(rng.integers(len(occ_points)))]
        occ.offset = (int(tx - ox), int(ty - oy))
        in_frame = paste(mask, occ.offset, shape)
        if in_frame.sum() < MIN_OCCLUDER_IN_FRAME * len(occ_points):
            return None
        placed.append(in_frame)
    return placed


def _add_behind(rng, cutouts, behind, size: int, target: _Placed, occluders, amodal, masks):
    """Objects pasted behind the placed target and occluders: (placed, in-frame masks) or None.

    Each is pinned onto the target like an occluder, then kept only if the target hides at
    least MIN_BEHIND_COVERED of it and MIN_BEHIND_VISIBLE of it still shows in the picture.
    """
    low, high = behind
    # A fixed count draws nothing, so behind=(0, 0) leaves the scene exactly as without this step.
    count = low if low == high else int(rng.integers(low, high + 1))
    if count == 0:
        return [], []
    placed = []
    for cutout in _pick_others(rng, cutouts, target.cutout, count):
        ratio = rng.uniform(*BEHIND_SIZE)
        scale = ratio * target.scale * target.cutout.longer_side / cutout.longer_side
        placed.append(_Placed(cutout, float(scale), scale_cutout(cutout.rgba, scale), (0, 0)))
    own_masks = [b.mask for b in placed]
    own_points = [np.argwhere(m) for m in own_masks]
    target_points = np.argwhere(amodal)
    in_front = amodal | np.logical_or.reduce(masks)
    for _ in range(PLACEMENT_TRIES):
        behind_masks = _pin_onto_target(rng, placed, own_masks, own_points, target_points, amodal.shape)
        if behind_masks is not None and _behind_ok(behind_masks, amodal, in_front):
            return placed, behind_masks
    return None


def _behind_ok(behind_masks: list[np.ndarray], amodal: np.ndarray, in_front: np.ndarray) -> bool:
    """Whether each object behind is partly hidden by the target and still mostly seen.

    `in_front` is everything drawn after the objects behind (target and occluders); objects
    behind are drawn in list order, so a later one may hide an earlier one too.
    """
    visible = _visible_masks([*behind_masks, in_front])[:-1]
    for mask, seen in zip(behind_masks, visible):
        area = int(mask.sum())
        if (mask & amodal).sum() < MIN_BEHIND_COVERED * area or seen.sum() < MIN_BEHIND_VISIBLE * area:
            return False
    return True


def _visible_masks(masks: list[np.ndarray]) -> list[np.ndarray]:
    """Each mask minus every mask drawn after it (painter's order)."""
    visible = []
    in_front = np.zeros_like(masks[0])
    for mask in reversed(masks):
        visible.append(mask & ~in_front)
        in_front = in_front | mask
    return visible[::-1]


def _build_scene(
    scene_id, seed, size, background, canvas, border_cut, target, occluders, amodal, masks, behind, behind_masks
) -> Scene:
    objects = [target, *occluders, *behind]  # index order
    full_masks = [amodal, *masks, *behind_masks]
    painter = _painter_order(len(occluders), len(behind))
    depth = {index: d for d, index in enumerate(painter)}
    visible_by_depth = _visible_masks([full_masks[index] for index in painter])
    object_visible = [visible_by_depth[depth[k]] for k in range(len(objects))]
    # Objects behind are drawn before the target, so only the occluders hide it.
    visible = object_visible[0]
    area = int(amodal.sum())
    hidden_fraction = (area - int(visible.sum())) / area
    total = int(target.mask.sum())
    border_fraction = (total - area) / total

    # whole.png: the target cropped to its alpha > 0 box, parts outside the frame included.
    box = Region.bounding(target.rgba[..., 3])
    whole = np.ascontiguousarray(target.rgba[box.slices])
    whole_offset = [target.offset[0] + box.x0, target.offset[1] + box.y0]

    occludes = sorted(
        [i, j]
        for i in range(len(objects))
        for j in range(len(objects))
        if depth[i] > depth[j] and (full_masks[i] & full_masks[j]).any()
    )
    category = target.cutout.category
    record = {
        "id": scene_id,
        "image": "image.png",
        "query": query_for(category),
        "category": category,
        "background": background.file,
        "target": {"cutout": target.cutout.file, "scale": target.scale, "offset": list(target.offset)},
        "whole": "whole.png",
        "whole_offset": whole_offset,
        "visible_mask": "visible_mask.png",
        "amodal_mask": "amodal_mask.png",
        "objects": [
            {
                "index": k,
                "category": obj.cutout.category,
                "cutout": obj.cutout.file,
                "mask": None if k == 0 else f"objects/{k}.png",
                "offset": list(obj.offset),
                "scale": obj.scale,
                "depth": depth[k],
            }
            for k, obj in enumerate(objects)
        ],
        "occludes": occludes,
        "hidden_fraction": hidden_fraction,
        "border_fraction": border_fraction,
        "border_cut": border_cut,
        "seed": seed,
        "image_size": size,
    }
    return Scene(
        record=record,
        image=_composite(canvas, [objects[index] for index in painter]),
        amodal=amodal,
        visible=visible,
        object_visible=object_visible[1:],
        whole=whole,
    )


def _painter_order(n_occluders: int, n_behind: int) -> list[int]:
    """Object indices from first drawn to last: objects behind, the target, the occluders."""
    first_behind = n_occluders + 1
    return [*range(first_behind, first_behind + n_behind), 0, *range(1, first_behind)]


def build_scenes(
    out_dir,
    scene_ids: list[str],
    *,
    cutouts_dir=None,
    backgrounds_dir=None,
    seed: int,
    hidden_fraction=(0.15, 0.60),
    border_share=0.25,
    occluders=(1, 2),
    image_size=512,
    target_size=(0.45, 0.75),
    behind=(0, 1),
) -> None:
    """Write some scenes of a benchmark (what make_benchmark writes for them), reading the
    cutouts and backgrounds once: one shard of the workflow's scene jobs."""
    cutouts_dir, backgrounds_dir = _source_dirs(cutouts_dir, backgrounds_dir)
    indices = [scene_ids_index(scene_id) for scene_id in scene_ids]
    params = _check_params(
        max(indices, default=0) + 1, seed, hidden_fraction, border_share, occluders, image_size, target_size, behind
    )
    cutouts, backgrounds = load_cutouts(cutouts_dir), load_backgrounds(backgrounds_dir)
    for scene_id, index in zip(scene_ids, indices):
        scene = _indexed_scene(scene_id, index, cutouts, backgrounds, params, border_share, image_size, seed)
        write_scene(Path(out_dir) / scene_id, scene)


def _indexed_scene(scene_id, index, cutouts, backgrounds, params, border_share, image_size, seed) -> Scene:
    """Scene number `index`: its own generator, so it is the same whatever else is built."""
    return make_scene(
        scene_id,
        np.random.default_rng([seed, index]),
        cutouts,
        backgrounds,
        hidden_fraction=params["hidden_fraction"],
        border_share=border_share,
        occluders=params["occluders"],
        image_size=image_size,
        target_size=params["target_size"],
        behind=params["behind"],
        seed=seed,
    )


def scene_ids_index(scene_id: str) -> int:
    """The scene number in an id made by scene_ids."""
    prefix, _, number = scene_id.partition("_")
    if prefix != "scene" or not number.isdigit():
        raise ValueError(f"{scene_id!r} is not a benchmark scene id (scene_0000, scene_0001, ...)")
    return int(number)
