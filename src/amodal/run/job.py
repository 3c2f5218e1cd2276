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
from amodal.errors import TooLarge
from amodal.models.cache import ModelCache
from amodal.run.isolation import run_stage
from amodal.run.memory import MemoryLimit
from amodal.run.salvage import Salvage, salvage_root

log = logging.getLogger("amodal")


def run_stage_job(
    stage: str,
    spec: dict,
    key: str,
    items: list[dict],
    shared: dict | None = None,
    declarations=STAGES,
    salvage: Salvage | None = None,
    limit: MemoryLimit | None = None,
) -> dict[str, str]:
    """Run one stage over a shard with what its declaration names (`runs`); returns each
    instance's status ("ok", "failed" or "remote_failed"). A per-instance body runs each
    instance under amodal.run.isolation.run_stage. `shared` holds the job's shared input files
    (the wallpaper), its `models` (a ModelCache) and the completion's `context`.

    With a `salvage` (amodal.run.salvage), an instance an earlier attempt finished is linked
    back, not run; one it died on runs first, alone (amodal.run.alone); each one finished here
    is kept. With a `limit`, an instance whose working image would not fit in what the job has
    left fails alone before it runs (amodal.run.memory)."""
    from amodal.run.bodies import with_query

    declared, shared = declarations[stage], shared or {}
    function, each = declared.runs_of(spec)
    body, rate = resolve(function), declared.bytes_per_pixel_of(spec)
    items = list(map(with_query, items))
    statuses = _after_earlier_attempts(stage, spec, key, items, shared, declarations, salvage, limit)
    todo = [item for item in items if item["id"] not in statuses]
    if not each:
        for item in todo:  # each instance of the batch must fit alone; one that cannot fails alone
            try:
                _within(limit, stage, rate, item)
            except TooLarge as error:
                statuses[item["id"]] = _failed_alone(error, item, declared)
                _finished(salvage, item, statuses[item["id"]], declared, shared, limit)
        todo = [item for item in todo if item["id"] not in statuses]
        for item in todo:
            _started(salvage, item)
        statuses.update(body(spec, key, todo, shared) if todo else {})
        for item in todo:
            _finished(salvage, item, statuses[item["id"]], declared, shared, limit)
        return {item["id"]: statuses[item["id"]] for item in items}
    failed_record = resolve(declared.failed_record) if declared.failed_record else None
    for item in todo:
        out = layout.files_in(item["folder"], declared.writes)
        _started(salvage, item)
        statuses[item["id"]] = run_stage(
            _inputs(item, declared),
            out,
            lambda item=item, out=out: _checked(limit, stage, rate, item, lambda: body(spec, key, item, out, shared)),
            failed_record,
            instance=item["id"],
            stage=stage,
        )
        _finished(salvage, item, statuses[item["id"]], declared, shared, limit)
        log.info("%s %s: %s", stage, item["id"], statuses[item["id"]])
    return {item["id"]: statuses[item["id"]] for item in items}


def _after_earlier_attempts(stage, spec, key, items, shared, declarations, salvage, limit) -> dict[str, str]:
    """The statuses of the instances an earlier attempt of this job settled (none without a
    salvage): each it finished is linked back; those it died on run alone (amodal.run.alone),
    or are recorded killed when two attempts died on them."""
    statuses: dict[str, str] = {}
    if salvage is None or not salvage.root.is_dir():  # no earlier attempt left anything
        return statuses
    declared = declarations[stage]
    for item in items:
        restored = salvage.restore(item["id"], item["folder"], *_identity(item, declared, shared, limit))
        if restored is not None:
            statuses[item["id"]] = restored
            log.info("%s %s: %s (kept from an earlier attempt)", stage, item["id"], restored)
    interrupted = [item for item in items if item["id"] not in statuses and salvage.interrupted(item["id"])]
    if not interrupted:
        return statuses
    from amodal.run.alone import record_kill, run_alone

    limits = (limit or MemoryLimit()).describe()
    for item in interrupted:
        if salvage.interrupted(item["id"]) >= 2:  # two attempts of the job died while it ran
            statuses[item["id"]] = record_kill(stage, item, None, limits, declarations)
            _finished(salvage, item, statuses[item["id"]], declared, shared, limit)
    interrupted = [item for item in interrupted if item["id"] not in statuses]
    if not interrupted:
        return statuses
    log.warning("%s: an earlier attempt died on %s; running alone", stage, [item["id"] for item in interrupted])
    _, each = declared.runs_of(spec)
    for group in [[item] for item in interrupted] if each else [interrupted]:
        for item in group:
            salvage.started(item["id"])
        statuses.update(run_alone(stage, spec, key, group, shared, declarations, limit or MemoryLimit()))
        for item in group:
            _finished(salvage, item, statuses[item["id"]], declared, shared, limit)
    return statuses


def _inputs(item: dict, declared) -> dict:
    """The files an instance's stage reads, name -> path: its upstream records and its declared
    instance files (what run_stage checks for an upstream failure)."""
    return dict(item["reads"], **{name: item[name] for name in declared.instance_reads if item.get(name)})


def _identity(item: dict, declared, shared: dict, limit: MemoryLimit | None) -> tuple[list, dict, str]:
    """What a kept instance must match to be linked back (amodal.run.salvage): every file its
    stage may open (upstream records, its photo and ground truth, the job's shared files), the
    models config, and the memory limit."""
    files = [*_inputs(item, declared).values(), item.get("image"), item.get("gt")]
    files += [value for value in shared.values() if isinstance(value, str)]
    models = shared.get("models")
    settings = {"models": models.config if models is not None else {}}
    return [f for f in files if isinstance(f, str) and f], settings, (limit or MemoryLimit()).describe()


def _checked(limit: MemoryLimit | None, stage: str, rate: float, item: dict, body) -> None:
    """Run `body` once the instance is known to fit (`_within`)."""
    _within(limit, stage, rate, item)
    body()


def _within(limit: MemoryLimit | None, stage: str, rate: float, item: dict) -> None:
    """Raise TooLarge when the instance's working image would not fit at `rate` bytes a pixel
    (amodal.run.memory)."""
    if limit is None or not rate or not item.get("image"):
        return
    from amodal.datasets.working import upright_size

    try:
        size = upright_size(item["image"])
    except OSError:
        return  # unreadable: the stage names the file
    limit.check(item["id"], stage, size, rate, item["image"])


def _failed_alone(error: TooLarge, item: dict, declared) -> str:
    """Write the instance's failed record as run_stage would; returns its status."""
    from amodal.run.isolation import record_failure

    failed_record = resolve(declared.failed_record) if declared.failed_record else None
    record_failure(layout.files_in(item["folder"], declared.writes), str(error), failed_record, error.details)
    return error.status


def _started(salvage: Salvage | None, item: dict) -> None:
    if salvage is not None:
        salvage.started(item["id"])


def _finished(salvage: Salvage | None, item: dict, status: str, declared, shared: dict, limit) -> None:
    if salvage is not None:
        salvage.finished(item["id"], item["folder"], status, *_identity(item, declared, shared, limit))


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
    mem_mb: float | None = None,
    keep_salvage: bool = False,
) -> dict[str, str]:
    """Run one planned job (amodal.plan.job.Job fields), then write its manifest; a GPU job
    first claims its devices. The stages get their networks from `cache`, the job's own
    ModelCache made from the `models` config when None. Returns each instance's status.

    A stage job keeps each finished instance in its salvage (amodal.run.salvage) until its
    manifest is written, then drops it (unless `keep_salvage`: a fused job drops its members'
    salvage when all of them are done); each instance is checked against `mem_mb` and the
    address-space limit before it runs (amodal.run.memory)."""
    from amodal.imaging import io

    _claim(gpus)
    cache = cache if cache is not None else ModelCache(models)
    salvage = Salvage(salvage_root(manifest))
    if kind == "scenes":
        run_scenes_job(spec, items)
    elif kind == "collect":
        run_collect_job(items)
    else:
        shared = dict(shared or {}, models=cache, context=context)
        statuses = run_stage_job(kind, spec, key, items, shared, salvage=salvage, limit=MemoryLimit(mem_mb))
    if kind in ("scenes", "collect"):
        statuses = {item["id"]: "ok" for item in items}
    io.write_json(manifest, {"kind": kind, "key": key, "instances": statuses})
    if not keep_salvage:
        salvage.discard()
    _gpu_work_done(gpus)
    return statuses


def run_fused_job(
    members: list[dict],
    shared: dict | None = None,
    gpus: int = 0,
    models: dict | None = None,
    cache: ModelCache | None = None,
    mem_mb: float | None = None,
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
            mem_mb=mem_mb,
            keep_salvage=True,  # a later member's failure removes this member's outputs too
        )
        log.info("fused: %s %s done in %.2f s", member["kind"], member["key"], time.perf_counter() - start)
    for member in members:
        Salvage(salvage_root(member["manifest"])).discard()
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
