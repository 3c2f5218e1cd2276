"""The model backends through the real workflow, on the CPU, with tiny random-weight checkpoints
of the real architectures: 2 of the seed's example photos (no ground truth) and 2 benchmark
scenes. The outputs are noise; every file, shape, range and record is checked."""

import json
import re

import pytest
import yaml

from amodal.imaging import io
from workflow_helpers import ROOT, run_with_tiny_models, stage_folders

EXPERIMENT = {
    "description": "Tiny random-weight models on the CPU (tests).",
    "ground": {
        "backend": "grounded_sam",
        "grounded_sam": {"sam": "sam_vit_b", "box_threshold": 0.0, "text_threshold": 0.0},
    },
    "tag": {"backend": "clip_vocab", "clip_vocab": {"top_k": 3, "min_probability": 0.0}},
    "segment": {
        "backend": "grounded_sam",
        "grounded_sam": {"sam": "sam_vit_b", "box_threshold": 0.3, "text_threshold": 0.0},
    },
    "order": {"backend": "geometric"},
    "prompt": {"backend": "clip"},
    "complete": {
        "backend": "diffusers",
        "size": 64,
        "max_passes": 2,
        "diffusers": {"steps": 2, "dtype": "float32", "seed": 7},
    },
}
EXAMPLES = ["cat-7875506_640_cat", "bird-8951872_640_bird"]
COCO = set((ROOT / "src" / "amodal" / "data" / "vocabulary_coco.txt").read_text().split("\n"))


def write_experiment(folder):
    (folder / "experiments").mkdir(exist_ok=True)
    (folder / "experiments" / "tiny_models.yaml").write_text(yaml.safe_dump(EXPERIMENT))
    return folder / "experiments"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("models")
    return run_with_tiny_models(workdir, "tiny_models", write_experiment(workdir), EXAMPLES, scene_seed=3)


def stage_files(workdir, dataset, instance):
    return stage_folders(workdir, "tiny_models", dataset, instance)


@pytest.mark.parametrize(
    "dataset,instance",
    [("examples", EXAMPLES[0]), ("examples", EXAMPLES[1]), ("bench", "scene_0000"), ("bench", "scene_0001")],
)
def test_every_stage_of_every_instance_wrote_its_records(run, dataset, instance):
    folders = stage_files(run, dataset, instance)
    image = io.read_rgb(
        run / "results" / "datasets" / "bench" / instance / "image.png"
        if dataset == "bench"
        else ROOT / "data" / "seed_examples" / f"{instance}.jpg"
    )

    ground = io.read_json(folders["ground"] / "ground.json")
    visible = io.read_mask(folders["ground"] / "visible_mask.png")
    assert ground["backend"] == "grounded_sam" and ground["detections"] == 12  # box threshold 0: every query
    assert 0.0 <= ground["score"] <= 1.0 and ground["status"] in ("ok", "invalid_query")
    assert visible.shape == image.shape[:2] and ground["area"] == int(visible.sum())
    x0, y0, x1, y1 = ground["detector_box_xyxy"]
    assert 0 <= x0 <= x1 <= image.shape[1] and 0 <= y0 <= y1 <= image.shape[0]

    tags = io.read_json(folders["tag"] / "tags.json")
    assert tags["backend"] == "clip_vocab" and tags["tags"][-1] == "background"
    assert len(tags["tags"]) == 4 and set(tags["tags"][:-1]) <= COCO

    segments = io.read_json(folders["segment"] / "segments.json")
    masks = io.read_segments(folders["segment"] / "segments.npz").stacked()
    assert segments["backend"] == "grounded_sam"
    assert segments["caption"] == ". ".join(tags["tags"]) + "."  # the seed's caption of the tags
    assert masks.shape == (len(segments["segments"]),) + image.shape[:2]
    for record, mask in zip(segments["segments"], masks):
        assert record["kind"] in ("object", "background") and mask.any()

    prompt = io.read_json(folders["prompt"] / "prompt.json")
    assert prompt["backend"] == "clip"
    probabilities = prompt["candidates"]
    assert set(tags["tags"]) < set(probabilities) and abs(sum(probabilities.values()) - 1) < 1e-6
    assert prompt["prompt"] == max(probabilities, key=probabilities.get)

    complete = io.read_json(folders["complete"] / "complete.json")
    assert complete["status"] in ("completed", "not_occluded", "invalid_query") and complete["backend"] == "diffusers"
    if complete["status"] == "completed" and complete["passes"]:
        crop = complete["crop"]
        first = io.read_rgb(folders["complete"] / "iterations" / "0" / "completion.png")
        assert first.shape[:2] == (crop["y1"] - crop["y0"], crop["x1"] - crop["x0"])
        for record in complete["pass_log"]:
            assert {"segments", "occluders", "amodal_segment"} <= set(record)
    metrics = io.read_json(run / "results" / "tiny_models" / dataset / instance / "metrics.json")
    assert metrics["status"] in ("ok", "failed")
    if dataset == "examples":
        assert metrics["has_ground_truth"] is False and metrics["amodal"] is None


def test_the_queries_reach_the_models(run):
    # the seed example's query is its label; the benchmark's lives in its scene file
    cat = io.read_json(stage_files(run, "examples", EXAMPLES[0])["prompt"] / "prompt.json")
    assert "cat" in cat["candidates"]
    scene = json.loads((run / "results" / "datasets" / "bench" / "scene_0000" / "scene.json").read_text())
    bench = io.read_json(stage_files(run, "bench", "scene_0000")["prompt"] / "prompt.json")
    assert scene["query"].removeprefix("the ") in bench["candidates"]


def test_tables_cover_both_datasets_and_gt_metrics_are_not_applicable_without_ground_truth(run):
    examples = (run / "results" / "tables" / "examples.md").read_text()
    assert "| tiny_models | 2 |" in examples
    row = next(line for line in examples.splitlines() if line.startswith("| tiny_models"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    header = next(line for line in examples.splitlines() if line.startswith("| experiment"))
    names = [c.strip() for c in header.strip("|").split("|")]
    assert cells[names.index("amodal_iou")] == "n/a"
    assert (run / "results" / "tables" / "bench.md").is_file()


def test_model_stages_ran_in_shards_on_a_machine_without_a_gpu(run):
    manifests = run / "results" / "shards" / "examples"
    for stage in ("ground", "tag", "segment", "prompt"):
        (manifest,) = list((manifests / stage).glob("*/s00000.json"))
        assert set(json.loads(manifest.read_text())["instances"]) == set(EXAMPLES)
    # What Snakemake's log says of each job: the model stages are GPU-class jobs (the class's
    # 16000 MB), asking for no GPU (config models.device: cpu), and none claimed a device.
    (log,) = list((run / ".snakemake" / "log").glob("*.snakemake.log"))
    jobs = re.findall(r"^(?:local)?rule (\w+):\n(?:    .*\n)*?    resources: (.*)$", log.read_text(), re.M)
    resources = {rule: dict(item.split("=", 1) for item in text.split(", ")) for rule, text in jobs}
    for dataset in ("examples", "bench"):
        for stage in ("ground", "tag", "segment", "prompt", "complete"):
            (rule,) = [rule for rule in resources if rule.startswith(f"{stage}__{dataset}__")]
            assert (resources[rule]["mem_mb"], resources[rule]["gpu"]) == ("16000", "0"), rule
            (job_log,) = list((run / "results" / "logs" / "stages" / dataset / stage).glob("*/s00000.log"))
            assert "claimed GPU" not in job_log.read_text()
    assert resources["scenes__bench__s00000"]["mem_mb"] == "2000"  # a CPU-class job, for contrast


def test_one_image_from_the_command_line_writes_what_the_workflow_writes(run, tmp_path):
    from amodal.cli.main import main as cli

    config = yaml.safe_load((run / "config" / "config.yaml").read_text())
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({"models": config["models"]}))
    out = tmp_path / "out"
    image = ROOT / "data" / "seed_examples" / f"{EXAMPLES[0]}.jpg"
    code = cli(
        [
            "complete",
            str(image),
            "--query",
            "cat",
            "--experiment",
            "tiny_models",
            "--experiments-dir",
            str(write_experiment(tmp_path)),
            "--out",
            str(out),
            "--config",
            str(tmp_path / "config.yaml"),
        ]
    )
    assert code in (0, 1)  # random weights may find no object
    mine = stage_files_under(out, "single", EXAMPLES[0])
    theirs = stage_files_under(run / "results", "examples", EXAMPLES[0])
    assert sorted(mine) == sorted(theirs) and len(mine) > 15
    for name in ("tag/tags.json", "ground/ground.json", "prompt/prompt.json"):
        assert rounded(io.read_json(mine[name])) == rounded(io.read_json(theirs[name]))
    assert (out / "tiny_models" / "single" / EXAMPLES[0] / "amodal.png").is_file()
    assert (out / "tiny_models" / "single" / "table.md").is_file()


def stage_files_under(results, dataset, instance):
    """Every file of an instance's stage folders, by 'stage/file' (stage keys left out)."""
    root = results / "stages" / dataset / instance
    return {
        f"{p.relative_to(root).parts[0]}/{'/'.join(p.relative_to(root).parts[2:])}": p
        for p in root.rglob("*")
        if p.is_file() and p.name != ".snakemake_timestamp"
    }


def rounded(value):
    """A record with floats rounded (two processes may sum in another order)."""
    if isinstance(value, float):
        return round(value, 4)
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rounded(v) for v in value]
    return value
