"""The paper's ablation (Table 4) as experiment files over paper.yaml (`base: paper`): how a
base is merged, and the jobs Snakemake plans for them, sharing every stage the ablation does
not change."""

import subprocess

import numpy as np
import pytest
import yaml

from amodal.stages.prompt import prompt_clip
from amodal.config.schema import load_experiment, read_experiment, validated
from workflow_helpers import ROOT, command, environment, job_counts, make_workdir

EXPERIMENTS = ROOT / "config" / "experiments"
ABLATION = ["ablation_query", "ablation_tags", "ablation_union_nobg", "ablation_union_bg"]


def write(folder, name, data):
    (folder / f"{name}.yaml").write_text(yaml.safe_dump(data))


def test_a_base_is_merged_mapping_by_mapping_and_bases_chain(tmp_path):
    write(
        tmp_path,
        "root",
        {
            "description": "root",
            "prompt": {"backend": "clip", "clip": {"model": "clip_vit_b32_openai"}},
            "complete": {"max_passes": 2, "size": 256},
        },
    )
    write(tmp_path, "middle", {"base": "root", "complete": {"max_passes": 5}})
    write(tmp_path, "leaf", {"base": "middle", "prompt": {"clip": {"candidates": "tags"}}, "description": "leaf"})
    assert read_experiment(tmp_path / "leaf.yaml") == {
        "description": "leaf",
        "prompt": {"backend": "clip", "clip": {"model": "clip_vit_b32_openai", "candidates": "tags"}},
        "complete": {"max_passes": 5, "size": 256},
    }


@pytest.mark.parametrize(
    "files,message",
    [
        ({"a": {"base": "b"}, "b": {"base": "a"}}, "cycle"),
        ({"a": {"base": "nowhere"}}, "nowhere.yaml not found"),
        ({"a": {"base": 3}}, "base must name an experiment"),
    ],
)
def test_a_bad_base_is_named(tmp_path, files, message):
    for name, data in files.items():
        write(tmp_path, name, data)
    with pytest.raises((ValueError, FileNotFoundError), match=message):
        read_experiment(tmp_path / "a.yaml")


def test_the_ablation_files_are_paper_with_one_change_each():
    paper = load_experiment("paper")[1]
    specs = {name: load_experiment(name)[1] for name in ABLATION}
    changed = {
        name: sorted(k for k in paper if k != "description" and spec[k] != paper[k]) for name, spec in specs.items()
    }
    assert changed == {
        "ablation_query": ["prompt"],
        "ablation_tags": ["prompt"],
        "ablation_union_nobg": ["segment"],
        "ablation_union_bg": [],
    }
    assert specs["ablation_query"]["prompt"]["backend"] == "query"
    assert specs["ablation_tags"]["prompt"]["clip"]["candidates"] == "tags"
    nobg = specs["ablation_union_nobg"]["segment"]
    assert nobg["background"]["enabled"] is False and nobg["grounded_sam"]["include_background_tag"] is False


def test_snakemake_plans_the_shared_stages_once(tmp_path):
    """paper + the four ablation files on 2 scenes (one shard): the ground, tag, segment and order
    jobs of paper serve every file that changes only the prompt; the background ablation adds its
    own segment and order; each distinct prompt adds prompt, complete, rgba and evaluate jobs."""
    workdir = make_workdir(tmp_path / "run", n_scenes=2, shard_size=8)
    config = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
    # the parse checks that the checkpoints exist; a dry run loads none of them
    paths = {}
    for name in (
        "groundingdino_swint_ogc",
        "bert_base_uncased",
        "sam_vit_h",
        "clip_vit_b32_openai",
        "sd2_inpainting",
        "ram_plus_swin_large_14m",
        "instaorder_od",
    ):
        (tmp_path / name).mkdir()
        paths[name] = str(tmp_path / name)
    config.update(experiments=["paper", *ABLATION], models={"paths": paths})
    (workdir / "config" / "config.yaml").write_text(yaml.safe_dump(config))
    done = subprocess.run(command(workdir, "--dry-run"), capture_output=True, text=True, env=environment(), timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    counts = job_counts(done.stdout)
    # prompts: paper's (= union_bg's = union_nobg's: the prompt reads ground and tag only), query, tags
    # completions: paper, query, tags, nobg (its order differs)
    assert {
        k: counts.get(k) for k in ("ground", "tag", "segment", "order", "prompt", "complete", "rgba", "evaluate")
    } == {"ground": 1, "tag": 1, "segment": 2, "order": 2, "prompt": 3, "complete": 4, "rgba": 4, "evaluate": 4}
    assert counts["collect"] == 5  # one per experiment


class RecordingScorer:
    """Stands in for CLIP: records what it was asked to choose among; the last name wins."""

    def __init__(self):
        self.asked = []

    def choose_prompt(self, image, visible, candidates, query):
        self.asked.append((list(candidates), query))
        names = [*candidates, *([] if query is None else [query])]
        return {"prompt": names[-1], "candidates": {n: 1 / len(names) for n in names}}


@pytest.mark.parametrize(
    "candidates,tags,asked,prompt",
    [
        ("tags_and_query", ["dog", "background"], (["dog", "background"], "cat"), "cat"),
        ("tags", ["dog", "background"], (["dog", "background"], None), "background"),
        ("tags", ["", "background"], (["background"], None), "background"),
        ("tags", [""], None, "cat"),  # nothing to choose from: the query
    ],
)
def test_the_tags_only_prompt_leaves_the_query_out(monkeypatch, candidates, tags, asked, prompt):
    from amodal.models.cache import ModelCache

    scorer, models = RecordingScorer(), ModelCache()
    monkeypatch.setattr(models, "clip_scorer", lambda name: scorer)
    spec = validated({"prompt": {"backend": "clip", "clip": {"candidates": candidates}}}, "experiment.schema.yaml")[
        "prompt"
    ]
    image, visible = np.zeros((4, 4, 3), np.uint8), np.ones((4, 4), bool)
    record = prompt_clip(image, visible, tags, "the cat", spec, models)
    assert record["prompt"] == prompt
    assert scorer.asked == ([] if asked is None else [asked])
