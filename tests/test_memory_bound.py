"""The segment stage under a hard memory limit (`ulimit -v` set on the job's process): thousands
of background regions cost one label map, and an instance that cannot fit fails alone with its
status while its shard-mates finish and keep their folders."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from amodal.config.schema import validated
from amodal.imaging import io

GIB = 2**30
# The address space the segment job may add to what its libraries reserve: the 4096 px scene
# with 38,024 background regions fits in 1.5 GiB (its estimate, 60 bytes a pixel, is 1 GB); one
# full-frame mask per region, as segments were once held, would need 38,024 x 16.8 MB = 640 GB.
BUDGET = int(1.5 * GIB)

JOB = """
import dataclasses, json, resource, sys
import cv2, numpy, skimage.morphology  # what the stage imports, so the budget is the stage's work
cv2.dilate(numpy.zeros((64, 64), numpy.uint8), numpy.ones((3, 3), numpy.uint8))  # its thread pool started
from amodal.declarations import STAGES
from amodal.run.job import run_stage_job
from amodal.run.memory import MemoryLimit, _status_field
job = json.load(open(sys.argv[1]))
limit = _status_field("VmSize") + job["budget"]
resource.setrlimit(resource.RLIMIT_AS, (limit, limit))  # `ulimit -v` on the job
declarations = dict(STAGES)
if job["rate"] is not None:  # the stage's declared bytes per pixel, replaced
    declarations["segment"] = dataclasses.replace(STAGES["segment"], bytes_per_pixel=job["rate"])
statuses = run_stage_job("segment", job["spec"], "k", job["items"], {}, declarations, limit=MemoryLimit())
print(json.dumps({"statuses": statuses, "peak_rss": _status_field("VmHWM")}))
"""


def grid(shape, cell=16, wall=5):
    rows, cols = (np.arange(n) % (cell + wall) >= cell for n in shape)
    return rows[:, None] | cols[None, :]


def write_scene(folder: Path, shape, walls: np.ndarray) -> dict:
    """A scene in the synthetic benchmark's files: the target is the top-left 16 px cell, the one
    other object the walls; returns the segment stage's item for it."""
    folder.mkdir(parents=True)
    visible = np.zeros(shape, bool)
    visible[:16, :16] = True
    io.write_image(folder / "image.png", np.full(shape + (3,), 128, np.uint8))
    io.write_mask(folder / "visible_mask.png", visible)
    io.write_mask(folder / "amodal_mask.png", visible)
    io.write_image(folder / "whole.png", np.zeros((16, 16, 4), np.uint8))
    (folder / "objects").mkdir()
    io.write_mask(folder / "objects" / "1.png", walls)
    record = {
        "query": "the cell",
        "category": "cell",
        "whole_offset": [0, 0],
        "occludes": [],
        "objects": [{"index": 0, "category": "cell"}, {"index": 1, "category": "wall", "mask": "objects/1.png"}],
    }
    (folder / "scene.json").write_text(json.dumps(record))
    return {
        "id": folder.name,
        "folder": str(folder.parent.parent / "stages" / folder.name / "segment"),
        "reads": {"visible": str(folder / "visible_mask.png"), "tags": str(folder / "tags.json")},
        "image": str(folder / "image.png"),
        "gt": str(folder / "scene.json"),
    }


def run_limited(tmp_path: Path, items: list[dict], budget: int, rate: float | None = None) -> dict:
    """The segment stage over `items` in a process whose address space is capped at what its
    libraries take plus `budget` (`rate`: the stage's bytes per pixel in place of the declared one)."""
    spec = validated({"segment": {"backend": "oracle"}}, "experiment.schema.yaml")["segment"]
    job = tmp_path / "job.json"
    job.write_text(json.dumps({"spec": spec, "items": items, "rate": rate, "budget": budget}))
    done = subprocess.run(
        [sys.executable, "-c", JOB, str(job)],
        capture_output=True,
        text=True,
        # one thread of each pool, two malloc arenas: the address space does not grow with the cores
        env=dict(
            os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", OPENCV_FOR_THREADS_NUM="1", MALLOC_ARENA_MAX="2"
        ),
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_thirty_eight_thousand_background_regions_fit_in_one_and_a_half_gib(tmp_path):
    shape = (4096, 4096)
    item = write_scene(tmp_path / "scenes" / "cells", shape, grid(shape))
    out = run_limited(tmp_path, [item], BUDGET)
    assert out["statuses"] == {"cells": "ok"}
    records = io.read_json(Path(item["folder"]) / "segments.json")["segments"]
    # 4096 = 195 x 21 + 1: 195 x 195 cells of 16 px (the last px column and row erode away), less
    # the target's own cell
    assert len(records) == 1 + 195 * 195 - 1
    segments = io.read_segments(Path(item["folder"]) / "segments.npz")
    assert segments.n_regions == 38_024 and segments.masks.shape == (1,) + shape
    print(f"peak resident {out['peak_rss'] / 2**20:.0f} MB with {BUDGET / GIB:.1f} GiB of address space to add")


@pytest.mark.parametrize("estimate", [True, False])
def test_an_instance_that_cannot_fit_fails_alone_and_its_shard_mates_finish(tmp_path, estimate):
    small, big = (300, 400), (6000, 8000)
    items = [
        write_scene(tmp_path / "scenes" / "small_a", small, grid(small)),
        write_scene(tmp_path / "scenes" / "big", big, grid(big, cell=40)),
        write_scene(tmp_path / "scenes" / "small_b", small, grid(small)),
    ]
    if estimate:  # the stage's measured rate says it cannot fit: refused before it runs
        out = run_limited(tmp_path, items, GIB // 2)
        failure, words = "too_large", ["8000x6000", "stage segment", "address space"]
    else:  # without an estimate the stage runs and meets the limit itself
        out = run_limited(tmp_path, items, GIB // 4, rate=0.0)
        failure, words = "out_of_memory", ["out of host memory in stage segment"]
    assert out["statuses"] == {"small_a": "ok", "big": "failed", "small_b": "ok"}
    record = io.read_json(Path(items[1]["folder"]) / "segments.json")
    assert record["status"] == "failed" and record["failure"] == failure
    assert all(word in record["reason"] for word in ["'big'", *words]), record["reason"]
    for item in (items[0], items[2]):
        assert len(io.read_json(Path(item["folder"]) / "segments.json")["segments"]) > 100
