"""What each stage does in a job, as its declaration names it (amodal.declarations: `runs`).

A per-instance body (spec, key, item, out, shared) reads one instance's files (`item`: its
photo, ground truth, query and the upstream files under the names the stage reads them by),
calls its stage and writes the files of `out`; amodal.run.job isolates each call, so a bad
input fails only its instance. A shard body (spec, key, items, shared) takes the whole shard
and returns each instance's status. `shared` holds the job-wide input files the stage declares
(the wallpaper), the run's `models` config and, for the completion, the upstream specs its
backend reads (`context`).
"""

from __future__ import annotations

import logging

from amodal.plan import layout
from amodal import provenance

log = logging.getLogger("amodal")


def ground(spec, key, item, out, shared):
    from amodal.imaging import io
    from amodal.stages.ground import run_ground

    mask, record = run_ground(
        spec, item["image"], item["gt"], item["id"], query=item["query"], models=shared.get("models")
    )
    io.write_mask(out["mask"], mask)
    io.write_json(out["record"], provenance.stamp(record, "ground", key))


def tag(spec, key, item, out, shared):
    from amodal.imaging import io
    from amodal.stages.tag import run_tag

    record = run_tag(spec, item["gt"], item["id"], image_path=item["image"], models=shared.get("models"))
    io.write_json(out["record"], provenance.stamp(record, "tag", key))


def segment(spec, key, item, out, shared):
    from amodal.imaging import io
    from amodal.stages.segment import run_segment

    segments, record = run_segment(
        spec,
        item["reads"]["visible"],
        item["gt"],
        item["id"],
        image_path=item["image"],
        tags_path=item["reads"]["tags"],
        models=shared.get("models"),
    )
    io.write_segments(out["masks"], segments)
    io.write_json(out["record"], provenance.stamp(record, "segment", key))


def order(spec, key, item, out, shared):
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


def prompt(spec, key, item, out, shared):
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


def rgba(spec, key, item, out, shared):
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


def evaluate(spec, key, item, out, shared):
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


def with_query(item: dict) -> dict:
    """The item with its text query; a synthetic scene's query lives in its scene file."""
    if item.get("query") or not item.get("gt"):
        return item
    from amodal.imaging import io

    try:
        return dict(item, query=io.read_json(item["gt"]).get("query", ""))
    except (OSError, ValueError):
        return item  # the stage that needs it reports the unreadable file for this instance


def complete_shard(spec: dict, key: str, items: list[dict], shared: dict) -> dict[str, str]:
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


def external_shard(spec: dict, key: str, items: list[dict], shared: dict) -> dict[str, str]:
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
