"""Fused stage jobs (config `fuse`): a shard's stage jobs of one device class run as one job in
one process, so each model loads once and the process starts once."""

from __future__ import annotations

from amodal.plan import layout
from amodal.plan.job import Job, rule_name


def fused_classes(config: dict) -> set[str]:
    """The device classes whose stage jobs are fused per shard (config `fuse`)."""
    fuse = config.get("fuse") or {}
    if not isinstance(fuse, dict) or set(fuse) - {"cpu", "gpu"} or not all(isinstance(v, bool) for v in fuse.values()):
        raise ValueError(f"config 'fuse' must be {{cpu: true|false, gpu: true|false}}, got {fuse!r}")
    return {device for device, on in fuse.items() if on}


def fuse(jobs: list[Job], classes: set[str], results: str) -> list[Job]:
    """`jobs` with, for each dataset and shard of a device class in `classes`, its stage jobs
    replaced by one job that runs them in order in one process: each model is loaded once and
    the process starts once (a shard's GPU stages load GroundingDINO, SAM and CLIP two or three
    times otherwise). A stage job joins only if no path leads from the group to it through a job
    outside the group (a CPU stage between two GPU stages keeps the later one apart), and groups
    whose fusing would make jobs wait on each other are left apart; so the fused jobs' order is
    the stages' order."""
    from graphlib import CycleError, TopologicalSorter

    producer = {job.manifest: job.rule for job in jobs}
    children: dict[str, list[str]] = {job.rule: [] for job in jobs}
    for job in jobs:
        for path in job.inputs:
            if path in producer:
                children[producer[path]].append(job.rule)
    candidates: dict[tuple, list[Job]] = {}
    for job in jobs:
        if job.kind not in ("scenes", "collect") and job.device in classes:
            candidates.setdefault((job.dataset, job.device, job.shard), []).append(job)
    groups = [g for g in (_convex(members, children) for members in candidates.values()) if len(g) > 1]
    while True:
        group_of = {member.rule: n for n, group in enumerate(groups) for member in group}
        node = {job.rule: ("group", group_of[job.rule]) if job.rule in group_of else ("job", job.rule) for job in jobs}
        graph = {n: set() for n in node.values()}
        for job in jobs:
            for child in children[job.rule]:
                if node[child] != node[job.rule]:
                    graph[node[child]].add(node[job.rule])
        try:
            TopologicalSorter(graph).prepare()
            break
        except CycleError as error:  # leave apart every group on the cycle
            apart = {n for kind, n in error.args[1] if kind == "group"}
            if not apart:  # the stage jobs themselves wait on each other: a planning error
                raise
            groups = [group for n, group in enumerate(groups) if n not in apart]
    fused = {group[0].rule: _fused_job(group, results) for group in groups}
    inside = {member.rule for group in groups for member in group}
    return [fused.get(job.rule, job) for job in jobs if job.rule in fused or job.rule not in inside]


def _convex(members: list[Job], children: dict[str, list[str]]) -> list[Job]:
    """The members no path reaches from a member through a job that is not one."""
    while True:
        inside = {member.rule for member in members}
        reached, frontier = set(), [c for m in members for c in children[m.rule] if c not in inside]
        while frontier:
            rule = frontier.pop()
            if rule not in reached:
                reached.add(rule)
                frontier.extend(children[rule])
        kept = [member for member in members if member.rule not in reached]
        if len(kept) == len(members):
            return kept
        members = kept


def _fused_job(members: list[Job], results: str) -> Job:
    first = members[0]
    made = {member.manifest for member in members}
    shared = {}
    for member in members:
        shared.update(member.shared)
    return Job(
        rule=rule_name("fused", first.dataset, first.device, first.shard),
        kind="fused",
        dataset=first.dataset,
        shard=first.shard,
        key=first.device,
        spec={},
        items=[],
        inputs=list(dict.fromkeys(path for member in members for path in member.inputs if path not in made)),
        outputs=[folder for member in members for folder in member.outputs],
        manifest=members[-1].manifest,  # the last written; `manifests` lists them all
        log=layout.shard_log(results, first.dataset, "fused", first.device, first.shard),
        benchmark=layout.shard_benchmark(results, first.dataset, "fused", first.device, first.shard),
        device=first.device,
        shared=shared,
        members=members,
    )
