"""Every job of a run, planned once from the config, the experiments and the instance tables.

A job processes one shard of one dataset for one stage folder key (or one experiment, for
`collect`). Its outputs are the per-instance folders it fills, so Snakemake caches and checks
each instance's stage folder. Jobs depend on each other through shard manifests (see
`Workplan`), on the stages directly upstream (`amodal.plan.keys.upstream`) only: a stage also reads
files of earlier ancestors (complete reads ground's mask), and those reach it through the
chain, since whatever reruns an ancestor reruns every stage between. The workflow turns each job into one rule (`workflow/rules/*.smk`), and
`benchmarks/classical_speed.py` runs the very same jobs in one process, so both do the same
work. Nothing here imports Snakemake.
"""

from __future__ import annotations

import pandas as pd

from amodal.plan import layout
from amodal.plan.fusing import fuse, fused_classes
from amodal.plan.job import Job, rule_name
from amodal.plan.resources import shard_size
from amodal.datasets.table import OK
from amodal.declarations import STAGES, resolve
from amodal.plan.keys import Declarations, FolderKeys, device_class
from amodal.plan.shards import shards


class Workplan:
    """All jobs of a run. `tables` are the datasets' instance tables (amodal.datasets.table);
    what each stage reads, writes and runs on comes from `declarations` (the shipped stage
    declarations; tests hand in changed ones).

    Every job also writes a manifest, `<results>/shards/<dataset>/<kind>/<key>/<shard>.json`,
    after all its instances (their ids and statuses). Jobs depend on each other through these
    manifests: a job's inputs are the manifests of the upstream shards that hold its
    instances, not every instance folder, so Snakemake plans a few files per shard instead of
    dozens per instance. Each instance folder is still an output of its job, and
    `missing_outputs` lets `rule all` ask for the ones that are gone: a missing folder reruns
    its job, and whatever reads its manifest after it.
    """

    def __init__(
        self, config: dict, plan: FolderKeys, tables: dict[str, pd.DataFrame], declarations: Declarations = STAGES
    ):
        self.config = config
        self.declarations = declarations
        self.plan = plan
        self.results = config["results"]
        self.tables = tables
        self.rows = {name: {row["id"]: row for row in table.to_dict("records")} for name, table in tables.items()}
        self.jobs: list[Job] = []  # one per stage and shard, whether fused or not
        self.collected: dict[tuple[str, str], list[str]] = {}
        self.collect_manifests: dict[tuple[str, str], list[str]] = {}
        self._sources: dict[tuple[str, str], list[str]] = {}
        for dataset, table in tables.items():
            ids = list(table["id"])
            runnable = list(table["status"] == OK)
            self._plan_dataset(dataset, ids, runnable)
        # what the workflow makes rules of: `jobs`, fused where config `fuse` asks
        self.rules: list[Job] = fuse(self.jobs, fused_classes(config), self.results)

    # ------------------------------------------------------------------ queries

    def by_kind(self, kind: str) -> list[Job]:
        return [job for job in self.jobs if job.kind == kind]

    def ok_ids(self, dataset: str) -> list[str]:
        return [i for i, row in self.rows[dataset].items() if row["status"] == OK]

    def not_ok(self, dataset: str) -> list[dict]:
        return [
            {"id": i, "status": row["status"], "message": row["message"]}
            for i, row in self.rows[dataset].items()
            if row["status"] != OK
        ]

    def missing_outputs(self) -> list[str]:
        """Instance folders that are gone although their job's manifest is there.

        Snakemake checks only the outputs that something downstream asks for, and jobs ask for
        manifests; `rule all` asks for these folders too, so a removed instance folder, or a
        shard that gained instances, reruns its job (and, through its manifest, what follows).
        """
        import os

        return [
            folder
            for job in self.jobs
            if os.path.exists(job.manifest)
            for folder in job.outputs
            if not os.path.isdir(folder)
        ]

    def metrics_files(self, experiment: str, dataset: str) -> list[str]:
        """Every collected metrics file of one experiment and dataset, in table order."""
        return [layout.collected_outputs(folder)["metrics"] for folder in self.collected[(experiment, dataset)]]

    # ------------------------------------------------------------------ planning

    def _is_synthetic(self, dataset: str) -> bool:
        return self.config["datasets"][dataset].get("format") == "synthetic"

    def _manifests(self, dataset: str, kind: str, key: str, members: list[str], shard_of: dict) -> list[str]:
        """The manifests of the `kind` shards that hold `members`, in shard order."""
        names = sorted({shard_of[i] for i in members})
        return [layout.shard_manifest(self.results, dataset, kind, key, name) for name in names]

    def _plan_dataset(self, dataset: str, ids: list[str], runnable: list[bool]) -> None:
        sizes = {device: shard_size(self.config, device) for device in ("cpu", "gpu")}
        by_device = {device: shards(ids, runnable, size) for device, size in sizes.items()}
        shard_of = {
            device: {i: name for name, members in found.items() for i in members} for device, found in by_device.items()
        }
        stage_device: dict[tuple[str, str], str] = {}
        if self._is_synthetic(dataset):
            for shard, members in by_device["cpu"].items():
                self._scene_job(dataset, shard, members)
        for experiment, keys in self.plan.keys.items():
            for stage, key in keys.items():  # the experiment's planned stages, in STAGES order
                if (stage, key) in stage_device:
                    continue
                run = self.plan.run(stage, key)
                spec = run.spec
                self._check_ground_truth(dataset, experiment, stage, spec, ids, runnable)
                declared = self.declarations[stage]
                device = stage_device[(stage, key)] = device_class(
                    stage, spec, self.config.get("models"), self.declarations
                )
                for shard, members in by_device[device].items():
                    if run.upstream:
                        needs = [
                            m
                            for up, up_key in run.upstream.items()
                            for m in self._manifests(dataset, up, up_key, members, shard_of[stage_device[(up, up_key)]])
                        ]
                    elif self._is_synthetic(dataset):
                        needs = self._manifests(dataset, "scenes", "synthetic", members, shard_of["cpu"])
                    else:
                        rows = self.rows[dataset]
                        needs = [rows[i][name] for i in members for name in declared.instance_reads if rows[i][name]]
                    if declared.backend(spec).job_inputs:
                        needs = needs + resolve(declared.backend(spec).job_inputs)(spec, dataset, members)
                    self._stage_job(dataset, stage, key, spec, device, shard, members, needs)
            self.collected[(experiment, dataset)] = []
            self.collect_manifests[(experiment, dataset)] = []
            evaluate_shards = shard_of[stage_device[("evaluate", keys["evaluate"])]]
            for shard, members in by_device["cpu"].items():
                needs = self._manifests(dataset, "evaluate", keys["evaluate"], members, evaluate_shards)
                self._collect_job(dataset, experiment, keys, shard, members, needs)

    def _check_ground_truth(self, dataset, experiment, stage, spec, ids, runnable) -> None:
        if not self.declarations[stage].backend(spec).needs_truth:
            return
        lacking = [i for i, ok in zip(ids, runnable) if ok and not self.rows[dataset][i]["gt"]]
        if lacking:
            raise ValueError(
                f"experiment {experiment!r} uses {stage} backend {spec['backend']!r}, which needs ground truth, "
                f"but {len(lacking)} instance(s) of dataset {dataset!r} have none (e.g. {lacking[0]!r}); "
                "choose a backend that needs no ground truth for this dataset"
            )

    def _scene_sources(self, spec: dict) -> list[str]:
        """The cutout and background files scenes are made from (listed once per folder pair)."""
        from amodal.synthetic.sources import source_files

        pair = (str(spec["cutouts"]), str(spec["backgrounds"]))
        if pair not in self._sources:
            self._sources[pair] = source_files(*pair)
        return self._sources[pair]

    def _scene_job(self, dataset: str, shard: str, members: list[str]) -> None:
        # Without n_scenes: growing the benchmark must not change the params of existing shards.
        spec = {k: v for k, v in self.config["datasets"][dataset].items() if k not in ("n_scenes", "max_side")}
        self.jobs.append(
            Job(
                rule=rule_name("scenes", dataset, shard),
                kind="scenes",
                dataset=dataset,
                shard=shard,
                key="synthetic",
                spec=spec,
                items=[{"id": i, "folder": layout.scene_folder(self.results, dataset, i)} for i in members],
                inputs=self._scene_sources(spec),
                outputs=[layout.scene_folder(self.results, dataset, i) for i in members],
                manifest=layout.shard_manifest(self.results, dataset, "scenes", "synthetic", shard),
                log=layout.shard_log(self.results, dataset, "scenes", "synthetic", shard),
                benchmark=layout.shard_benchmark(self.results, dataset, "scenes", "synthetic", shard),
            )
        )

    def _stage_job(self, dataset, stage, key, spec, device, shard, members, needs) -> None:
        lineage = dict(self.plan.run(stage, key).lineage)
        declared = self.declarations[stage]
        item_fields = declared.backend(spec).item_fields
        items = []
        for instance in members:
            row = self.rows[dataset][instance]
            folders = {up: layout.stage_folder(self.results, dataset, instance, up, lineage[up]) for up in lineage}
            # a stage reads what its experiment planned (an external completion plans no order stage)
            reads = {
                name: layout.stage_outputs(folders[up], up)[file]
                for name, (up, file) in declared.reads.items()
                if up in folders
            }
            items.append(
                {
                    "id": instance,
                    "image": row["image"],
                    "gt": row["gt"],
                    "query": row["query"],
                    **{name: row[name] for name in declared.row_fields if row.get(name)},
                    **(resolve(item_fields)(spec, dataset, instance) if item_fields else {}),
                    "reads": reads,
                    "folder": layout.stage_folder(self.results, dataset, instance, stage, key),
                }
            )
        shared = {name: self.config[name] for name in declared.shared_of(spec)}
        context = {up: self.plan.run(up, lineage[up]).spec for up in declared.context if up in lineage}
        self.jobs.append(
            Job(
                rule=rule_name(stage, dataset, key, shard),
                kind=stage,
                dataset=dataset,
                shard=shard,
                key=key,
                spec=spec,
                items=items,
                inputs=list(dict.fromkeys(needs)),
                outputs=[item["folder"] for item in items],
                manifest=layout.shard_manifest(self.results, dataset, stage, key, shard),
                log=layout.shard_log(self.results, dataset, stage, key, shard),
                benchmark=layout.shard_benchmark(self.results, dataset, stage, key, shard),
                device=device,
                shared=shared,
                context=context,
            )
        )

    def _collect_job(self, dataset, experiment, keys, shard, members, needs) -> None:
        items = []
        for instance in members:
            folders = {
                stage: layout.stage_folder(self.results, dataset, instance, stage, key) for stage, key in keys.items()
            }
            reads = {
                name: layout.stage_outputs(folders[stage], stage)[file]
                for name, (stage, file) in layout.DELIVERABLES.items()
            }
            folder = layout.experiment_folder(self.results, experiment, dataset, instance)
            items.append({"id": instance, "reads": reads, "stages": folders, "folder": folder})
            self.collected[(experiment, dataset)].append(folder)
        manifest = layout.shard_manifest(self.results, dataset, "collect", experiment, shard)
        self.collect_manifests[(experiment, dataset)].append(manifest)
        self.jobs.append(
            Job(
                rule=rule_name("collect", dataset, experiment, shard),
                kind="collect",
                dataset=dataset,
                shard=shard,
                key=experiment,
                spec={},
                items=items,
                inputs=needs,
                outputs=[item["folder"] for item in items],
                manifest=manifest,
                log=layout.shard_log(self.results, dataset, "collect", experiment, shard),
                benchmark=layout.shard_benchmark(self.results, dataset, "collect", experiment, shard),
            )
        )
