"""A dataset of hostile and odd inputs through the real workflow with the model backends (tiny
random-weight models): every kind of file and annotation entry gets its status with a reason
naming the file, the readable photos run through every stage on the same upright, size-bounded
working image, and the run finishes."""

import json
import os

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from amodal.imaging import io
from test_workflow_models import write_experiment
from tiny_models import write_tiny_checkpoints
from workflow_helpers import ROOT, snakemake, stage_folders

CAT = ROOT / "data" / "seed_examples" / "cat-7875506_640_cat.jpg"  # 640 x 388
MAX_SIDE = 320
LONG_QUERY = "the small grey cat " * 80


def build_dataset(folder):
    images = folder / "images"
    images.mkdir(parents=True)
    photo = Image.open(CAT).convert("RGB")
    photo.save(images / "cat.jpg", quality=95)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned; shown upright after a quarter turn clockwise
    photo.transpose(Image.Transpose.ROTATE_90).save(images / "rotated.jpg", exif=exif, quality=95)
    grey = np.asarray(photo.convert("L"), dtype=np.uint16) * 257
    Image.fromarray(grey).save(images / "deep.png")
    photo.convert("RGBA").save(images / "rgba.png")
    photo.resize((8, 6)).save(images / "tiny.png")
    photo.save(images / "png_named.jpg", format="PNG")
    whole = (images / "cat.jpg").read_bytes()
    (images / "truncated.jpg").write_bytes(whole[: len(whole) // 3])
    (images / "text.jpg").write_text("not an image at all")
    photo.save(folder / "secret.jpg")
    (images / "link.jpg").symlink_to(folder / "secret.jpg")
    entries = [
        {"filename": "cat.jpg", "labels": ["cat"]},
        {"filename": "rotated.jpg", "labels": ["cat"]},
        {"filename": "deep.png", "labels": ["cat"]},
        {"filename": "rgba.png", "labels": ["cat"]},
        {"filename": "tiny.png", "labels": ["cat"]},
        {"filename": "png_named.jpg", "labels": [LONG_QUERY, "猫 café"]},
        {"filename": "truncated.jpg", "labels": ["cat"]},
        {"filename": "text.jpg", "labels": ["cat"]},
        {"filename": "../secret.jpg", "labels": ["cat"]},
        {"filename": str(folder / "secret.jpg"), "labels": ["cat"]},
        {"filename": "link.jpg", "labels": ["cat"]},
        {"filename": "missing.jpg", "labels": ["cat"]},
        {"filename": "cat.jpg", "labels": ["   "]},
        {"labels": ["cat"]},
        {"filename": "cat.jpg", "labels": ["cat"]},  # the same entry again
    ]
    (folder / "ann.json").write_text(json.dumps({"annotations": entries}))
    return images


# instance -> (status in metrics.csv, words its reason must contain)
EXPECTED_FAILURES = {
    "truncated": ["unreadable_image", "cannot be read", "truncated.jpg"],  # found writing its working copy
    "text": ["unreadable_image", "text.jpg"],
    "secret": ["outside_image_folder", "secret.jpg"],
    "secret-2": ["outside_image_folder", "secret.jpg"],
    "link": ["outside_image_folder", "secret.jpg"],
    "missing": ["missing_image", "missing.jpg"],
    "cat-2": ["no_query"],
    "entry_0013": ["bad_entry", "#13"],
}
# (every PIL mode is covered by tests/test_images.py; here a few, to keep the run short)
READABLE = [
    "cat",
    "rotated",
    "deep",
    "rgba",
    "tiny",
    "png_named__the-small-grey-cat-the-small-grey-cat-th",  # a query's id part stops at 40 characters
    "png_named__caf",
    "cat-3",
]


def one_pass_experiment(workdir):
    """The tiny-model experiment of test_workflow_models with one completion pass (this test is
    about inputs; the loop is covered elsewhere)."""
    folder = write_experiment(workdir)
    path = folder / "tiny_models.yaml"
    spec = yaml.safe_load(path.read_text())
    spec["complete"]["max_passes"] = 1
    path.write_text(yaml.safe_dump(spec))
    return folder


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("hostile")
    images = build_dataset(workdir / "data")
    config = {
        "results": "results",
        "experiments_dir": str(one_pass_experiment(workdir)),
        "experiments": ["tiny_models"],
        "models": write_tiny_checkpoints(workdir / "weights"),
        "datasets": {
            "odd": {
                "format": "seed",
                "annotations": str(workdir / "data" / "ann.json"),
                "images": str(images),
                "max_side": MAX_SIDE,
            }
        },
        "fuse": {"gpu": True},  # the model stages in one process (the same files: test_workflow_sharding)
    }
    (workdir / "config").mkdir()
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake(workdir, "--keep-going")
    return workdir


def metrics(run):
    return pd.read_csv(
        run / "results" / "tiny_models" / "odd" / "metrics.csv", dtype=str, keep_default_na=False
    ).set_index("id")


def test_every_instance_is_in_the_table(run):
    table = metrics(run)
    assert set(table.index) == set(EXPECTED_FAILURES) | set(READABLE), sorted(table.index)


@pytest.mark.parametrize("instance", sorted(EXPECTED_FAILURES))
def test_each_bad_input_is_a_failure_with_its_reason(run, instance):
    row = metrics(run).loc[instance]
    assert row["status"] == "failed"
    for word in EXPECTED_FAILURES[instance]:
        assert word in row["reason"], row["reason"]


def working_shape(run, instance):
    ground = stage_folders(run, "tiny_models", "odd", instance)["ground"]
    return io.read_mask(ground / "visible_mask.png").shape, ground / "ground.json"


@pytest.mark.parametrize("instance", READABLE)
def test_every_readable_photo_reached_the_models_on_its_upright_bounded_working_image(run, instance):
    shape, ground = working_shape(run, instance)
    assert io.read_json(ground)["backend"] == "grounded_sam"
    # 640x388 scaled to 320 wide; the rotated file is stored 388 wide and 640 high, upright as the others
    expected = {"tiny": (6, 8)}.get(instance, (194, 320))
    assert shape == expected
    row = metrics(run).loc[instance]
    assert row["status"] == "ok" or "no completion" in row["reason"] or "invalid" in row["reason"], row["reason"]


def test_the_bounded_photos_results_are_placed_in_the_photo(run):
    collected = run / "results" / "tiny_models" / "odd" / "cat"
    placement = io.read_json(collected / "placement.json")
    if placement["status"] != "ok":
        pytest.fail(f"the cat photo gave no result: {placement['reason']}")
    source = placement["source"]
    assert source["size_hw"] == [388, 640] and source["image"].endswith("images/cat.jpg")
    assert source["scale_xy"] == pytest.approx([2.0, 2.0], rel=0.01)
    (x, y), (h, w) = placement["offset_xy"], placement["size_hw"]
    assert source["offset_xy"] == [2 * x, 2 * y] and source["size_hw_in_source"] == [2 * h, 2 * w]


def test_the_failure_table_counts_the_bad_inputs(run):
    text = (run / "results" / "tiny_models" / "odd" / "table.md").read_text()
    for instance in EXPECTED_FAILURES:
        assert f"- {instance} (bad_input):" in text  # the dataset could not offer it
    assert os.path.isfile(run / "results" / "tables" / "odd.md")
