"""Instance tables from the seed, synthetic and COCO formats, including the defects real files have."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from amodal.errors import InstanceError
from amodal.datasets.coco import load_coco
from amodal.datasets.load import load_dataset
from amodal.datasets.seed import load_seed
from amodal.datasets.synthetic import synthetic_table
from amodal.datasets.table import (
    COLUMNS,
    dedupe_ids,
    get_instance,
    read_table,
    validate_table,
    write_table,
)
from amodal.datasets.lenient_json import strip_trailing_commas
from amodal.datasets.queries import instance_facts

SEED = Path(__file__).resolve().parents[1] / "data" / "seed_examples"
SEED_QUERIES = {
    "activity-8122959_640_spraypaintcan": "spray paint can",
    "bird-8951872_640_bird": "bird",
    "camera-8031914_640_camera": "camera",
    "carlos-lugo-PfIzX6BwnZs-unsplash_icecreamcone": "ice cream cone",
    "cat-7875506_640_cat": "cat",
    "coins-1015125_640_calculator": "calculator",
    "coins-1015125_640_potato": "potato",
}


def _touch_image(path: Path) -> Path:
    # The loader only checks that the file exists; it never decodes it.
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"not really a jpeg")
    return path


def _write_seed(tmp_path: Path, entries: list, text: str | None = None) -> Path:
    path = tmp_path / "annotations.json"
    path.write_text(text if text is not None else json.dumps({"annotations": entries}))
    return path


def _by_id(table: pd.DataFrame) -> dict:
    return {row["id"]: row for _, row in table.iterrows()}


# ----------------------------------------------------------------------------- shipped examples


def test_shipped_example_loads_seven_ok_instances():
    table = load_seed(SEED / "example_annotation.json", SEED)
    assert list(table.columns) == COLUMNS
    assert list(table["id"]) == list(SEED_QUERIES)  # file order
    assert dict(zip(table["id"], table["query"])) == SEED_QUERIES
    assert (table["status"] == "ok").all()
    assert (table["gt"] == "").all() and (table["message"] == "").all()
    for image in table["image"]:
        assert Path(image).is_file()
        assert Path(image).parent == SEED  # the images_example/ prefix was resolved away


def test_shipped_broken_and_valid_json_and_filename_list_agree():
    broken = load_seed(SEED / "example_annotation.json", SEED)
    valid = load_seed(SEED / "example_annotation.valid.json", SEED)
    listed = load_seed(SEED / "example_annotation.json", SEED, SEED / "img_filenames_example.txt")
    pd.testing.assert_frame_equal(broken, valid)
    pd.testing.assert_frame_equal(broken, listed)


def test_shipped_same_photo_two_queries_are_two_instances():
    table = _by_id(load_seed(SEED / "example_annotation.valid.json", SEED))
    calc, potato = table["coins-1015125_640_calculator"], table["coins-1015125_640_potato"]
    assert Path(calc["image"]).read_bytes() == Path(potato["image"]).read_bytes()
    assert (calc["query"], potato["query"]) == ("calculator", "potato")


def test_relative_images_dir_gives_relative_paths(tmp_path, monkeypatch):
    _touch_image(tmp_path / "imgs" / "a.jpg")
    ann = _write_seed(tmp_path, [{"filename": "a.jpg", "labels": ["a"]}])
    monkeypatch.chdir(tmp_path)
    table = load_seed(ann.name, "imgs")
    assert table.loc[0, "image"] == str(Path("imgs") / "a.jpg")
    assert table.loc[0, "status"] == "ok"


# ----------------------------------------------------------------------------- trailing commas


def test_trailing_commas_removed_but_commas_in_strings_kept(tmp_path):
    _touch_image(tmp_path / "a.jpg")
    text = (
        '{"annotations": [{"filename": "a.jpg", "labels": ["red car, }", "x,]",],},\n],'
        ' "note": "a \\"quoted, ]\\" word",}'
    )
    table = load_seed(_write_seed(tmp_path, [], text), tmp_path)
    assert list(table["query"]) == ["red car, }", "x,]"]
    assert list(table["id"]) == ["a__red-car", "a__x"]
    assert json.loads(strip_trailing_commas(text))["note"] == 'a "quoted, ]" word'


def test_strip_trailing_commas_keeps_line_and_column_positions():
    text = '[1,\n  2 ,\n]'
    stripped = strip_trailing_commas(text)
    assert len(stripped) == len(text) and stripped.count("\n") == 2
    assert json.loads(stripped) == [1, 2]


def test_broken_json_names_the_file_and_the_line(tmp_path):
    ann = _write_seed(tmp_path, [], '{"annotations": [\n  {"filename": "a.jpg"\n  "labels": []}\n]}')
    with pytest.raises(ValueError) as err:
        load_seed(ann, tmp_path)
    assert str(ann) in str(err.value)
    assert "line 3" in str(err.value)


def test_wrong_top_level_shape_names_the_file(tmp_path):
    ann = _write_seed(tmp_path, [], '[{"filename": "a.jpg", "labels": ["a"]}]')
    with pytest.raises(ValueError, match="annotations"):
        load_seed(ann, tmp_path)


# ----------------------------------------------------------------------------- seed defects


def test_prefix_resolved_by_relative_path_first_then_basename(tmp_path):
    images = tmp_path / "images"
    nested = _touch_image(images / "sub" / "a.jpg")
    flat_b = _touch_image(images / "b.jpg")
    _touch_image(images / "a.jpg")  # a decoy: the relative path wins over the basename
    ann = _write_seed(
        tmp_path, [{"filename": "sub/a.jpg", "labels": ["a"]}, {"filename": "images_example/b.jpg", "labels": ["b"]}]
    )
    table = _by_id(load_seed(ann, images))
    assert table["a"]["image"] == str(nested)
    assert table["b"]["image"] == str(flat_b)
    assert table["b"]["status"] == "ok"


def test_entry_with_several_labels_gives_one_instance_per_label(tmp_path):
    _touch_image(tmp_path / "desk.jpg")
    _touch_image(tmp_path / "cat.jpg")
    ann = _write_seed(
        tmp_path,
        [{"filename": "desk.jpg", "labels": ["Coffee Mug", "laptop"]}, {"filename": "cat.jpg", "labels": ["cat"]}],
    )
    table = load_seed(ann, tmp_path)
    assert list(table["id"]) == ["desk__coffee-mug", "desk__laptop", "cat"]
    assert list(table["query"]) == ["Coffee Mug", "laptop", "cat"]
    assert table["image"].iloc[0] == table["image"].iloc[1] == str(tmp_path / "desk.jpg")


def test_filename_list_without_final_newline_and_with_blank_lines(tmp_path):
    for name in "abc":
        _touch_image(tmp_path / f"{name}.jpg")
    ann = _write_seed(tmp_path, [{"filename": f"images_example/{n}.jpg", "labels": [n]} for n in "abc"])
    listing = tmp_path / "list.txt"
    listing.write_text("\n  images_example/c.jpg  \n\n\t\nimages_example/a.jpg")  # no final \n
    table = load_seed(ann, tmp_path, listing)
    assert list(table["id"]) == ["c", "a"]  # only listed files, in the list's order
    assert (table["status"] == "ok").all()


def test_filename_list_matches_annotations_by_basename(tmp_path):
    _touch_image(tmp_path / "a.jpg")
    ann = _write_seed(tmp_path, [{"filename": "images_example/a.jpg", "labels": ["a"]}])
    listing = tmp_path / "list.txt"
    listing.write_text("a.jpg\n")
    table = load_seed(ann, tmp_path, listing)
    assert list(table["status"]) == ["ok"] and list(table["query"]) == ["a"]


def test_missing_image_row_names_the_paths_and_others_stay_ok(tmp_path):
    images = tmp_path / "images"
    _touch_image(images / "a.jpg")
    ann = _write_seed(
        tmp_path, [{"filename": "a.jpg", "labels": ["a"]}, {"filename": "pre/gone.jpg", "labels": ["gone"]}]
    )
    table = _by_id(load_seed(ann, images))
    assert table["a"]["status"] == "ok"
    gone = table["gone"]
    assert gone["status"] == "missing_image"
    assert gone["query"] == "gone"
    assert str(images / "pre" / "gone.jpg") in gone["message"]
    assert str(images / "gone.jpg") in gone["message"]
    assert str(ann) in gone["message"] and "'gone'" in gone["message"]


def test_listed_file_without_annotation_is_no_annotation(tmp_path):
    _touch_image(tmp_path / "a.jpg")
    _touch_image(tmp_path / "b.jpg")
    ann = _write_seed(tmp_path, [{"filename": "a.jpg", "labels": ["a"]}])
    listing = tmp_path / "list.txt"
    listing.write_text("a.jpg\nb.jpg")
    table = _by_id(load_seed(ann, tmp_path, listing))
    assert table["a"]["status"] == "ok"
    assert table["b"]["status"] == "no_annotation"
    assert str(listing) in table["b"]["message"] and str(ann) in table["b"]["message"]
    assert table["b"]["image"] == str(tmp_path / "b.jpg")


def test_entries_without_query_or_filename_are_kept_with_a_status(tmp_path):
    for name in ("a", "b", "c"):
        _touch_image(tmp_path / f"{name}.jpg")
    ann = _write_seed(
        tmp_path,
        [
            {"filename": "a.jpg", "labels": []},
            {"filename": "b.jpg", "labels": ["  "]},
            {"filename": "c.jpg"},
            {"labels": ["orphan"]},
            {"filename": "d.jpg", "labels": "dog"},
        ],
    )
    _touch_image(tmp_path / "d.jpg")
    table = load_seed(ann, tmp_path)
    assert list(table["status"]) == ["no_query"] * 3 + ["bad_entry", "ok"]
    assert table["query"].iloc[4] == "dog"  # a lone string is one label
    assert all(str(ann) in m for m in table["message"].iloc[:4])


def test_duplicate_ids_get_deterministic_numeric_suffixes(tmp_path):
    _touch_image(tmp_path / "x" / "cat.jpg")
    _touch_image(tmp_path / "y" / "cat.jpg")
    _touch_image(tmp_path / "cat-2.jpg")
    ann = _write_seed(
        tmp_path,
        [
            {"filename": "x/cat.jpg", "labels": ["cat"]},
            {"filename": "y/cat.jpg", "labels": ["cat"]},
            {"filename": "cat-2.jpg", "labels": ["cat"]},
            {"filename": "x/cat.jpg", "labels": ["kitten"]},
        ],
    )
    first = load_seed(ann, tmp_path)
    # "cat-2" is a real stem, so the repeats must skip it rather than clash with it.
    assert list(first["id"]) == ["cat", "cat-3", "cat-2", "cat-4"]
    pd.testing.assert_frame_equal(first, load_seed(ann, tmp_path))
    validate_table(first)


def test_unsafe_filenames_become_safe_ids(tmp_path):
    _touch_image(tmp_path / "my photo (1).jpg")
    _touch_image(tmp_path / ".hidden.jpg")
    ann = _write_seed(
        tmp_path,
        [{"filename": "my photo (1).jpg", "labels": ["dog"]}, {"filename": ".hidden.jpg", "labels": ["cat", "猫"]}],
    )
    table = load_seed(ann, tmp_path)
    assert list(table["id"]) == ["my_photo_1_", "hidden__cat", "hidden__label2"]
    assert (table["status"] == "ok").all()


def test_dedupe_ids_unit():
    assert dedupe_ids(["a", "a", "a-2", "b", "a"]) == ["a", "a-3", "a-2", "b", "a-4"]


# ----------------------------------------------------------------------------- validate


def test_validate_table_names_bad_and_repeated_ids():
    good = pd.DataFrame([{c: "" for c in COLUMNS} | {"id": "a", "status": "ok"}])
    validate_table(good)
    with pytest.raises(ValueError, match=r"a b/c"):
        validate_table(good.assign(id=["a b/c"]))
    with pytest.raises(ValueError, match=r"\.\."):
        validate_table(good.assign(id=[".."]))
    with pytest.raises(ValueError, match=r"not unique: \['a'\]"):
        validate_table(pd.concat([good, good]))
    with pytest.raises(ValueError, match="query"):
        validate_table(good.drop(columns=["query"]))


def test_table_round_trip_keeps_empty_strings(tmp_path):
    table = synthetic_table(tmp_path / "syn", 2).assign(gt="")
    write_table(table, tmp_path / "table.csv")
    back = read_table(tmp_path / "table.csv")
    pd.testing.assert_frame_equal(back, table)


def test_get_instance_raises_instance_error_for_skipped_rows(tmp_path):
    ann = _write_seed(tmp_path, [{"filename": "gone.jpg", "labels": ["g"]}])
    table = load_seed(ann, tmp_path)
    with pytest.raises(InstanceError) as err:
        get_instance(table, "gone")
    assert err.value.instance == "gone" and "missing_image" in err.value.message
    with pytest.raises(KeyError, match="nope"):
        get_instance(table, "nope")


# ----------------------------------------------------------------------------- synthetic


def test_synthetic_table_ids_and_paths_without_files(tmp_path):
    out = tmp_path / "datasets" / "syn"  # does not exist: nothing may be read
    table = synthetic_table(out, 12)
    assert list(table.columns) == COLUMNS
    assert table["id"].iloc[0] == "scene_0000" and table["id"].iloc[-1] == "scene_0011"
    assert table["image"].iloc[3] == str(out / "scene_0003" / "image.png")
    assert table["gt"].iloc[3] == str(out / "scene_0003" / "scene.json")
    assert (table["query"] == "").all() and (table["status"] == "ok").all()
    assert not out.exists()
    assert synthetic_table(out, 0).empty
    with pytest.raises(ValueError, match="n_scenes"):
        synthetic_table(out, -1)


def test_a_synthetic_instances_category_is_read_from_its_scene_once_written(tmp_path):
    row = synthetic_table(tmp_path / "syn", 1).to_dict("records")[0]
    assert instance_facts(row)["category"] == ""  # the scene is not written yet
    scene = tmp_path / "syn" / "scene_0000" / "scene.json"
    scene.parent.mkdir(parents=True)
    scene.write_text(json.dumps({"query": "the red car", "category": "car", "objects": []}))
    assert instance_facts(row)["category"] == "car"
    assert instance_facts({"id": "x", "gt": "", "query": "the cat"})["category"] == ""  # a seed label is no category


# ----------------------------------------------------------------------------- COCO


def _write_coco(tmp_path: Path) -> Path:
    coco = {
        "images": [
            {"id": 1, "file_name": "000001.jpg", "width": 4, "height": 4},
            {"id": 2, "file_name": "000002.jpg", "width": 4, "height": 4},
        ],
        "categories": [{"id": 18, "name": "dog"}, {"id": 3, "name": "car"}],
        "annotations": [
            {"id": 101, "image_id": 1, "category_id": 18, "iscrowd": 0},
            {"id": 102, "image_id": 1, "category_id": 3, "iscrowd": 0},
            {"id": 103, "image_id": 1, "category_id": 3, "iscrowd": 1},
            {"id": 201, "image_id": 2, "category_id": 18, "iscrowd": 0},
        ],
    }
    path = tmp_path / "instances.json"
    path.write_text(json.dumps(coco))
    return path


def test_coco_one_instance_per_non_crowd_annotation(tmp_path):
    images = tmp_path / "images"
    _touch_image(images / "000001.jpg")  # 000002.jpg is missing
    table = load_coco(_write_coco(tmp_path), images)
    assert list(table.columns) == COLUMNS + ["ann_id", "category"]
    assert list(table["id"]) == ["000001__101", "000001__102", "000002__201"]
    assert list(table["query"]) == ["the dog", "the car", "the dog"]
    assert list(table["ann_id"]) == [101, 102, 201]
    # the category the tables break results down by comes from category_id, also for a missing image
    assert [instance_facts(row)["category"] for row in table.to_dict("records")] == ["dog", "car", "dog"]
    assert list(table["status"]) == ["ok", "ok", "missing_image"]
    assert str(images / "000002.jpg") in table["message"].iloc[2]
    assert (table["gt"] == "").all()


def test_coco_category_filter_by_name_or_id(tmp_path):
    ann = _write_coco(tmp_path)
    assert list(load_coco(ann, tmp_path, ["car"])["ann_id"]) == [102]
    assert list(load_coco(ann, tmp_path, [18])["ann_id"]) == [101, 201]
    with pytest.raises(ValueError, match="horse"):
        load_coco(ann, tmp_path, ["horse"])


# ----------------------------------------------------------------------------- dispatch


def test_load_dataset_dispatches_on_format(tmp_path):
    seed = load_dataset(
        "examples",
        {
            "format": "seed",
            "images": str(SEED),
            "annotations": str(SEED / "example_annotation.json"),
            "filenames": str(SEED / "img_filenames_example.txt"),
        },
    )
    assert len(seed) == 7
    syn = load_dataset("syn", {"format": "synthetic", "n_scenes": 2}, results_dir=tmp_path)
    assert syn["image"].iloc[1] == str(tmp_path / "datasets" / "syn" / "scene_0001" / "image.png")
    coco = load_dataset("c", {"format": "coco", "annotations": str(_write_coco(tmp_path)), "images": str(tmp_path)})
    assert len(coco) == 3


def test_load_dataset_rejects_unknown_format_and_missing_keys():
    with pytest.raises(ValueError) as err:
        load_dataset("mine", {"format": "voc"})
    assert "'mine'" in str(err.value) and all(f in str(err.value) for f in ("seed", "coco", "synthetic"))
    with pytest.raises(ValueError, match="images"):
        load_dataset("mine", {"format": "seed", "annotations": "a.json"})


def test_load_dataset_marks_an_unreadable_image_and_keeps_the_others(tmp_path):
    images = tmp_path / "imgs"
    images.mkdir()
    for name in ("a.jpg", "b.jpg"):
        (images / name).write_bytes((SEED / "cat-7875506_640_cat.jpg").read_bytes())
    (images / "b.jpg").write_bytes(b"truncated")
    annotations = tmp_path / "ann.json"
    annotations.write_text(
        json.dumps(
            {"annotations": [{"filename": "a.jpg", "labels": ["cat"]}, {"filename": "b.jpg", "labels": ["dog"]}]}
        )
    )
    table = load_dataset("mine", {"format": "seed", "annotations": str(annotations), "images": str(images)})
    rows = table.set_index("id")
    assert rows.loc["a", "status"] == "ok"
    assert rows.loc["b", "status"] == "unreadable_image"
    assert "'b'" in rows.loc["b", "message"] and "b.jpg" in rows.loc["b", "message"]


# ----------------------------------------------------------------------------- cached tables


def _seed_dataset(tmp_path: Path, names: dict) -> dict:
    """Images named in `names` (file -> bytes) and an annotation with one label each."""
    images = tmp_path / "imgs"
    images.mkdir(exist_ok=True)
    for name, data in names.items():
        (images / name).write_bytes(data)
    annotations = tmp_path / "ann.json"
    annotations.write_text(json.dumps({"annotations": [{"filename": n, "labels": ["cat"]} for n in names]}))
    return {"format": "seed", "annotations": str(annotations), "images": str(images)}


def test_the_cached_table_is_reused_and_only_changed_images_are_decoded_again(tmp_path, monkeypatch):
    from amodal.datasets import cache

    photo = (SEED / "cat-7875506_640_cat.jpg").read_bytes()
    spec = _seed_dataset(tmp_path, {"a.jpg": photo, "b.jpg": b"truncated", "c.jpg": photo})
    results = tmp_path / "results"
    decoded = []
    real = cache.probe_image_header
    monkeypatch.setattr(cache, "probe_image_header", lambda path: decoded.append(Path(path).name) or real(path))

    first = cache.load_dataset_cached("mine", spec, results)
    assert sorted(decoded) == ["a.jpg", "b.jpg", "c.jpg"]
    assert list(first["status"]) == ["ok", "unreadable_image", "ok"]
    assert (results / ".cache" / "instances" / "mine.csv").is_file()

    decoded.clear()
    again = cache.load_dataset_cached("mine", spec, results)
    assert decoded == []  # no image opened
    pd.testing.assert_frame_equal(again, first)

    (tmp_path / "imgs" / "b.jpg").write_bytes(photo)  # the broken image is replaced by a good one
    decoded.clear()
    fixed = cache.load_dataset_cached("mine", spec, results)
    assert decoded == ["b.jpg"]
    assert list(fixed["status"]) == ["ok", "ok", "ok"] and list(fixed["message"]) == ["", "", ""]

    (tmp_path / "imgs" / "c.jpg").write_bytes(b"now broken too, and of another size")
    decoded.clear()
    broken = cache.load_dataset_cached("mine", spec, results)
    assert decoded == ["c.jpg"]
    assert list(broken["status"]) == ["ok", "ok", "unreadable_image"]
    assert "'c'" in broken.loc[2, "message"] and "c.jpg" in broken.loc[2, "message"]


def test_a_changed_annotation_file_or_image_folder_rebuilds_the_cached_table(tmp_path):
    from amodal.datasets.cache import load_dataset_cached

    photo = (SEED / "cat-7875506_640_cat.jpg").read_bytes()
    spec = _seed_dataset(tmp_path, {"a.jpg": photo, "b.jpg": photo})
    results = tmp_path / "results"
    assert list(load_dataset_cached("mine", spec, results)["query"]) == ["cat", "cat"]
    annotations = Path(spec["annotations"])
    annotations.write_text(
        json.dumps(
            {"annotations": [{"filename": "a.jpg", "labels": ["dog"]}, {"filename": "b.jpg", "labels": ["cat"]}]}
        )
    )
    assert list(load_dataset_cached("mine", spec, results)["query"]) == ["dog", "cat"]  # the annotation alone changed
    (tmp_path / "imgs" / "b.jpg").unlink()  # the folder's listing changed
    table = load_dataset_cached("mine", spec, results)
    assert list(table["status"]) == ["ok", "missing_image"]


def test_validate_table_names_a_repeat_among_many_ids(tmp_path):
    # 20,000 unique ids plus one repeat: exactly the repeat is named
    ids = [f"i{k}" for k in range(20000)] + ["i7"]
    table = pd.DataFrame({"id": ids, "image": "", "query": "", "gt": "", "status": "ok", "message": ""})
    with pytest.raises(ValueError, match=r"\['i7'\]"):
        validate_table(table)


# ----------------------------------------------------------------------------- paths out of the image folder


def _escape_layout(tmp_path: Path) -> tuple[Path, Path]:
    """An image folder with one real image and a secret image beside it, outside the folder."""
    images = tmp_path / "dataset" / "images"
    _touch_image(images / "inside.jpg")
    secret = _touch_image(tmp_path / "secret.jpg")
    return images, secret


@pytest.mark.parametrize(
    "filename", ["../../secret.jpg", "sub/../../../secret.jpg", "ABSOLUTE", "link.jpg", "linked_dir/secret.jpg"]
)
def test_filenames_leading_out_of_the_image_folder_are_rejected(tmp_path, filename):
    images, secret = _escape_layout(tmp_path)
    (images / "link.jpg").symlink_to(secret)  # a file link out of the folder
    (images / "linked_dir").symlink_to(tmp_path, target_is_directory=True)  # a folder link out of it
    filename = str(secret) if filename == "ABSOLUTE" else filename
    ann = _write_seed(
        tmp_path, [{"filename": filename, "labels": ["thing"]}, {"filename": "inside.jpg", "labels": ["cup"]}]
    )
    rows = list(load_seed(ann, images).itertuples())
    assert [r.status for r in rows] == ["outside_image_folder", "ok"]
    assert "outside the image folder" in rows[0].message and str(secret) in rows[0].message
    assert rows[0].message.startswith(f"instance '{rows[0].id}'") and str(ann) in rows[0].message


def test_the_passwd_entry_of_the_issue_is_rejected_not_read(tmp_path):
    images, _ = _escape_layout(tmp_path)
    ann = _write_seed(tmp_path, [{"filename": "../../../../../../../../etc/passwd", "labels": ["x"]}])
    (row,) = list(load_seed(ann, images).itertuples())
    assert row.status == "outside_image_folder" and "/etc/passwd" in row.message


def test_a_symlink_inside_the_folder_to_a_file_inside_it_is_fine(tmp_path):
    images, _ = _escape_layout(tmp_path)
    (images / "alias.jpg").symlink_to(images / "inside.jpg")
    ann = _write_seed(tmp_path, [{"filename": "alias.jpg", "labels": ["cup"]}])
    assert list(load_seed(ann, images)["status"]) == ["ok"]


def test_an_escaping_prefix_with_a_namesake_inside_reads_the_namesake(tmp_path):
    # "../x/inside.jpg" names a file outside; the folder's own inside.jpg is what gets read
    images, _ = _escape_layout(tmp_path)
    _touch_image(tmp_path / "dataset" / "x" / "inside.jpg")
    ann = _write_seed(tmp_path, [{"filename": "../x/inside.jpg", "labels": ["cup"]}])
    (row,) = list(load_seed(ann, images).itertuples())
    assert row.status == "ok" and row.image == str(images / "inside.jpg")


def test_coco_file_names_leading_out_are_rejected(tmp_path):
    images, secret = _escape_layout(tmp_path)
    coco = {
        "images": [{"id": 1, "file_name": "../../secret.jpg"}, {"id": 2, "file_name": "inside.jpg"}],
        "categories": [{"id": 1, "name": "cup"}],
        "annotations": [{"id": 5, "image_id": 1, "category_id": 1}, {"id": 6, "image_id": 2, "category_id": 1}],
    }
    (tmp_path / "coco.json").write_text(json.dumps(coco))
    table = load_coco(tmp_path / "coco.json", images)
    assert list(table["status"]) == ["outside_image_folder", "ok"]
    assert str(secret) in table["message"].iloc[0]


def test_an_instances_facts_are_its_category_query_and_scene_difficulty(tmp_path):
    scene = tmp_path / "scene.json"
    scene.write_text(
        json.dumps(
            {
                "query": "the red car",
                "category": "car",
                "objects": [],
                "occludes": [[1, 0], [2, 0], [0, 3], [2, 1]],  # objects 1 and 2 are in front of the target
                "hidden_fraction": 0.31,
                "border_fraction": 0.0,
            }
        )
    )
    facts = instance_facts({"id": "scene_0000", "query": "", "gt": str(scene)})
    assert facts == {
        "category": "car",
        "query": "the red car",
        "hidden_fraction": 0.31,
        "occluders": 2,
        "border_fraction": 0.0,
    }
    seed = instance_facts({"id": "cat", "query": "the cat", "gt": ""})
    assert seed == {"category": "", "query": "the cat", "hidden_fraction": "", "occluders": "", "border_fraction": ""}
