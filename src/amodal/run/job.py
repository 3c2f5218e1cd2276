"""Running one shard job in this process: each of its instances in turn.

A job loads what it needs once and writes, for every instance, the same files into the
same folder as if that instance had a job of its own. Bad input fails only its instance
(`amodal.run.isolation.run_stage` writes a failed record naming the instance and the file); the
other instances of the shard run. The workflow's one script (`workflow/scripts/run_shard.py`)
and the in-process benchmark both call `run_job`.
"""

from __future__ import annotations

import logging
import sys
import time

from amodal.plan import layout
from amodal.declarations import STAGES, resolve
from amodal.models.cache import ModelCache

log = logging.getLogger("amodal")


def run_stage_job(
    stage: str, spec: dict, key: str, items: list[dict], shared: dict | None = None, declarations=STAGES
) -> dict[str, str]:
    """Run one stage over a shard with what its declaration names (`runs`); returns each
    instance's status ("ok", "failed" or "remote_failed"). A per-instance body runs each
    instance under amodal.run.isolation.run_stage. `shared` holds the job's shared input files
    (the wallpaper), its `models` (a ModelCache) and the completion's `context`."""
    from amodal.run.bodies import with_query
    from amodal.run.isolation import run_stage

    declared, shared = declarations[stage], shared or {}
    function, each = declared.runs_of(spec)
    body = resolve(function)
    if not each:
        return body(spec, key, items, shared)
    failed_record = resolve(declared.failed_record) if declared.failed_record else None
    statuses = {}
    for item in map(with_query, items):
        out = layout.stage_outputs(item["folder"], stage)
        inputs = dict(item["reads"], **{name: item[name] for name in declared.instance_reads if item[name]})
        statuses[item["id"]] = run_stage(
            inputs,
            out,
            lambda item=item, out=out: body(spec, key, item, out, shared),
            failed_record,
            instance=item["id"],
        )
        log.info("%s %s: %s", stage, item["id"], statuses[item["id"]])
    return statuses


def run_scenes_job(spec: dict, items: list[dict]) -> None:
    """Build a shard of synthetic-benchmark scenes (cutouts and backgrounds read once)."""
    from pathlib import Path

    from amodal.synthetic.params import SceneParams
    from amodal.synthetic.scenes import build_scenes

    if items:
        build_scenes(
            Path(items[0]["folder"]).parent,
            [item["id"] for item in items],
            params=SceneParams.from_spec(spec),
            cutouts_dir=spec["cutouts"],
            backgrounds_dir=spec["backgrounds"],
        )


def run_collect_job(items: list[dict]) -> None:
    from amodal.stages.collect import collect_instance

    for item in items:
        collect_instance(item["reads"], layout.collected_outputs(item["folder"]), stages=item["stages"])


def run_job(
    kind: str,
    spec: dict,
    key: str,
    items: list[dict],
    manifest: str,
    shared: dict | None = None,
    gpus: int = 0,
    models: dict | None = None,
    context: dict | None = None,
    cache: ModelCache | None = None,
) -> dict[str, str]:
    """Run one planned job (amodal.plan.job.Job fields), then write its manifest; a GPU job
    first claims its devices. The stages get their networks from `cache`, the job's own
    ModelCache made from the `models` config when None. Returns each instance's status."""
    from amodal.imaging import io

    _claim(gpus)
    cache = cache if cache is not None else ModelCache(models)
    if kind == "scenes":
        run_scenes_job(spec, items)
    elif kind == "collect":
        run_collect_job(items)
    else:
        statuses = run_stage_job(kind, spec, key, items, dict(shared or {}, models=cache, context=context))
    if kind in ("scenes", "collect"):
        statuses = {item["id"]: "ok" for item in items}
    io.write_json(manifest, {"kind": kind, "key": key, "instances": statuses})
    _gpu_work_done(gpus)
    return statuses


def run_fused_job(
    members: list[dict],
    shared: dict | None = None,
    gpus: int = 0,
    models: dict | None = None,
    cache: ModelCache | None = None,
) -> None:
    """Run a fused job's stage jobs (amodal.plan.fusing.fuse) one after another in this process:
    the devices are claimed once, and one ModelCache (`cache`, else made from the `models`
    config) serves every stage, so a model one stage loaded serves the next. Each member writes
    its files and its manifest as if it were a job of its own. `members`: dicts of run_job's
    arguments (kind, spec, key, instances, manifest, context)."""
    _claim(gpus)
    cache = cache if cache is not None else ModelCache(models)
    for member in members:
        start = time.perf_counter()
        run_job(
            member["kind"],
            member["spec"],
            member["key"],
            member["instances"],
            manifest=member["manifest"],
            shared=shared,
            context=member["context"],
            cache=cache,
        )
        log.info("fused: %s %s done in %.2f s", member["kind"], member["key"], time.perf_counter() - start)
    _gpu_work_done(gpus)


def _claim(gpus: int) -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(message)s")
    if gpus:
        from amodal.run.devices import claim

        # with the wall-clock time, so a run's logs show which job held which device when
        log.info("claimed GPU %s at %.3f", ",".join(claim(gpus)), time.time())


def _gpu_work_done(gpus: int) -> None:
    """Log when the job's GPU work ended. The claim itself (a lock held by this process,
    amodal.run.devices) ends when the process exits, moments later."""
    if gpus:
        log.info("GPU work done at %.3f (the claim ends when this process exits)", time.time())
