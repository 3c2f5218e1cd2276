"""The paper's tables (amodal.tables: bootstrap, paper_tables, paper_files, latex, reference) on
constructed records: bootstrap intervals against cases worked by hand and the binomial law of a
0/1 sample's resampled mean, failure counts, per-category means worked by hand, and every
number read back from the CSV, Markdown and LaTeX files."""

import math
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy.stats import binom

from amodal.stages import evaluate as ev
from amodal.imaging import io
from amodal.metrics import missing
from amodal.tables.bootstrap import Interval, mean_interval
from amodal.tables.latex import escape
from amodal.tables.paper_files import write_ground_truth_tables, write_paper_tables
from amodal.tables.reference import read_reference
from amodal.tables.render import aggregate_experiment

METHOD_METRICS = ["clip_score", "lpips", "feature_similarity", "visible_ssim"]
GT_METRICS = ["visible_iou", "amodal_iou", "hidden_psnr", "hidden_ssim", "hidden_lpips", "order_accuracy"]


# --- bootstrap ---------------------------------------------------------------------------------


def test_equal_values_give_a_zero_width_interval_at_the_value():
    assert mean_interval([0.1] * 7) == Interval(0.1, 0.1, 0.1, 7)
    assert mean_interval([0.3, 0.3]) == Interval(0.3, 0.3, 0.3, 2)
    assert mean_interval([]) == Interval(None, None, None, 0)
    assert mean_interval([None, float("nan")]) == Interval(None, None, None, 0)


def test_one_instance_has_a_mean_and_no_interval():
    from amodal.tables.paper_tables import cell_text

    one = mean_interval([0.987, None])
    assert one == Interval(0.987, None, None, 1)
    assert cell_text(one) == "0.987 [n/a]"  # not the zero-width 0.987 [0.987, 0.987]
    assert cell_text(mean_interval([0.5, 0.5])) == "0.500 [0.500, 0.500]"


@pytest.mark.parametrize("ones", [5, 2])
def test_a_zero_one_sample_has_the_binomial_quantiles_as_its_interval(ones):
    # The mean of 10 draws with replacement from a 0/1 sample with k ones is Binomial(10, k/10)/10,
    # so the percentile interval is that law's 2.5 % and 97.5 % quantiles (5 ones: 0.2 and 0.8,
    # since P(X <= 1) = 11/1024 < 0.025 < P(X <= 2) = 56/1024; 2 ones: 0.0 and 0.5). With 20000
    # resamples the empirical quantiles sit many standard errors inside those steps.
    values = [1.0] * ones + [0.0] * (10 - ones)
    low, high = binom.ppf([0.025, 0.975], 10, ones / 10) / 10
    for seed in (0, 1, 2):
        found = mean_interval(values, resamples=20000, seed=seed)
        assert (found.low, found.high) == (pytest.approx(low, abs=1e-12), pytest.approx(high, abs=1e-12))
        assert found.mean == pytest.approx(ones / 10) and found.n == 10
    assert ones != 5 or (low, high) == (0.2, 0.8)


def test_the_confidence_level_is_the_one_asked_for():
    # 50 %: the quartiles of Binomial(10, 0.5)/10, P(X <= 3) = 0.17 < 0.25 < P(X <= 4) = 0.38: 0.4 and 0.6
    found = mean_interval([1.0] * 5 + [0.0] * 5, resamples=20000, seed=3, confidence=0.5)
    assert (found.low, found.high) == (pytest.approx(0.4), pytest.approx(0.6))


def test_the_same_seed_gives_the_same_interval_and_another_seed_another():
    values = np.random.default_rng(11).normal(size=30).tolist()
    first, again = mean_interval(values, seed=4), mean_interval(values, seed=4)
    other = mean_interval(values, seed=5)
    assert first == again
    assert (first.low, first.high) != (other.low, other.high)
    assert first.mean == other.mean == pytest.approx(np.mean(values))


def test_the_interval_agrees_with_an_independent_numpy_bootstrap():
    values = np.random.default_rng(12).normal(size=30)
    found = mean_interval(values.tolist(), resamples=20000, seed=7)
    rng = np.random.default_rng(99)  # another stream: agreement within Monte Carlo error only
    means = values[rng.integers(0, values.size, (20000, values.size))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    # a 2.5 % quantile of 20000 resampled means (sd ~0.18) has a standard error of ~0.004
    assert found.low == pytest.approx(low, abs=0.02) and found.high == pytest.approx(high, abs=0.02)
    assert found.low < values.mean() < found.high


# --- constructed records -------------------------------------------------------------------------


def counts(intersection, union):
    return {"intersection": intersection, "union": union, "pred_pixels": union, "gt_pixels": union}


def gt_record(visible, amodal, psnr, ssim, correct, pairs, hidden_lpips=0.5, clip=None):
    """A scored instance with ground truth; IoUs as (intersection, union), order as correct / pairs."""
    record = ev._empty_record("ok", None, None)
    record.update(
        has_ground_truth=True,
        visible=counts(*visible),
        amodal=counts(*amodal),
        amodal_in_frame=counts(*amodal),
        hidden={"hidden_pixels": 100, "sse": 300.0, "psnr": psnr, "ssim_sum": 100 * ssim, "ssim": ssim},
        visible_consistency={"visible_pixels": 50, "changed_pixels": 3, "ssim_sum": 45.0, "ssim": 0.9},
        order={"tp": correct, "tn": 0, "fp": pairs - correct, "fn": 0, "pairs": pairs},
        hidden_lpips={"value": hidden_lpips},
        lpips={"value": 0.25},
        feature_similarity={"value": 0.75},
        clip_score={"value": 30.0} if clip is None else clip,
        versions={"amodal": "0.1.0", "torch": "2.14.1"},
    )
    record["metrics"] = ev.record_ratios(record)
    return record


def aggregated(tmp_path, name, records: dict, *, not_ok=(), instances=None):
    """Write each record as the collect step would, then the aggregate step's files."""
    folder = tmp_path / name
    paths = []
    for instance, record in records.items():
        io.write_json(folder / instance / "metrics.json", record)
        paths.append(folder / instance / "metrics.json")
    aggregate_experiment(
        paths,
        not_ok=list(not_ok),
        experiment=name,
        dataset="d",
        description=f"{name} described",
        csv_path=folder / "metrics.csv",
        table_path=folder / "table.md",
        summary_path=folder / "summary.json",
        instances=instances,
    )
    return folder / "summary.json", folder / "metrics.csv"


def outputs(folder, names):
    return {f"{n}_{ext}": folder / f"{n}.{ext}" for n in names for ext in ("csv", "md", "tex")}


def markdown_rows(path):
    """The Markdown table as {first cell (and second, for two-key tables): cells by header}."""
    lines = [line for line in path.read_text().splitlines() if line.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    return header, [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]


def latex_rows(path):
    text = path.read_text()
    body = text.split("\\midrule\n", 1)[1].split("\\bottomrule")[0]
    lines = [line for line in body.splitlines() if line and line != "\\midrule"]
    return [[c.strip().replace("\\_", "_") for c in line.removesuffix(" \\\\").split(" & ")] for line in lines]


def numbers(cell):
    """'0.625 [0.500, 0.750]' -> (0.625, 0.5, 0.75)."""
    return tuple(float(x) for x in re.findall(r"-?\d+\.\d+", cell))


# --- failures ----------------------------------------------------------------------------------


def test_the_failures_table_counts_every_kind(tmp_path):
    records = {
        "a": gt_record((1, 2), (1, 2), 20.0, 0.5, 1, 1),
        "b": gt_record((1, 2), (1, 2), 20.0, 0.5, 1, 1),
        "c": ev.failed_record("no pixel", "empty_mask"),
        "d": ev.failed_record("score 0.1", "grounding_failure"),
        "e": ev.failed_record("crashed"),  # no kind given: a stage failure
        "f": ev.failed_record("nothing to deliver", "no_output"),
        "g": ev.failed_record("nothing to deliver", "no_output"),
    }
    first = aggregated(tmp_path, "first", records, not_ok=[{"id": "h", "status": "missing_image", "message": "gone"}])
    second = aggregated(tmp_path, "second", {"a": records["a"]})
    write_paper_tables(
        *zip(first, second),
        experiments=["first", "second"],
        settings={},
        dataset="d",
        outputs=outputs(tmp_path / "out", ["methods", "failures"]),
    )
    table = pd.read_csv(tmp_path / "out" / "failures.csv").set_index("experiment")
    assert list(table.columns) == [
        "n",
        "failures",
        "failure_rate",
        "bad_input",
        "stage_failure",
        "remote_failed",
        "empty_mask",
        "grounding_failure",
        "no_output",
        "too_large",
        "out_of_memory",
        "killed",
    ]
    assert table.loc["first"].to_dict() == {
        "n": 8,
        "failures": 6,
        "failure_rate": 0.75,
        "bad_input": 1,
        "stage_failure": 1,
        "remote_failed": 0,
        "empty_mask": 1,
        "grounding_failure": 1,
        "no_output": 2,
        "too_large": 0,
        "out_of_memory": 0,
        "killed": 0,
    }
    assert table.loc["second"].to_dict() == {
        "n": 1,
        "failures": 0,
        "failure_rate": 0.0,
        "bad_input": 0,
        "stage_failure": 0,
        "remote_failed": 0,
        "empty_mask": 0,
        "grounding_failure": 0,
        "no_output": 0,
        "too_large": 0,
        "out_of_memory": 0,
        "killed": 0,
    }
    header, rows = markdown_rows(tmp_path / "out" / "failures.md")
    assert header == ["experiment", *table.columns]
    assert rows[0] == ["first", "8", "6", "0.750", "1", "1", "0", "1", "1", "2", "0", "0", "0"]
    assert latex_rows(tmp_path / "out" / "failures.tex") == rows
    text = (tmp_path / "out" / "failures.md").read_text()
    assert "- **failure_rate**: Failed instances / all instances" in text  # its definition, written once


# --- methods -----------------------------------------------------------------------------------


def test_the_methods_table_gives_means_with_intervals_and_keeps_missing_metrics_missing(tmp_path):
    scored = {
        "a": gt_record((1, 2), (1, 2), 20.0, 0.5, 1, 1, clip={"value": 20.0}),
        "b": gt_record((1, 2), (1, 2), 20.0, 0.5, 1, 1, clip={"value": 30.0}),
        "c": ev.failed_record("crashed"),
    }
    without_clip = {
        "a": gt_record((1, 2), (1, 2), 20.0, 0.5, 1, 1, clip=missing("no CLIP at /w/clip.pt")),
        "b": gt_record((1, 2), (1, 2), 20.0, 0.5, 1, 1),
    }
    reference = tmp_path / "published.yaml"
    reference.write_text(
        yaml.safe_dump(
            {
                "source": "Example et al., a test fixture, not a paper",
                "rows": [
                    {"label": "Example et al.", "metrics": {"clip_score": 28.0, "lpips": 0.3}},
                    {"label": "Elsewhere only", "metrics": {"clip_score": 1.0}, "datasets": ["other"]},
                ],
            }
        )
    )
    files = [aggregated(tmp_path, "with_clip", scored), aggregated(tmp_path, "no_clip", without_clip)]
    settings = {"with_clip": {"file": "config/experiments/with_clip.yaml", "description": "CLIP everywhere"}}
    out = tmp_path / "out"
    write_paper_tables(
        *zip(*files),
        experiments=["with_clip", "no_clip"],
        settings=settings,
        dataset="d",
        outputs=outputs(out, ["methods", "failures"]),
        bootstrap_settings={"resamples": 2000, "seed": 1},
        reference=reference,
    )
    number_columns = ["n", "scored"] + [f"{m}_{k}" for m in METHOD_METRICS for k in ("mean", "ci_low", "ci_high", "n")]
    table = pd.read_csv(out / "methods.csv", keep_default_na=False, na_values={c: [""] for c in number_columns})
    table = table.set_index("experiment")
    # two CLIP scores, 20 and 30: the resampled means are 20, 25, 30 with probabilities 1/4, 1/2, 1/4
    clip = table.loc["with_clip", ["clip_score_mean", "clip_score_ci_low", "clip_score_ci_high", "clip_score_n"]]
    assert clip.tolist() == [25.0, 20.0, 30.0, 2]
    assert table.loc["with_clip", ["n", "scored"]].tolist() == [3, 2]
    assert table.loc["with_clip", "lpips_ci_low"] == table.loc["with_clip", "lpips_ci_high"] == 0.25
    assert table.loc["with_clip", "description"] == "CLIP everywhere"
    # one instance without its network: the dataset value is missing with the reason, never a number
    assert math.isnan(table.loc["no_clip", "clip_score_mean"]) and table.loc["no_clip", "clip_score_n"] == 0
    assert table.loc["no_clip", "clip_score_missing"] == "no CLIP at /w/clip.pt"
    # the published row: labelled, its source kept, no interval; the row for another dataset left out
    published = table.loc["Example et al. (published)"]
    assert published["kind"] == "published" and published["clip_score_mean"] == 28.0
    assert published["source"] == "Example et al., a test fixture, not a paper"
    assert math.isnan(published["clip_score_ci_low"]) and "Elsewhere only (published)" not in table.index

    header, rows = markdown_rows(out / "methods.md")
    assert header == ["experiment", "n", "scored", *METHOD_METRICS]
    by_name = {row[0]: dict(zip(header, row)) for row in rows}
    assert by_name["no_clip"]["clip_score"] == "missing"
    assert by_name["Example et al. (published)"]["clip_score"] == "28.000"
    assert by_name["Example et al. (published)"]["feature_similarity"] == ""
    for name in ("with_clip", "no_clip"):  # every printed number is the CSV's, rounded
        for metric in METHOD_METRICS:
            if by_name[name][metric] != "missing":
                expected = table.loc[name, [f"{metric}_mean", f"{metric}_ci_low", f"{metric}_ci_high"]]
                assert numbers(by_name[name][metric]) == tuple(round(float(v), 3) for v in expected)
    assert latex_rows(out / "methods.tex") == rows
    text = (out / "methods.md").read_text()
    assert "- clip_score (no_clip): no CLIP at /w/clip.pt" in text
    assert "- **with_clip** (`config/experiments/with_clip.yaml`): CLIP everywhere" in text
    assert "Example et al. (published): Example et al., a test fixture, not a paper." in text
    assert "2000 resamples, seed 1" in text and "95 % confidence interval" in text
    assert "- **clip_score**: Reference-free (the paper's headline)" in text
    assert "amodal 0.1.0, torch 2.14.1 (as the evaluate stage recorded them)" in text
    assert "hidden_psnr" not in text  # only the definitions of the metrics shown
    tex = (out / "methods.tex").read_text()
    assert tex.startswith("% d: methods") and "% - clip_score (no_clip): no CLIP at /w/clip.pt" in tex
    assert "\\begin{tabular}{lrrllll}" in tex and tex.count("\\midrule") == 2  # header, then the published rows
    assert "with\\_clip" in tex


def test_the_interval_does_not_depend_on_the_order_of_the_rows(tmp_path):
    values = {"a": 0.2, "b": 0.9, "c": 0.4, "d": 0.7}
    made = []
    for name, order in (("forward", "abcd"), ("backward", "dcba")):
        made.append(aggregated(tmp_path, name, {i: gt_record((1, 2), (1, 2), 20.0, values[i], 1, 1) for i in order}))
    write_ground_truth_tables(
        *zip(*made),
        experiments=["forward", "backward"],
        settings={},
        dataset="d",
        outputs=outputs(tmp_path / "out", ["ground_truth", "ground_truth_by_category"]),
    )
    table = pd.read_csv(tmp_path / "out" / "ground_truth.csv").set_index("experiment")
    assert table.loc["forward"].equals(table.loc["backward"])


# --- ground truth ------------------------------------------------------------------------------


def test_the_ground_truth_tables_break_means_down_by_category(tmp_path):
    # cars: visible IoU 1/2 and 3/4, PSNR 20 and 30, order 1/2 and 2/2; the dog: 1/4, 10, 0/1.
    records = {
        "car1": gt_record((1, 2), (1, 4), 20.0, 0.5, 1, 2, hidden_lpips=0.25),
        "car2": gt_record((3, 4), (3, 4), 30.0, 0.7, 2, 2, hidden_lpips=0.75),
        "dog1": gt_record((1, 4), (1, 1), 10.0, 0.1, 0, 1, hidden_lpips=0.5),
        "dog2": ev.failed_record("crashed"),
    }
    scene = tmp_path / "scenes" / "dog2" / "scene.json"
    io.write_json(scene, {"category": "dog", "query": "the dog"})
    instances = {
        "car1": {"category": "car"},
        "car2": {"category": "car"},
        "dog1": {"category": "dog"},
        "dog2": {"gt": str(scene)},
    }  # a COCO-style column, or a synthetic scene's file
    made = aggregated(tmp_path, "exp", records, instances=instances)
    assert list(pd.read_csv(made[1])["category"]) == ["car", "car", "dog", "dog"]
    out = tmp_path / "out"
    write_ground_truth_tables(
        [made[0]],
        [made[1]],
        experiments=["exp"],
        settings={},
        dataset="d",
        outputs=outputs(out, ["ground_truth", "ground_truth_by_category"]),
        bootstrap_settings={"resamples": 1000, "seed": 0},
    )
    by_category = pd.read_csv(out / "ground_truth_by_category.csv").set_index("category")
    car, dog = by_category.loc["car"], by_category.loc["dog"]
    assert (car["n"], car["scored"], dog["n"], dog["scored"]) == (2, 2, 2, 1)
    # two values: the resampled means are the lower value, the mean and the higher value with
    # probabilities 1/4, 1/2, 1/4, so the 95 % interval runs from the lower to the higher value
    expected_car = {
        "visible_iou": (0.625, 0.5, 0.75),
        "amodal_iou": (0.5, 0.25, 0.75),
        "hidden_psnr": (25.0, 20.0, 30.0),
        "hidden_ssim": (0.6, 0.5, 0.7),
        "hidden_lpips": (0.5, 0.25, 0.75),
        "order_accuracy": (0.75, 0.5, 1.0),
    }
    expected_dog = {
        "visible_iou": 0.25,
        "amodal_iou": 1.0,
        "hidden_psnr": 10.0,
        "hidden_ssim": 0.1,
        "hidden_lpips": 0.5,
        "order_accuracy": 0.0,
    }
    for metric in GT_METRICS:
        found = tuple(car[[f"{metric}_mean", f"{metric}_ci_low", f"{metric}_ci_high"]])
        assert found == pytest.approx(expected_car[metric]), metric
        # one scored dog: its mean, and no interval
        assert dog[f"{metric}_mean"] == pytest.approx(expected_dog[metric]), metric
        assert dog[[f"{metric}_ci_low", f"{metric}_ci_high"]].isna().all(), metric
    overall = pd.read_csv(out / "ground_truth.csv").set_index("experiment").loc["exp"]
    assert overall["visible_iou_mean"] == pytest.approx((0.5 + 0.75 + 0.25) / 3)
    assert (overall["n"], overall["scored"], overall["order_accuracy_n"]) == (4, 3, 3)

    header, rows = markdown_rows(out / "ground_truth_by_category.md")
    assert header == ["experiment", "category", "n", "scored", *GT_METRICS]
    assert [row[:4] for row in rows] == [["exp", "car", "2", "2"], ["exp", "dog", "2", "1"]]
    assert numbers(rows[0][4]) == (0.625, 0.5, 0.75) and rows[1][6] == "10.000 [n/a]"  # one scored dog
    assert latex_rows(out / "ground_truth_by_category.tex") == rows
    _, overall_rows = markdown_rows(out / "ground_truth.md")
    assert numbers(overall_rows[0][3]) == tuple(
        round(overall[c], 3) for c in ("visible_iou_mean", "visible_iou_ci_low", "visible_iou_ci_high")
    )


# --- files -------------------------------------------------------------------------------------


def test_latex_escapes_what_it_must():
    assert (
        escape("a_b & 50% #1 {x} $y ~ ^ \\")
        == r"a\_b \& 50\% \#1 \{x\} \$y \textasciitilde{} \textasciicircum{} \textbackslash{}"
    )


def test_a_reference_file_names_what_is_wrong(tmp_path):
    path = tmp_path / "ref.yaml"
    path.write_text(yaml.safe_dump({"source": "s", "rows": [{"label": "x", "metrics": {"fid": 3.0}}]}))
    with pytest.raises(ValueError, match=r"ref.yaml, row 1: unknown metrics \['fid'\]"):
        read_reference(path, tuple(METHOD_METRICS))
    path.write_text(yaml.safe_dump({"rows": [{"label": "x", "metrics": {"lpips": 0.3}}]}))
    with pytest.raises(ValueError, match="needs a 'source'"):
        read_reference(path, tuple(METHOD_METRICS))
    path.write_text(yaml.safe_dump({"source": "s", "rows": [{"label": "x (published)", "metrics": {"lpips": 0.3}}]}))
    (row,) = read_reference(path, tuple(METHOD_METRICS))
    assert row.label == "x (published)" and row.metrics == {"lpips": 0.3} and row.datasets is None
