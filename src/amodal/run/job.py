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
from typing import Callable

from amodal.models.cache import ModelCache
from amodal.plan import layout
from amodal.run import provenance

log = logging.getLogger("amodal")


def _ground(spec, key, item, out, shared):
    from amodal.imaging import io
    from amodal.stages.ground import run_ground

    mask, record = run_ground(
        spec, item["image"], item["gt"], item["id"], query=item["query"], models=shared.get("models")
    )
    io.write_mask(out["mask"], mask)
    io.write_json(out["record"], provenance.stamp(record, "ground", key))


def _tag(spec, key, item, out, shared):
    from amodal.imaging import io
    from amodal.stages.tag import run_tag

    record = run_tag(spec, item["gt"], item["id"], image_path=item["image"], models=shared.get("models"))
    io.write_json(out["record"], provenance.stamp(record, "tag", key))


def _segment(spec, key, item, out, shared):
    from amodal.imaging import io
    from amodal.stages.segment import run_segment

    masks, record = run_segment(
        spec,
        item["reads"]["visible"],
        item["gt"],
        item["id"],
        image_path=item["image"],
        tags_path=item["reads"]["tags"],
        models=shared.get("models"),
    )
    io.write_mask_stack(out["masks"], masks)
    io.write_json(out["record"], provenance.stamp(record, "segment", key))


def _order(spec, key, item, out, shared):
    from amodal.imaging import io
    from amodal.stages.order import run_order

    reads = item["reads"]
    record, occluders = run_order(
        spec,
        reads["visible"],
        reads["masks"],
        reads["segments"],
        item["gt"],
        item["id"],
        image_path=item["image"],
        models=shared.get("models"),
    )
    io.write_mask(out["occluders"], occluders)
    io.write_json(out["record"], provenance.stamp(record, "order", key))


def _prompt(spec, key, item, out, shared):
    from amodal.imaging import io
    from amodal.stages.prompt import run_prompt

    reads = item["reads"]
    record = run_prompt(
        spec,
        item["query"],
        item["gt"],
        image_path=item["image"],
        visible_path=reads["visible"],
        tags_path=reads["tags"],
        instance=item["id"],
        models=shared.get("models"),
    )
    io.write_json(out["record"], provenance.stamp(record, "prompt", key))


def _rgba(spec, key, item, out, shared):
    from amodal.imaging import io
    from amodal.stages.rgba import run_rgba

    reads = item["reads"]
    rgba, placement = run_rgba(
        spec, item["image"], reads["visible"], reads["complete"], reads["completion"], reads["amodal"]
    )
    if item.get("source_image"):  # the instance ran on a scaled working copy of its photo
        from amodal.datasets.working import source_placement, upright_size

        placement["source"] = source_placement(placement, item["source_image"], upright_size(item["image"]))
    io.write_image(out["rgba"], rgba)
    io.write_json(out["placement"], provenance.stamp(placement, "rgba", key))


def _evaluate(spec, key, item, out, shared):
    from amodal.imaging import io
    from amodal.stages.evaluate import run_evaluate

    reads = item["reads"]
    # an experiment without an order stage (an external completion) has no order to score
    record = run_evaluate(
        spec,
        image=item["image"],
        visible=reads["visible"],
        segments_npz=reads.get("masks"),
        segments_json=reads.get("segments"),
        order=reads.get("order"),
        rgba=reads["rgba"],
        placement=reads["placement"],
        gt=item["gt"],
        instance=item["id"],
        query=item.get("query", ""),
        models=shared.get("models"),
    )
    io.write_json(out["metrics"], provenance.stamp(record, "evaluate", key))


STAGE_BODIES: dict[str, Callable] = {
    "ground": _ground,
    "tag": _tag,
    "segment": _segment,
    "order": _order,
    "prompt": _prompt,
    "rgba": _rgba,
    "evaluate": _evaluate,
}


def _failed_record(stage: str):
    if stage == "evaluate":
        from amodal.stages.evaluate import failed_record

        return failed_record
    return None


def with_query(item: dict) -> dict:
    """The item with its text query; a synthetic scene's query lives in its scene file."""
    if item.get("query") or not item.get("gt"):
        return item
    from amodal.imaging import io

    try:
        return dict(item, query=io.read_json(item["gt"]).get("query", ""))
    except (OSError, ValueError):
        return item  # the stage that needs it reports the unreadable file for this instance


def run_stage_job(stage: str, spec: dict, key: str, items: list[dict], shared: dict | None = None) -> dict[str, str]:
    """Run one stage over a shard; returns each instance's status ("ok", "failed" or "remote_failed").
    `shared` holds the job's shared input files (the wallpaper) and its `models` (a ModelCache)."""
    from amodal.run.isolation import run_stage

    body, shared = STAGE_BODIES[stage], shared or {}
    statuses = {}
    for item in map(with_query, items):
        out = layout.stage_outputs(item["folder"], stage)
        inputs = dict(item["reads"], **{name: item[name] for name in layout.INSTANCE_READS[stage] if item[name]})
        statuses[item["id"]] = run_stage(
            inputs, out, lambda: body(spec, key, item, out, shared), _failed_record(stage), instance=item["id"]
        )
        log.info("%s %s: %s", stage, item["id"], statuses[item["id"]])
    return statuses


def run_complete_job(spec: dict, key: str, items: list[dict], shared: dict) -> dict[str, str]:
    """The completion loop over the shard: each instance's inputs are read (a bad file fails
    only that instance), then one loop runs every instance together, so a model backend
    batches them pass by pass; then each instance's files are written."""
    from amodal.imaging import io
    from amodal.stages.complete.stage import complete_prepared, prepare_complete, write_completion
    from amodal.run.isolation import run_stage

    prepared, statuses, wallpaper = {}, {}, None
    for item in map(with_query, items):
        reads, out = item["reads"], layout.stage_outputs(item["folder"], "complete")

        def body(item=item, reads=reads):
            nonlocal wallpaper
            prepared[item["id"]] = prepare_complete(
                spec,
                item["image"],
                reads["visible"],
                reads["ground"],
                reads["occluders"],
                reads["prompt"],
                shared["wallpaper"],
                item["id"],
            )
            wallpaper = prepared[item["id"]][2]

        statuses[item["id"]] = run_stage(dict(reads, image=item["image"]), out, body, instance=item["id"])
    context = dict(
        shared.get("context") or {},
        models=shared.get("models"),
        tags={i["id"]: io.read_json(i["reads"]["tags"])["tags"] for i in items if i["id"] in prepared},
    )
    results = dict(zip(prepared, complete_prepared([p[0] for p in prepared.values()], spec, wallpaper, context)))
    for item in items:
        if item["id"] not in prepared:
            continue
        result, prompt = results[item["id"]], prepared[item["id"]][1]
        out = layout.stage_outputs(item["folder"], "complete")
        write_completion(
            result,
            provenance.stamp(result.record(spec["backend"], prompt), "complete", key),
            record_path=out["record"],
            completion_path=out["completion"],
            amodal_path=out["amodal"],
            iterations_dir=out["iterations"],
        )
        if result.status == "failed":
            statuses[item["id"]] = "failed"
            log.error(result.reason)
        log.info("complete %s: %s (%s)", item["id"], result.status, result.stop_reason)
    return statuses


def run_external_job(spec: dict, key: str, items: list[dict]) -> dict[str, str]:
    """The completion stage of an experiment that scores another method's outputs: each
    instance's file is read and written as this stage's files (`amodal.stages.complete.external`); a missing
    or unusable file fails only its instance (`no_output`, `bad_input`)."""
    from amodal.imaging import io
    from amodal.stages.complete.stage import write_completion
    from amodal.stages.complete.external import complete_external
    from amodal.run.isolation import run_stage

    statuses = {}
    for item in items:
        reads, out = item["reads"], layout.stage_outputs(item["folder"], "complete")

        def body(item=item, reads=reads, out=out):
            ground = io.read_json(reads["ground"])
            image = io.read_instance_image(item["image"], item["id"])
            files = {name: (entry or {}).get("path") for name, entry in item["external"].items()}
            result, read = complete_external(spec, files, image.shape, item["id"])
            # the method's output is scored whatever our grounding's validity test said of the query
            record = dict(result.record("external", ""), external=read, ground_status=ground["status"])
            write_completion(
                result,
                provenance.stamp(record, "complete", key),
                record_path=out["record"],
                completion_path=out["completion"],
                amodal_path=out["amodal"],
                iterations_dir=out["iterations"],
            )

        statuses[item["id"]] = run_stage(dict(reads, image=item["image"]), out, body, instance=item["id"])
        log.info("complete %s: %s", item["id"], statuses[item["id"]])
    return statuses


def run_scenes_job(spec: dict, items: list[dict]) -> None:
    """Build a shard of synthetic-benchmark scenes (cutouts and backgrounds read once)."""
    from pathlib import Path

    from amodal.synthetic.scenes import build_scenes

    if items:
        build_scenes(
            Path(items[0]["folder"]).parent,
            [item["id"] for item in items],
            cutouts_dir=spec["cutouts"],
            backgrounds_dir=spec["backgrounds"],
            seed=spec["seed"],
            hidden_fraction=tuple(spec["hidden_fraction"]),
            border_share=spec["border_share"],
            occluders=tuple(spec["occluders"]),
            behind=tuple(spec["behind"]),
            image_size=spec["image_size"],
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
    """Run one planned job (amodal.plan.jobs.Job fields), then write its manifest; a GPU job
    first claims its devices. The stages get their networks from `cache`, the job's own
    ModelCache made from the `models` config when None. Returns each instance's status."""
    from amodal.imaging import io

    _claim(gpus)
    cache = cache if cache is not None else ModelCache(models)
    if kind == "scenes":
        run_scenes_job(spec, items)
    elif kind == "complete" and spec["backend"] == "external":
        statuses = run_external_job(spec, key, items)
    elif kind == "complete":
        statuses = run_complete_job(spec, key, items, dict(shared or {}, models=cache, context=context))
    elif kind == "collect":
        run_collect_job(items)
    else:
        statuses = run_stage_job(kind, spec, key, items, dict(shared or {}, models=cache))
    if kind in ("scenes", "collect"):
        statuses = {item["id"]: "ok" for item in items}
    io.write_json(manifest, {"kind": kind, "key": key, "instances": statuses})
    _release(gpus)
    return statuses


def run_fused_job(
    members: list[dict],
    shared: dict | None = None,
    gpus: int = 0,
    models: dict | None = None,
    cache: ModelCache | None = None,
) -> None:
    """Run a fused job's stage jobs (amodal.plan.jobs.fuse) one after another in this process:
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
    _release(gpus)


def _claim(gpus: int) -> None:
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(levelname)s %(message)s")
    if gpus:
        from amodal.run.devices import claim

        # with the wall-clock time, so a run's logs show which job held which device when
        log.info("claimed GPU %s at %.3f", ",".join(claim(gpus)), time.time())


def _release(gpus: int) -> None:
    if gpus:
        log.info("released GPU at %.3f", time.time())
