"""One declaration per stage: its whole contract in one place.

A `Stage` says which stages' files it reads (`upstream`), the files it writes into its
per-instance folder (`writes`) and under which names it reads earlier stages' files
(`reads`), which of the instance's own files it opens (`instance_reads`), what runs it, and
its backends. A `Backend` says its device class, whether it needs ground truth, which of its
settings name checkpoints, and where it departs from its stage (an external completion reads
only the grounding and runs its own job body). Planning (`amodal.plan.keys`,
`amodal.plan.jobs`), the file layout (`amodal.plan.layout`), running (`amodal.run.job`), the
preflight checks and `amodal doctor` (`amodal.plan.preflight`) and the experiment schema's
backend lists (`amodal.config.schema`) are all derived from `STAGES`; nothing else names a
stage or a backend to decide what to do.

Functions are named as "module:function" strings and imported only when called
(`resolve`): this module imports nothing of amodal, so every package may read it (the
config schema at the bottom as well as planning and running), and planning never loads torch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Backend:
    """One way of doing a stage.

    device: "gpu" when its jobs take the GPU shard size and resources and claim a device
        (amodal.run.devices), else "cpu".
    needs_truth: it reads the dataset's ground truth (a dataset without it cannot run it).
    weights: the keys of its settings section (`spec[stage][backend]`) whose values name a
        checkpoint it loads (a weights name, a diffusers folder or a Hugging Face id).
    upstream, shared, runs: where it departs from its stage's (None: the stage's own).
    job_inputs: "module:function" (spec, dataset, members) -> files the job reads besides the
        upstream manifests.
    item_fields: "module:function" (spec, dataset, instance) -> fields every instance's item
        carries besides the stage's.
    settings_check: "module:function" (experiment, spec, models) -> a line naming what the
        config or the experiment lacks for it, or None; checked before any job.
    doctor_row: "module:function" (experiment, spec, models) -> (what, state, usable): its line
        in `amodal doctor` besides the checkpoints.
    bytes_per_pixel: where its host memory per pixel departs from its stage's (None: the stage's).
    """

    name: str
    device: str = "cpu"
    needs_truth: bool = False
    weights: tuple[str, ...] = ()
    upstream: tuple[str, ...] | None = None
    shared: tuple[str, ...] | None = None
    runs: str | None = None
    job_inputs: str | None = None
    item_fields: str | None = None
    settings_check: str | None = None
    doctor_row: str | None = None
    bytes_per_pixel: float | None = None


@dataclass(frozen=True)
class Stage:
    """One stage of the pipeline.

    upstream: the stages whose files it reads directly (ancestors come through their keys).
    writes: name -> file name in its per-instance folder.
    reads: the name it reads a file under -> (stage that wrote it, that stage's name for it).
    instance_reads: which of the instance's own files (image, gt) it opens.
    runs: "module:function" that does its work; with `each`, the function handles one
        instance (spec, key, item, out, shared, models), isolated by run_stage so a bad
        input fails only its instance; without, it takes the whole shard (spec, key, items,
        shared, models) -> statuses.
    failed_record: "module:function" (reason) -> the record written for a failed instance
        (None: amodal.run.isolation's default).
    shared: config keys whose files every job of the stage reads (the wallpaper).
    context: upstream stages whose specs its backends read (the model completion re-segments
        and re-orders with the experiment's segment and order settings).
    row_fields: instance-table fields its items carry when set (the rgba stage places results
        in the source photo of a scaled working image).
    optional_metrics: settings of its own spec ({enabled, model}) that load a checkpoint when
        enabled and found; an absent one is reported `missing`, nothing stops; one that is
        found makes the stage GPU-class.
    bytes_per_pixel: its peak host memory per instance beyond what its job already holds, per
        pixel of the working image: the weight-free backends' figure measured by
        benchmarks/memory_per_stage.py (docs/PERFORMANCE.md; the tests' tiny models for segment and
        rgba, whose figures were higher), a quarter above the fit, checked
        before each instance runs (amodal.run.memory). 0: not checked (prompt reads no image);
        a backend may give its own (complete's, whose batch is checked instance by instance).
    """

    name: str
    upstream: tuple[str, ...]
    writes: dict[str, str]
    reads: dict[str, tuple[str, str]]
    instance_reads: tuple[str, ...]
    backends: dict[str, Backend]
    runs: str
    each: bool = True
    failed_record: str | None = None
    shared: tuple[str, ...] = ()
    context: tuple[str, ...] = ()
    row_fields: tuple[str, ...] = ()
    optional_metrics: tuple[str, ...] = ()
    bytes_per_pixel: float = 0.0

    def backend(self, spec: dict) -> Backend:
        """The declaration of the backend `spec` (this stage's section of an experiment) names."""
        try:
            return self.backends[spec["backend"]]
        except KeyError:
            raise ValueError(
                f"{self.name}: unknown backend {spec['backend']!r}; one of {sorted(self.backends)}"
            ) from None

    def upstream_of(self, spec: dict) -> tuple[str, ...]:
        found = self.backend(spec).upstream
        return self.upstream if found is None else found

    def shared_of(self, spec: dict) -> tuple[str, ...]:
        found = self.backend(spec).shared
        return self.shared if found is None else found

    def bytes_per_pixel_of(self, spec: dict) -> float:
        found = self.backend(spec).bytes_per_pixel
        return self.bytes_per_pixel if found is None else found

    def runs_of(self, spec: dict) -> tuple[str, bool]:
        """The function that runs it with this backend, and whether it takes one instance."""
        found = self.backend(spec).runs
        return (self.runs, self.each) if found is None else (found, False)

    def weights_of(self, spec: dict) -> list[str]:
        """The checkpoints its backend loads (values of the settings its declaration names)."""
        backend = self.backend(spec)
        return [spec[backend.name][key] for key in backend.weights]

    def metric_weights_of(self, spec: dict) -> dict[str, str]:
        """Enabled optional metric -> the checkpoint it loads."""
        return {m: spec[m]["model"] for m in self.optional_metrics if (spec.get(m) or {}).get("enabled")}


def _stage(**fields) -> Stage:
    backends = {b.name: b for b in fields.pop("backends")}
    return Stage(backends=backends, **fields)


GROUNDED_SAM_WEIGHTS = ("detector", "text_encoder", "sam")
BODIES = "amodal.run.bodies"

STAGES: dict[str, Stage] = {
    stage.name: stage
    for stage in (
        _stage(
            name="ground",
            bytes_per_pixel=23.0,
            upstream=(),
            writes={"mask": "visible_mask.png", "record": "ground.json"},
            reads={},
            instance_reads=("image", "gt"),
            runs=f"{BODIES}:ground",
            backends=[
                Backend("oracle", needs_truth=True),
                Backend("grounded_sam", device="gpu", weights=GROUNDED_SAM_WEIGHTS),
                # LISA runs in its own server: the job only waits on the network (docs/lisa.md)
                Backend(
                    "lisa",
                    settings_check="amodal.plan.preflight:lisa_address_problem",
                    doctor_row="amodal.plan.preflight:lisa_row",
                ),
            ],
        ),
        _stage(
            name="tag",
            bytes_per_pixel=9.0,
            upstream=(),
            writes={"record": "tags.json"},
            reads={},
            instance_reads=("gt",),
            runs=f"{BODIES}:tag",
            backends=[
                Backend("oracle", needs_truth=True),
                Backend("clip_vocab", device="gpu", weights=("model",)),
                Backend("ram_plus", device="gpu", weights=("model",)),
            ],
        ),
        _stage(
            name="segment",
            upstream=("ground", "tag"),
            writes={"masks": "segments.npz", "record": "segments.json"},
            bytes_per_pixel=60.0,
            reads={"visible": ("ground", "mask"), "ground": ("ground", "record"), "tags": ("tag", "record")},
            instance_reads=("gt",),
            runs=f"{BODIES}:segment",
            backends=[
                Backend("oracle", needs_truth=True),
                Backend("grounded_sam", device="gpu", weights=GROUNDED_SAM_WEIGHTS),
            ],
        ),
        _stage(
            name="order",
            bytes_per_pixel=33.0,
            upstream=("segment",),
            writes={"record": "order.json", "occluders": "occluder_mask.png"},
            reads={"visible": ("ground", "mask"), "masks": ("segment", "masks"), "segments": ("segment", "record")},
            instance_reads=("gt",),
            runs=f"{BODIES}:order",
            backends=[
                Backend("geometric"),
                Backend("instaorder", device="gpu", weights=("model",)),
                Backend("depth", device="gpu", weights=("model",)),
                Backend("oracle", needs_truth=True),
            ],
        ),
        _stage(
            name="prompt",
            upstream=("ground", "tag"),
            writes={"record": "prompt.json"},
            reads={"visible": ("ground", "mask"), "ground": ("ground", "record"), "tags": ("tag", "record")},
            instance_reads=("gt",),
            runs=f"{BODIES}:prompt",
            backends=[Backend("query"), Backend("clip", device="gpu", weights=("model",))],
        ),
        _stage(
            name="complete",
            upstream=("order", "prompt"),
            writes={
                "record": "complete.json",
                "completion": "completion.png",
                "amodal": "amodal_mask.png",
                "iterations": "iterations",
            },
            reads={
                "visible": ("ground", "mask"),
                "ground": ("ground", "record"),
                "occluders": ("order", "occluders"),
                "order": ("order", "record"),
                "prompt": ("prompt", "record"),
                "tags": ("tag", "record"),  # the model backend re-segments every pass over the tags
            },
            instance_reads=("image",),
            # the loop runs the shard's instances together, so a model backend batches them pass by pass
            runs=f"{BODIES}:complete_shard",
            each=False,
            shared=("wallpaper",),
            context=("segment", "order"),
            backends=[
                Backend("classical", bytes_per_pixel=24.0),
                # the tests' tiny models on the CPU: 104 bytes a pixel; full size on the GPU: 19
                Backend("diffusers", device="gpu", weights=("model",), bytes_per_pixel=130.0),
                # another method's saved outputs: of the stages above only the grounding is planned
                # (the visible-region metrics compare the same pixels for every method)
                Backend(
                    "external",
                    upstream=("ground",),
                    shared=(),
                    runs=f"{BODIES}:external_shard",
                    job_inputs="amodal.stages.complete.external:external_inputs",
                    item_fields="amodal.stages.complete.external:external_item_fields",
                    settings_check="amodal.plan.preflight:external_folder_problem",
                    doctor_row="amodal.plan.preflight:external_folder_row",
                ),
            ],
        ),
        _stage(
            name="rgba",
            bytes_per_pixel=95.0,
            upstream=("complete",),
            writes={"rgba": "amodal.png", "placement": "placement.json"},
            reads={
                "visible": ("ground", "mask"),
                "complete": ("complete", "record"),
                "completion": ("complete", "completion"),
                "amodal": ("complete", "amodal"),
            },
            instance_reads=("image",),
            runs=f"{BODIES}:rgba",
            # only the rgba stage places results in the photo itself (amodal.datasets.working)
            row_fields=("source_image",),
            backends=[Backend("blend"), Backend("as_is")],
        ),
        _stage(
            name="evaluate",
            bytes_per_pixel=65.0,
            upstream=("rgba",),
            writes={"metrics": "metrics.json"},
            reads={
                "visible": ("ground", "mask"),
                "masks": ("segment", "masks"),
                "segments": ("segment", "record"),
                "order": ("order", "record"),
                "rgba": ("rgba", "rgba"),
                "placement": ("rgba", "placement"),
            },
            instance_reads=("image", "gt"),
            runs=f"{BODIES}:evaluate",
            failed_record="amodal.stages.evaluate:failed_record",
            optional_metrics=("clip_score", "lpips", "feature_similarity"),
            backends=[Backend("standard")],
        ),
    )
}

STAGE_ORDER: tuple[str, ...] = tuple(STAGES)


def gpu_backends(stages: dict[str, Stage] = STAGES) -> frozenset[tuple[str, str]]:
    """(stage, backend) of every GPU-class backend."""
    return frozenset((s.name, b.name) for s in stages.values() for b in s.backends.values() if b.device == "gpu")


def truth_backends(stages: dict[str, Stage] = STAGES) -> frozenset[tuple[str, str]]:
    """(stage, backend) of every backend that reads the ground truth."""
    return frozenset((s.name, b.name) for s in stages.values() for b in s.backends.values() if b.needs_truth)


def resolve(name: str) -> Callable:
    """The function a declaration names as "module:function"."""
    module, _, function = name.partition(":")
    return getattr(importlib.import_module(module), function)
