"""A stage for the salvage tests: it writes one record per instance, logs every call, and kills
its own process (SIGKILL, as the kernel's out-of-memory kill does) the first `kill[id]` times it
runs an instance. Importable by the child process `amodal.run.alone` spawns."""

import json
import os
import signal
from pathlib import Path

from amodal.declarations import Backend, Stage
from amodal.imaging import io

PROBE = Stage(
    name="probe",
    upstream=(),
    writes={"record": "record.json"},
    reads={},
    instance_reads=("image",),
    backends={"only": Backend("only")},
    runs="salvage_probe:body",
    bytes_per_pixel=100.0,
)
# the same, taking the shard as one batch, as the completion stage does
BATCHED = Stage(**{**PROBE.__dict__, "name": "batched", "runs": "salvage_probe:batch_body", "each": False})
# the same, reading the image although it declares no instance file (as tag or order read theirs)
UNDECLARED = Stage(**{**PROBE.__dict__, "name": "undeclared", "instance_reads": ()})
DECLARATIONS = {"probe": PROBE, "batched": BATCHED, "undeclared": UNDECLARED}


def calls(spec) -> list[str]:
    path = Path(spec["calls"])
    return path.read_text().split() if path.exists() else []


def body(spec, key, item, out, shared):
    before = calls(spec).count(item["id"])
    with open(spec["calls"], "a") as log:
        log.write(item["id"] + "\n")
    if before < spec.get("kill", {}).get(item["id"], 0):
        os.kill(os.getpid(), signal.SIGKILL)
    if item["id"] in spec.get("broken", ()):
        raise KeyError("a programming error")
    io.write_json(out["record"], {"value": item["id"], "image_bytes": Path(item["image"]).stat().st_size})


def batch_body(spec, key, items, shared):
    """Every item of the batch is called; one to be killed kills the whole batch first."""
    from amodal.plan import layout

    for item in items:
        body(spec, key, item, layout.files_in(item["folder"], PROBE.writes), shared)
    return {item["id"]: "ok" for item in items}


def items(folder: Path, ids) -> list[dict]:
    found = []
    for instance in ids:
        image = folder / "images" / f"{instance}.png"
        if not image.exists():
            image.parent.mkdir(parents=True, exist_ok=True)
            io.write_mask(image, [[True, False], [False, True]])
        found.append({"id": instance, "folder": str(folder / "stages" / instance), "reads": {}, "image": str(image)})
    return found


def run(folder: Path, ids, spec: dict, limit=None) -> dict:
    """The probe stage (spec `stage`: probe or batched) over `ids` with a salvage in `folder`
    (the job of a shard)."""
    from amodal.run.job import run_stage_job
    from amodal.run.salvage import Salvage

    spec = dict(spec, backend="only")
    stage = spec.get("stage", "probe")
    salvage = Salvage(folder / "salvage")
    return run_stage_job(stage, spec, "k", items(folder, ids), {}, DECLARATIONS, salvage=salvage, limit=limit)


if __name__ == "__main__":  # python salvage_probe.py FOLDER SPEC_JSON ID...: one attempt of the job
    import sys

    print(json.dumps(run(Path(sys.argv[1]), sys.argv[3:], json.loads(sys.argv[2]))))
