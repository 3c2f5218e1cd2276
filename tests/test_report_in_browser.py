"""The visual report in a real browser: a small workflow run (4 scenes, one with a corrupt photo,
and a dataset whose only photo is missing) writes results/report/; headless Chromium opens it
with `?selftest=...`, which sets the page's controls, walks every page and writes what it
showed (strip order, each experiment's status, reason and picture count, images that loaded
or not) into the DOM. Orders and subsets are computed here from the metrics.csv files."""

import html
import json
import math
import re
import shutil
import subprocess
import tempfile
import urllib.parse
import zipfile

import pandas as pd
import pytest
import yaml
from PIL import Image

from workflow_helpers import EXPERIMENTS, make_workdir, snakemake

DATASETS = ["bench", "photos"]
BROWSER = "chromium"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = make_workdir(tmp_path_factory.mktemp("report") / "run", n_scenes=4, shard_size=3)
    (workdir / "photos").mkdir()
    (workdir / "photos" / "ann.json").write_text(
        json.dumps({"annotations": [{"filename": "missing.jpg", "labels": ["cat"]}]})
    )
    config = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
    config["datasets"]["photos"] = {
        "format": "seed",
        "annotations": str(workdir / "photos" / "ann.json"),
        "images": str(workdir / "photos"),
    }
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake(workdir, "results/shards/bench/scenes/synthetic/s00000.json")
    (workdir / "results" / "datasets" / "bench" / "scene_0001" / "image.png").write_bytes(b"not a png")
    snakemake(workdir)
    return workdir


def records(workdir) -> dict:
    """(experiment, dataset) -> that experiment's metrics.csv, by instance id."""
    return {
        (e, d): pd.read_csv(
            workdir / "results" / e / d / "metrics.csv",
            keep_default_na=False,
            na_values={m: [""] for m in ("hidden_psnr", "amodal_iou", "order_accuracy")},
        ).set_index("id")
        for e in EXPERIMENTS
        for d in DATASETS
    }


def expected(
    tables, experiment, *, sort="id", desc=False, status="", metric=None, lo=None, hi=None, search="", dataset=None
) -> list[str]:
    """The page's documented order: by one experiment's metric, instances without a value last,
    ties (and the id order) by dataset, then id."""
    rows = []
    for d in DATASETS:
        for instance, row in tables[(experiment, d)].iterrows():
            if dataset and d != dataset:
                continue
            if status == "!ok" and row["status"] == "ok" or status not in ("", "!ok") and row["status"] != status:
                continue
            if metric is not None:
                value = row[metric]
                if math.isnan(value) or (lo is not None and value < lo) or (hi is not None and value > hi):
                    continue
            if search and search not in instance:
                continue
            rows.append((DATASETS.index(d), instance, math.nan if sort == "id" else row[sort]))
    identity = sorted(rows, key=lambda r: (r[0], r[1]))
    if sort == "id":
        ordered = identity[::-1] if desc else identity
    else:
        ordered = sorted([r for r in identity if not math.isnan(r[2])], key=lambda r: r[2], reverse=desc)
        ordered += [r for r in identity if math.isnan(r[2])]
    return [f"{DATASETS[r[0]]}/{r[1]}" for r in ordered]


def browse(report_dir, scenarios) -> dict:
    """Open the report headless with the given scenarios; the page's self-test result."""
    if shutil.which(BROWSER) is None:
        pytest.fail(
            f"{BROWSER} is not installed: the visual report is checked in a real browser. "
            f"Install it with `apt-get install -y chromium` (CI's .ci/run does, as root)."
        )
    url = (report_dir / "index.html").as_uri() + "?selftest=" + urllib.parse.quote(json.dumps({"scenarios": scenarios}))
    with tempfile.TemporaryDirectory() as profile:  # a fresh browser profile per call
        done = subprocess.run(
            [
                BROWSER,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                f"--user-data-dir={profile}",
                "--virtual-time-budget=60000",
                "--dump-dom",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    found = re.search(r'<pre id="selftest">(.*?)</pre>', done.stdout, re.S)
    assert found, (
        f"the page wrote no self-test result (exit {done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    )
    result = json.loads(html.unescape(found.group(1)))
    assert "error" not in result, result["error"]
    return {scenario["name"]: scenario for scenario in result["scenarios"]}


def readable(path) -> bool:
    try:
        with Image.open(path) as im:
            im.load()
        return im.size[0] > 1
    except OSError:
        return False


def pictures_of_run(workdir, experiment, dataset, instance) -> int:
    """Pictures one experiment's row must show, counted from its files: the result, the visible
    mask and the occluders (over a readable photo), two per inpainting pass."""
    folder = workdir / "results" / experiment / dataset / instance
    if not (folder / "stages.json").exists():
        return 0
    stages = json.loads((folder / "stages.json").read_text())
    photo = readable(workdir / "results" / "datasets" / dataset / instance / "image.png")
    count = int(readable(folder / "amodal.png"))
    count += 2 * int(photo and readable(workdir / stages["ground"] / "visible_mask.png"))
    passes = workdir / stages["complete"] / "iterations"
    return count + 2 * len([p for p in passes.iterdir() if readable(p / "input.png")])


def test_every_picture_loads_and_sort_filter_and_pages_follow_the_records(run):
    tables = records(run)
    ok = tables[("oracle_order", "bench")].query("status == 'ok'")
    window = sorted(ok["amodal_iou"])[1:]  # an amodal IoU range that leaves one ok instance out
    seen = browse(
        run / "results" / "report",
        [
            {"name": "all", "controls": {"f-pagesize": "2"}},
            {"name": "id down", "controls": {"f-order": "desc"}},
            {
                "name": "psnr down",
                "controls": {"f-experiment": "oracle_order", "f-sort": "hidden_psnr", "f-order": "desc"},
            },
            {"name": "order up", "controls": {"f-sort": "order_accuracy", "f-pagesize": "3"}},
            {"name": "failed", "controls": {"f-status": "!ok", "f-sort": "amodal_iou"}},
            {
                "name": "window",
                "controls": {
                    "f-experiment": "oracle_order",
                    "f-status": "ok",
                    "f-metric": "amodal_iou",
                    "f-min": str(window[0]),
                    "f-max": str(window[-1]),
                    "f-sort": "amodal_iou",
                },
            },
            {"name": "one", "controls": {"f-dataset": "bench", "f-search": "0002"}, "show": ["oracle_order"]},
        ],
    )

    everything = seen["all"]
    assert (
        everything["ids"]
        == expected(tables, "baseline_classical")
        == ["bench/scene_0000", "bench/scene_0001", "bench/scene_0002", "bench/scene_0003", "photos/missing"]
    )
    assert everything["pages"] == 3 and everything["count"] == "5 of 5 instances"
    assert everything["failed"] == []
    for instance in everything["ids"]:
        dataset, name = instance.split("/")
        rows = everything["runs"][instance]
        assert [r["experiment"] for r in rows] == EXPERIMENTS
        for row in rows:
            record = tables[(row["experiment"], dataset)].loc[name]
            assert (row["status"], row["reason"]) == (record["status"], record["reason"])
            assert row["images"] == pictures_of_run(run, row["experiment"], dataset, name)
    # + the shared row: photo, true whole object, true amodal mask for the readable scenes; the
    # corrupt scene keeps its true whole object; the missing photo has nothing
    shared = 3 * 3 + 1
    assert everything["loaded"] == shared + sum(r["images"] for rows in everything["runs"].values() for r in rows)
    assert everything["runs"]["bench/scene_0000"][0]["images"] >= 5  # result, masks, one pass at least
    assert "missing.jpg" in everything["runs"]["photos/missing"][0]["reason"]

    assert seen["id down"]["ids"] == expected(tables, "baseline_classical", desc=True)
    assert seen["psnr down"]["ids"] == expected(tables, "oracle_order", sort="hidden_psnr", desc=True)
    assert seen["order up"]["ids"] == expected(tables, "baseline_classical", sort="order_accuracy")
    assert seen["order up"]["pages"] == 2
    assert (
        seen["failed"]["ids"]
        == expected(tables, "baseline_classical", status="!ok", sort="amodal_iou")
        == ["bench/scene_0001", "photos/missing"]
    )
    assert seen["window"]["ids"] == expected(
        tables, "oracle_order", status="ok", metric="amodal_iou", lo=window[0], hi=window[-1], sort="amodal_iou"
    )
    assert len(seen["window"]["ids"]) == len(ok) - 1
    assert seen["one"]["ids"] == ["bench/scene_0002"]
    assert [r["experiment"] for r in seen["one"]["runs"]["bench/scene_0002"]] == ["oracle_order"]


def test_a_picture_that_does_not_load_is_reported(run, tmp_path):
    copy = tmp_path / "report"
    shutil.copytree(run / "results" / "report", copy)
    data = json.loads((copy / "data.js").read_text().split("=", 1)[1].rstrip().rstrip(";"))
    first = next(i for i in data["instances"] if i["id"] == "scene_0000")
    gone = first["runs"]["baseline_classical"]["tiles"][0]["src"]
    (copy / gone).unlink()
    seen = browse(copy, [{"name": "all", "controls": {"f-pagesize": "100"}}])["all"]
    # the same picture may serve both experiments (they share the result file's contents)
    assert set(seen["failed"]) == {gone} and seen["failed"]


def test_the_tables_come_first_and_the_folder_is_self_contained(run):
    report = run / "results" / "report"
    page = (report / "index.html").read_text()
    assert page.index("bench: experiments compared") < page.index('id="strips"')
    for experiment in EXPERIMENTS:
        assert f"<summary>{experiment} on bench</summary>" in page
        assert (report / "tables" / experiment / "bench" / "metrics.csv").read_bytes() == (
            run / "results" / experiment / "bench" / "metrics.csv"
        ).read_bytes()
    # nothing from elsewhere: every link, script, stylesheet and picture is a file of the folder
    links = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert {"report.css", "data.js", "report.js", "tables/bench.csv"} <= set(links)
    assert all(link.startswith("#") or (report / link).is_file() for link in links), links
    script = (report / "report.js").read_text()
    assert not re.search(r"https?:|fetch\(|XMLHttpRequest|import\(", script)
    data = json.loads((report / "data.js").read_text().split("=", 1)[1].rstrip().rstrip(";"))
    sources = {t["src"] for i in data["instances"] for t in [i["photo"] or {}, *i["truth"]] if t} | {
        t["src"] for i in data["instances"] for r in i["runs"].values() for t in r["tiles"]
    }
    assert sources and all((report / s).is_file() and not s.startswith(("/", "..")) for s in sources)


def test_snakemake_report_holds_the_tables_and_the_visual_report(run, tmp_path):
    target = tmp_path / "report.zip"
    snakemake(run, "--report", str(target))
    names = zipfile.ZipFile(target).namelist()
    for table in ("bench.md", "bench.csv", "photos.md", "table.md", "metrics.csv"):
        assert any(name.endswith("/" + table) for name in names), table
    assert any(name.endswith("/index.html") for name in names)
    assert any("/thumbs/" in name for name in names)
