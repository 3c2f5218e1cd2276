"""Synthetic-occlusion benchmark, composition and writing: a scene's record, image and ground-truth
files from its placed cutouts (`placement`) over a background (`rendering`), and a benchmark's
scenes with instances.csv and benchmark.json.

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

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from amodal.synthetic.files import BENCHMARK_FILES, OBJECTS_DIR, SCENE_FILES
from amodal.imaging.io import atomic_path, write_image, write_json, write_mask
from amodal.synthetic.params import BORDER_FRACTION, COMBINATION_TRIES, MARGIN, PLACEMENT_TRIES, SceneParams
from amodal.synthetic.placement import Arrangement, arrange
from amodal.imaging.frames import Region
from amodal.synthetic.rendering import composite, cover_crop, visible_masks
from amodal.synthetic.sources import Background, Cutout, load_backgrounds, load_cutouts, source_dirs

INSTANCE_COLUMNS = ["id", "image", "query", "category", "gt"]


@dataclass
class Scene:
    record: dict
    image: np.ndarray  # uint8 (S, S, 3)
    amodal: np.ndarray  # bool (S, S), target in frame
    visible: np.ndarray  # bool (S, S), target minus all occluders
    object_visible: list[np.ndarray]  # bool (S, S) visible masks of objects 1.. in index order
    whole: np.ndarray  # uint8 RGBA of the whole target, cropped to alpha > 0


def scene_ids(n_scenes: int) -> list[str]:
    return [f"scene_{i:04d}" for i in range(n_scenes)]


def scene_ids_index(scene_id: str) -> int:
    """The scene number in an id made by scene_ids."""
    prefix, _, number = scene_id.partition("_")
    if prefix != "scene" or not number.isdigit():
        raise ValueError(f"{scene_id!r} is not a benchmark scene id (scene_0000, scene_0001, ...)")
    return int(number)


def query_for(category: str) -> str:
    return "the " + category.replace("_", " ")


def make_benchmark(
    out_dir, *, n_scenes: int, params: SceneParams = SceneParams(), cutouts_dir=None, backgrounds_dir=None
) -> pd.DataFrame:
    """Write `n_scenes` scenes under out_dir, plus instances.csv and benchmark.json. The cutouts
    and backgrounds default to the shipped ones (data/cutouts, data/backgrounds of the checkout
    amodal is installed from), wherever this runs."""
    if int(n_scenes) < 0:
        raise ValueError(f"n_scenes must be >= 0, got {n_scenes}")
    cutouts_dir, backgrounds_dir = source_dirs(cutouts_dir, backgrounds_dir)
    cutouts = load_cutouts(cutouts_dir)
    backgrounds = load_backgrounds(backgrounds_dir)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)

    rows = []
    for i, scene_id in enumerate(scene_ids(n_scenes)):
        scene = _indexed_scene(scene_id, i, cutouts, backgrounds, params)
        write_scene(out_dir / scene_id, scene)
        record = scene.record
        rows.append(
            {
                "id": scene_id,
                "image": f"{scene_id}/{record['image']}",
                "query": record["query"],
                "category": record["category"],
                "gt": f"{scene_id}/{SCENE_FILES['record']}",
            }
        )

    table = pd.DataFrame(rows, columns=INSTANCE_COLUMNS)
    with atomic_path(out_dir / BENCHMARK_FILES["instances"]) as tmp:
        table.to_csv(tmp, index=False)
    write_json(
        out_dir / BENCHMARK_FILES["record"],
        {
            "n_scenes": int(n_scenes),
            **params.as_record(),
            "cutouts_dir": str(cutouts_dir),
            "backgrounds_dir": str(backgrounds_dir),
            "cutouts": [c.file for c in cutouts],
            "backgrounds": [b.file for b in backgrounds],
            "instances": BENCHMARK_FILES["instances"],
            "margin": MARGIN,
            "border_fraction": list(BORDER_FRACTION),
        },
    )
    return table


def build_scenes(
    out_dir, scene_ids: list[str], *, params: SceneParams = SceneParams(), cutouts_dir=None, backgrounds_dir=None
) -> None:
    """Write some scenes of a benchmark (what make_benchmark writes for them), reading the
    cutouts and backgrounds once: one shard of the workflow's scene jobs."""
    cutouts_dir, backgrounds_dir = source_dirs(cutouts_dir, backgrounds_dir)
    indices = [scene_ids_index(scene_id) for scene_id in scene_ids]
    cutouts, backgrounds = load_cutouts(cutouts_dir), load_backgrounds(backgrounds_dir)
    for scene_id, index in zip(scene_ids, indices):
        scene = _indexed_scene(scene_id, index, cutouts, backgrounds, params)
        write_scene(Path(out_dir) / scene_id, scene)


def _indexed_scene(scene_id, index, cutouts, backgrounds, params: SceneParams) -> Scene:
    """Scene number `index`: its own generator, so it is the same whatever else is built."""
    return make_scene(scene_id, np.random.default_rng([params.seed, index]), cutouts, backgrounds, params)


def make_scene(
    scene_id: str,
    rng: np.random.Generator,
    cutouts: list[Cutout],
    backgrounds: list[Background],
    params: SceneParams = SceneParams(),
) -> Scene:
    """One scene whose hidden fraction lies in `params.hidden_fraction`; raises if none is found.
    Draws from `rng` only (params.seed is recorded, not drawn from)."""
    if len(cutouts) < 2:
        raise ValueError(f"{scene_id}: need at least 2 cutouts (a target and an occluder), got {len(cutouts)}")
    background = backgrounds[int(rng.integers(len(backgrounds)))]
    canvas = cover_crop(background.rgb, params.image_size, rng)
    border_cut = bool(rng.random() < params.border_share)
    for _ in range(COMBINATION_TRIES):
        arrangement = arrange(rng, cutouts, params, border_cut)
        if arrangement is not None:
            return _build_scene(scene_id, params, background, canvas, border_cut, arrangement)
    raise ValueError(  # settings no scene can meet: `amodal make-benchmark` prints it as one line
        f"{scene_id}: no placement with a hidden fraction in {params.hidden_fraction} and "
        f"{params.behind} objects behind after {COMBINATION_TRIES} object combinations x "
        f"{PLACEMENT_TRIES} placements; widen hidden_fraction, lower behind, or add cutouts"
    )


def write_scene(scene_dir, scene: Scene) -> None:
    """Write a scene's files; scene.json goes last, so its presence means the scene is complete."""
    scene_dir = Path(scene_dir)
    objects_dir = scene_dir / OBJECTS_DIR
    objects_dir.mkdir(parents=True, exist_ok=True)
    # A rerun with another seed may have fewer objects: drop masks the new record does not list.
    wanted = {f"{k}.png" for k in range(1, len(scene.object_visible) + 1)}
    for stale in objects_dir.glob("*.png"):
        if stale.name not in wanted:
            stale.unlink()
    write_image(scene_dir / SCENE_FILES["image"], scene.image)
    write_mask(scene_dir / SCENE_FILES["visible_mask"], scene.visible)
    write_mask(scene_dir / SCENE_FILES["amodal_mask"], scene.amodal)
    for k, mask in enumerate(scene.object_visible, start=1):
        write_mask(objects_dir / f"{k}.png", mask)
    write_image(scene_dir / SCENE_FILES["whole"], scene.whole)
    write_json(scene_dir / SCENE_FILES["record"], scene.record)


def _build_scene(
    scene_id: str, params: SceneParams, background: Background, canvas, border_cut: bool, placed: Arrangement
) -> Scene:
    target, occluders, behind, amodal = placed.target, placed.occluders, placed.behind, placed.amodal
    objects = [target, *occluders, *behind]  # index order
    full_masks = [amodal, *placed.masks, *placed.behind_masks]
    painter = _painter_order(len(occluders), len(behind))
    depth = {index: d for d, index in enumerate(painter)}
    visible_by_depth = visible_masks([full_masks[index] for index in painter])
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
        "image": SCENE_FILES["image"],
        "query": query_for(category),
        "category": category,
        "background": background.file,
        "target": {"cutout": target.cutout.file, "scale": target.scale, "offset": list(target.offset)},
        "whole": SCENE_FILES["whole"],
        "whole_offset": whole_offset,
        "visible_mask": SCENE_FILES["visible_mask"],
        "amodal_mask": SCENE_FILES["amodal_mask"],
        "objects": [
            {
                "index": k,
                "category": obj.cutout.category,
                "cutout": obj.cutout.file,
                "mask": None if k == 0 else f"{OBJECTS_DIR}/{k}.png",
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
        "seed": params.seed,
        "image_size": params.image_size,
    }
    return Scene(
        record=record,
        image=composite(canvas, [(objects[index].rgba, objects[index].offset) for index in painter]),
        amodal=amodal,
        visible=visible,
        object_visible=object_visible[1:],
        whole=whole,
    )


def _painter_order(n_occluders: int, n_behind: int) -> list[int]:
    """Object indices from first drawn to last: objects behind, the target, the occluders."""
    first_behind = n_occluders + 1
    return [*range(first_behind, first_behind + n_behind), 0, *range(1, first_behind)]
