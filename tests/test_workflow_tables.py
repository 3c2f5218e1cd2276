"""`snakemake tables` on a small run (3 benchmark scenes with ground truth, and a seed-format
dataset whose only photo is missing, both experiments weight-free) writes every paper table of
every dataset, the ground-truth tables only where there is ground truth, and puts them into the
visual report and Snakemake's report. Values are checked against the metrics.csv files and the
scenes' own category; the run is only read by the tests."""

import json
import zipfile
from collections import Counter

import pandas as pd
import pytest
import yaml

from workflow_helpers import EXPERIMENTS, make_workdir, snakemake

TABLES = {
    "bench": ["methods", "failures", "ground_truth", "ground_truth_by_category"],
    "photos": ["methods", "failures"],
}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = make_workdir(tmp_path_factory.mktemp("tables") / "run", n_scenes=3, shard_size=3)
    (workdir / "photos").mkdir()
    (workdir / "photos" / "ann.json").write_text(
        json.dumps({"annotations": [{"filename": "missing.jpg", "labels": ["cat"]}]})
    )
    # a test fixture in the reference format, not published figures
    (workdir / "published.yaml").write_text(
        yaml.safe_dump(
            {
                "source": "test fixture, not a paper",
                "rows": [{"label": "Fixture et al.", "metrics": {"clip_score": 12.5}, "datasets": ["bench"]}],
            }
        )
    )
    config = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
    config["datasets"]["photos"] = {
        "format": "seed",
        "annotations": str(workdir / "photos" / "ann.json"),
        "images": str(workdir / "photos"),
    }
    config["tables"] = {"bootstrap": {"resamples": 200, "seed": 3}, "reference": "published.yaml"}
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    snakemake(workdir)
    snakemake(workdir, "--report", str(workdir.parent / "report.zip"))
    return workdir


def tables_of(run, dataset):
    return run / "results" / "tables" / dataset


def metrics(run, experiment):
    return pd.read_csv(
        run / "results" / experiment / "bench" / "metrics.csv",
        keep_default_na=False,
        na_values={m: [""] for m in ("amodal_iou", "hidden_psnr", "order_accuracy", "visible_ssim")},
    )


def test_every_table_of_every_dataset_is_written(run):
    for dataset, names in TABLES.items():
        written = sorted(p.name for p in tables_of(run, dataset).iterdir())
        assert written == sorted(f"{name}.{ext}" for name in names for ext in ("csv", "md", "tex"))
        assert (run / "results" / "tables" / f"{dataset}.md").is_file()  # the comparison table too
        for name in names:
            assert (tables_of(run, dataset) / f"{name}.tex").read_text().count("\\begin{tabular}") == 1
    assert (run / "results" / "report" / "index.html").is_file()


def test_the_tables_hold_the_means_of_the_per_instance_metrics(run):
    methods = pd.read_csv(tables_of(run, "bench") / "methods.csv").set_index("experiment")
    truth = pd.read_csv(tables_of(run, "bench") / "ground_truth.csv").set_index("experiment")
    for experiment in EXPERIMENTS:
        instances = metrics(run, experiment)
        row = methods.loc[experiment]
        assert (row["n"], row["scored"], row["visible_ssim_n"]) == (3, 3, 3)
        # the classical completion copies the visible pixels: 1 exactly, a zero-width interval
        assert (row["visible_ssim_mean"], row["visible_ssim_ci_low"], row["visible_ssim_ci_high"]) == (1.0, 1.0, 1.0)
        assert row["visible_copied"] and row["clip_score_missing"]  # no weights: missing, never a number
        for metric in ("amodal_iou", "hidden_psnr", "order_accuracy"):
            values = instances[metric]
            found = truth.loc[experiment, [f"{metric}_mean", f"{metric}_ci_low", f"{metric}_ci_high"]]
            assert found.iloc[0] == pytest.approx(values.mean())
            # a resample's mean lies between the smallest and largest value (up to float rounding)
            low, high = values.min() - 1e-12, values.max() + 1e-12
            assert low <= found.iloc[1] <= found.iloc[0] <= found.iloc[2] <= high
    assert methods.loc["Fixture et al. (published)", "clip_score_mean"] == 12.5
    assert "Fixture et al. (published)" not in (tables_of(run, "photos") / "methods.md").read_text()
    failures = pd.read_csv(tables_of(run, "photos") / "failures.csv").set_index("experiment")
    assert failures["bad_input"].tolist() == [1, 1] and failures["failure_rate"].tolist() == [1.0, 1.0]


def test_the_category_breakdown_follows_the_scenes_own_categories(run):
    scenes = run / "results" / "datasets" / "bench"
    truth = Counter(json.loads(p.read_text())["category"] for p in scenes.glob("scene_*/scene.json"))
    table = pd.read_csv(tables_of(run, "bench") / "ground_truth_by_category.csv")
    for experiment in EXPERIMENTS:
        rows = table[table["experiment"] == experiment]
        assert dict(zip(rows["category"], rows["n"])) == dict(truth)
        instances = metrics(run, experiment)
        for category in truth:
            mean = rows.loc[rows["category"] == category, "amodal_iou_mean"].item()
            assert mean == pytest.approx(instances.loc[instances["category"] == category, "amodal_iou"].mean())


def test_the_reports_show_the_tables(run):
    report = run / "results" / "report"
    page = (report / "index.html").read_text()
    for dataset, names in TABLES.items():
        for name in names:
            assert f"<summary>{dataset}: {name}</summary>" in page
            assert (report / "tables" / dataset / f"{name}.tex").is_file()
    assert page.index("<summary>bench: methods</summary>") < page.index('id="strips"')
    names = zipfile.ZipFile(run.parent / "report.zip").namelist()
    for table in ("methods", "failures", "ground_truth", "ground_truth_by_category"):
        for ext in ("csv", "md", "tex"):
            assert any(name.endswith(f"/{table}.{ext}") for name in names), (table, ext)
