"""The planned jobs: which instances each processes, which folders it reads and fills, and
what it asks the scheduler for. Expected paths are written out by hand."""

from pathlib import Path

import pandas as pd
import pytest

import dataclasses

from amodal.declarations import STAGES
from amodal.plan.keys import FolderKeys
from amodal.plan.jobs import Workplan
from amodal.plan.resources import job_resources

SPEC = {
    "ground": {"backend": "oracle"},
    "tag": {"backend": "oracle"},
    "segment": {"backend": "oracle"},
    "order": {"backend": "geometric"},
    "prompt": {"backend": "query"},
    "complete": {"backend": "classical"},
    "rgba": {"backend": "blend"},
    "evaluate": {"backend": "standard"},
}


def on_gpu(pairs):
    """The shipped stage declarations with exactly the (stage, backend) `pairs` GPU-class."""
    return {
        name: dataclasses.replace(
            stage,
            backends={
                b: dataclasses.replace(backend, device="gpu" if (name, b) in pairs else "cpu")
                for b, backend in stage.backends.items()
            },
        )
        for name, stage in STAGES.items()
    }


def table(ids, statuses=None, gt=True):
    statuses = statuses or ["ok"] * len(ids)
    return pd.DataFrame(
        {
            "id": ids,
            "image": [f"imgs/{i}.jpg" for i in ids],
            "query": ["the cat"] * len(ids),
            "gt": [f"gt/{i}.json" if gt else "" for i in ids],
            "status": statuses,
            "message": [""] * len(ids),
        }
    )


def config(**extra):
    return {"results": "R", "wallpaper": "wall.jpg", "datasets": {"photos": {"format": "seed"}}, **extra}


def test_jobs_cover_each_stage_key_once_per_shard_and_skip_instances_that_cannot_run():
    plan = FolderKeys({"a": SPEC, "b": dict(SPEC, order={"backend": "oracle"})})
    work = Workplan(
        config(shard_size=2),
        plan,
        {"photos": table(["p0", "p1", "p2", "p3", "p4"], ["ok", "ok", "missing_image", "ok", "ok"])},
    )
    ground = work.by_kind("ground")
    assert [job.items and [i["id"] for i in job.items] for job in ground] == [["p0", "p1"], ["p3"], ["p4"]]
    # shared stages once, order and everything after it once per experiment
    assert len(work.by_kind("order")) == 6 and len(work.by_kind("prompt")) == 3 and len(work.by_kind("collect")) == 6
    assert work.not_ok("photos")[0]["id"] == "p2"
    assert len({job.rule for job in work.jobs}) == len(work.jobs)


def test_a_stage_job_fills_its_instances_folders_and_needs_the_upstream_shard_manifests():
    plan = FolderKeys({"a": SPEC})
    keys = plan.keys["a"]
    work = Workplan(config(shard_size=8), plan, {"photos": table(["p0", "p1"])})
    (job,) = work.by_kind("order")
    folder = f"R/stages/photos/p1/order/{keys['order']}"
    assert job.outputs == [f"R/stages/photos/p0/order/{keys['order']}", folder]
    assert job.manifest == f"R/shards/photos/order/{keys['order']}/s00000.json"
    assert job.rule == f"order__photos__{keys['order'].replace('-', '_')}__s00000"
    assert job.inputs == [
        f"R/shards/photos/segment/{keys['segment']}/s00000.json"
    ]  # segment is order's only direct upstream
    item = job.items[1]
    # it still reads ground's mask, an ancestor's file, by its path
    assert item["reads"]["visible"] == f"R/stages/photos/p1/ground/{keys['ground']}/visible_mask.png"
    assert item["reads"]["masks"] == f"R/stages/photos/p1/segment/{keys['segment']}/segments.npz"
    assert item["folder"] == folder and item["gt"] == "gt/p1.json"
    (ground,) = work.by_kind("ground")
    assert ground.inputs == [
        "imgs/p0.jpg",
        "gt/p0.json",
        "imgs/p1.jpg",
        "gt/p1.json",
    ]  # a first stage needs the sources
    (tag,) = work.by_kind("tag")
    assert tag.inputs == ["gt/p0.json", "gt/p1.json"]
    (complete,) = work.by_kind("complete")
    assert complete.shared == {"wallpaper": "wall.jpg"}
    assert complete.inputs == [
        f"R/shards/photos/order/{keys['order']}/s00000.json",
        f"R/shards/photos/prompt/{keys['prompt']}/s00000.json",
    ]
    (collect,) = work.by_kind("collect")
    assert collect.outputs == ["R/a/photos/p0", "R/a/photos/p1"]
    assert collect.inputs == [f"R/shards/photos/evaluate/{keys['evaluate']}/s00000.json"]
    assert work.collect_manifests[("a", "photos")] == ["R/shards/photos/collect/a/s00000.json"]
    assert work.metrics_files("a", "photos") == ["R/a/photos/p0/metrics.json", "R/a/photos/p1/metrics.json"]


def test_a_job_needs_every_upstream_shard_that_holds_one_of_its_instances():
    plan = FolderKeys({"a": SPEC})
    keys = plan.keys["a"]
    work = Workplan(
        config(shard_size={"cpu": 2, "gpu": 3}),
        plan,
        {"photos": table([f"p{i}" for i in range(5)])},
        declarations=on_gpu({("order", "geometric")}),
    )
    # order (gpu) shards: p0-p2, p3-p4; segment (cpu) shards: p0-p1, p2-p3, p4
    first, second = work.by_kind("order")
    segment = f"R/shards/photos/segment/{keys['segment']}"
    assert first.inputs == [f"{segment}/s00000.json", f"{segment}/s00001.json"]
    assert second.inputs == [f"{segment}/s00001.json", f"{segment}/s00002.json"]
    order = f"R/shards/photos/order/{keys['order']}"
    complete = work.by_kind("complete")  # cpu again: p0-p1, p2-p3, p4
    assert [job.inputs for job in complete] == [
        [f"{order}/s00000.json", f"R/shards/photos/prompt/{keys['prompt']}/s00000.json"],
        [f"{order}/s00000.json", f"{order}/s00001.json", f"R/shards/photos/prompt/{keys['prompt']}/s00001.json"],
        [f"{order}/s00001.json", f"R/shards/photos/prompt/{keys['prompt']}/s00002.json"],
    ]


def test_a_synthetic_scene_is_one_folder_made_by_a_scene_job_and_read_as_a_whole():
    plan = FolderKeys({"a": SPEC})
    cfg = config(shard_size=3, datasets={"bench": {"format": "synthetic", "cutouts": "C", "backgrounds": "B"}})
    work = Workplan(cfg, plan, {"bench": table(["scene_0000", "scene_0001"])})
    (scenes,) = work.by_kind("scenes")
    assert scenes.outputs == ["R/datasets/bench/scene_0000", "R/datasets/bench/scene_0001"]
    assert scenes.inputs == ["C/cutouts.csv", "B/backgrounds.csv"]
    assert scenes.manifest == "R/shards/bench/scenes/synthetic/s00000.json"
    (ground,) = work.by_kind("ground")
    assert ground.inputs == ["R/shards/bench/scenes/synthetic/s00000.json"]


def test_gpu_stages_take_the_gpu_shard_size_and_resources():
    plan = FolderKeys({"a": SPEC})
    cfg = config(
        shard_size={"cpu": 2, "gpu": 5},
        models={"device": "cuda"},
        resources={"gpu": {"mem_mb": 20000, "runtime_base_min": 10, "runtime_per_instance_s": 30}},
    )
    work = Workplan(
        cfg, plan, {"photos": table([f"p{i}" for i in range(7)])}, declarations=on_gpu({("complete", "classical")})
    )
    assert [len(job.items) for job in work.by_kind("complete")] == [5, 2]
    assert [len(job.items) for job in work.by_kind("rgba")] == [2, 2, 2, 1]
    gpu_job = work.by_kind("complete")[0]
    assert gpu_job.device == "gpu"
    # 10 min + 5 instances x 30 s = 12.5 min, rounded up to 13
    assert job_resources(cfg, gpu_job) == {"threads": 4, "mem_mb": 20000, "runtime": 13, "gpu": 1}
    assert job_resources(cfg, work.by_kind("rgba")[3]) == {"threads": 1, "mem_mb": 2000, "runtime": 6, "gpu": 0}
    # models on the CPU: a GPU-class job asks for no GPU (it would wait for one forever)
    assert job_resources(dict(cfg, models={"device": "cpu"}), gpu_job)["gpu"] == 0


def test_shard_size_one_gives_one_job_per_instance():
    work = Workplan(config(shard_size=1), FolderKeys({"a": SPEC}), {"photos": table(["p0", "p1", "p2"])})
    assert [job.shard for job in work.by_kind("evaluate")] == ["s00000", "s00001", "s00002"]


@pytest.mark.parametrize("size", [0, "big", True])
def test_a_bad_shard_size_is_refused(size):
    with pytest.raises(ValueError, match="shard"):
        Workplan(config(shard_size=size), FolderKeys({"a": SPEC}), {"photos": table(["p0"])})


def test_a_class_left_out_of_shard_size_takes_its_default():
    work = Workplan(
        config(shard_size={"gpu": 2}), FolderKeys({"a": SPEC}), {"photos": table([f"p{i}" for i in range(20)])}
    )
    assert [len(job.items) for job in work.by_kind("ground")] == [16, 4]  # cpu default 16


def test_missing_outputs_are_the_gone_folders_of_jobs_that_wrote_their_manifest(tmp_path):
    cfg = config(shard_size=2, results=str(tmp_path / "R"))
    work = Workplan(cfg, FolderKeys({"a": SPEC}), {"photos": table(["p0", "p1", "p2"])})
    assert work.missing_outputs() == []  # nothing ran: the manifests' absence already reruns
    first, second = work.by_kind("ground")
    for job in (first, second):
        for folder in job.outputs:
            Path(folder).mkdir(parents=True)
        Path(job.manifest).parent.mkdir(parents=True, exist_ok=True)
        Path(job.manifest).write_text("{}")
    assert work.missing_outputs() == []
    Path(first.outputs[1]).rmdir()
    Path(second.manifest).unlink()
    Path(second.outputs[0]).rmdir()  # its manifest is gone too: the manifest reruns it
    assert work.missing_outputs() == [first.outputs[1]]


def test_an_oracle_backend_on_a_dataset_without_ground_truth_is_refused_before_any_job():
    with pytest.raises(ValueError, match=r"uses ground backend 'oracle', which needs ground truth.*'p0'"):
        Workplan(config(), FolderKeys({"a": SPEC}), {"photos": table(["p0", "p1"], gt=False)})


def test_every_stage_backend_that_loads_a_network_is_a_gpu_stage():
    # a backend whose models run on a GPU must claim one (and ask SLURM for one): found missing for
    # complete/diffusers on a 2-GPU run, where its job used device 0 without claiming it
    from amodal.plan.preflight import weights_needed
    from amodal.declarations import gpu_backends
    from amodal.config.schema import validated

    choices = {
        "ground": ["grounded_sam"],
        "tag": ["clip_vocab"],
        "segment": ["grounded_sam"],
        "order": ["instaorder", "depth"],
        "prompt": ["clip"],
        "complete": ["diffusers"],
    }
    for stage, backends in choices.items():
        for backend in backends:
            spec = validated({stage: {"backend": backend}}, "experiment.schema.yaml")
            needs = {w for w, where in weights_needed(spec).items() if any(p.startswith(f"{stage}/") for p in where)}
            assert needs, (stage, backend)  # it loads a network...
            assert (stage, backend) in gpu_backends(), (stage, backend)  # ...so it is GPU-class


# ---------------------------------------------------------------------- fusing (config `fuse`)

GPU_STAGES = {
    ("ground", "oracle"),
    ("tag", "oracle"),
    ("segment", "oracle"),
    ("prompt", "query"),
    ("complete", "classical"),
}


def each_unit_in_one_rule(work):
    """Every stage and shard job runs in exactly one rule, with its own manifest and folders."""
    ran = [m.rule for rule in work.rules for m in (rule.members or [rule])]
    assert sorted(ran) == sorted(job.rule for job in work.jobs)
    outputs = [out for rule in work.rules for out in [*rule.manifests, *rule.outputs]]
    assert sorted(outputs) == sorted(out for job in work.jobs for out in [job.manifest, *job.outputs])


def test_a_shards_gpu_stages_are_one_job_but_not_past_a_cpu_stage_between_them():
    cfg = config(
        shard_size={"cpu": 2, "gpu": 5},
        fuse={"gpu": True},
        models={"device": "cuda"},
        resources={"gpu": {"runtime_base_min": 10, "runtime_per_instance_s": 30}},
    )
    work = Workplan(
        cfg, FolderKeys({"a": SPEC}), {"photos": table(["p0", "p1", "p2"])}, declarations=on_gpu(GPU_STAGES)
    )
    each_unit_in_one_rule(work)
    (fused,) = [rule for rule in work.rules if rule.kind == "fused"]
    # complete reads order, a CPU stage that reads segment: it cannot join without a cycle
    assert [m.kind for m in fused.members] == ["ground", "tag", "segment", "prompt"]
    assert fused.rule == "fused__photos__gpu__s00000" and fused.device == "gpu"
    assert fused.inputs == ["imgs/p0.jpg", "gt/p0.json", "imgs/p1.jpg", "gt/p1.json", "imgs/p2.jpg", "gt/p2.json"]
    assert [path.split("/")[3] for path in fused.manifests] == ["ground", "tag", "segment", "prompt"]
    assert len(fused.outputs) == 12 and fused.log == "R/logs/stages/photos/fused/gpu/s00000.log"
    assert sorted(rule.kind for rule in work.rules) == sorted(
        ["fused", "order", "order", "complete", "rgba", "rgba", "evaluate", "evaluate", "collect", "collect"]
    )
    (complete,) = [rule for rule in work.rules if rule.kind == "complete"]
    assert fused.manifests[3] in complete.inputs  # the prompt it reads is the fused job's
    # 10 min + 4 stages x 3 instances x 30 s = 16 min
    assert job_resources(cfg, fused) == {"threads": 4, "mem_mb": 16000, "runtime": 16, "gpu": 1}


def test_experiments_sharing_upstream_stages_fuse_into_one_job_per_shard():
    other = dict(SPEC, prompt={"backend": "query", "note": "another prompt"})
    cfg = config(shard_size={"cpu": 2, "gpu": 2}, fuse={"gpu": True})
    work = Workplan(
        cfg,
        FolderKeys({"a": SPEC, "b": other}),
        {"photos": table(["p0", "p1", "p2"])},
        declarations=on_gpu(GPU_STAGES | {("order", "geometric")}),
    )
    each_unit_in_one_rule(work)
    fused = [rule for rule in work.rules if rule.kind == "fused"]
    assert [rule.shard for rule in fused] == ["s00000", "s00001"]
    for rule in fused:  # the shared stages once, then each experiment's prompt and complete
        assert [m.kind for m in rule.members] == [
            "ground",
            "tag",
            "segment",
            "order",
            "prompt",
            "complete",
            "prompt",
            "complete",
        ]
    assert not any(rule.kind in ("ground", "complete") for rule in work.rules)


def test_fusing_cpu_stages_leaves_scenes_and_collect_apart_and_off_by_default():
    work = Workplan(
        config(shard_size=2, fuse={"cpu": True}), FolderKeys({"a": SPEC}), {"photos": table(["p0", "p1", "p2"])}
    )
    each_unit_in_one_rule(work)
    assert [(rule.kind, rule.shard) for rule in work.rules] == [
        ("fused", "s00000"),
        ("fused", "s00001"),
        ("collect", "s00000"),
        ("collect", "s00001"),
    ]
    assert [m.kind for m in work.rules[0].members] == [
        "ground",
        "tag",
        "segment",
        "order",
        "prompt",
        "complete",
        "rgba",
        "evaluate",
    ]
    unfused = Workplan(config(shard_size=2), FolderKeys({"a": SPEC}), {"photos": table(["p0", "p1", "p2"])})
    assert unfused.rules == unfused.jobs and len(unfused.jobs) == 18


def test_groups_that_would_wait_on_each_other_are_left_apart():
    from amodal.plan.fusing import fuse
    from amodal.plan.job import Job

    def job(rule, device, shard, inputs):
        return Job(
            rule=rule,
            kind="order",
            dataset="d",
            shard=shard,
            key=rule,
            spec={},
            items=[],
            inputs=inputs,
            outputs=[f"out/{rule}"],
            manifest=f"m/{rule}",
            log="",
            benchmark="",
            device=device,
        )

    # a1 -> c1 -> b1 and b2 -> c2 -> a2: each of {a1, a2} and {b1, b2} alone is convex, together a cycle
    jobs = [
        job("a1", "gpu", "A", []),
        job("b2", "gpu", "B", []),
        job("c1", "cpu", "C", ["m/a1"]),
        job("c2", "cpu", "C", ["m/b2"]),
        job("b1", "gpu", "B", ["m/c1"]),
        job("a2", "gpu", "A", ["m/c2"]),
    ]
    assert fuse(jobs, {"gpu"}, "R") == jobs
    # without the second path, A and B each become one job
    jobs[5] = job("a2", "gpu", "A", [])
    assert [rule.rule for rule in fuse(jobs, {"gpu"}, "R")] == ["fused__d__gpu__A", "fused__d__gpu__B", "c1", "c2"]


@pytest.mark.parametrize("fuse_value", [{"gpu": "yes"}, {"tpu": True}, ["gpu"]])
def test_a_bad_fuse_setting_is_refused(fuse_value):
    with pytest.raises(ValueError, match="fuse"):
        Workplan(config(fuse=fuse_value), FolderKeys({"a": SPEC}), {"photos": table(["p0"])})
