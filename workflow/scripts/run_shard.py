import sys

sys.stderr = open(snakemake.log[0], "w")

from amodal.run.job import run_fused_job, run_job
from amodal.run.retry import attempted_once


def run_this_job():
    common = dict(
        shared=dict(snakemake.input.items()),
        gpus=snakemake.resources.get("gpu", 0),
        models=snakemake.config.get("models", {}),
        mem_mb=snakemake.resources.get("mem_mb"),
    )
    if snakemake.params.kind == "fused":
        run_fused_job(snakemake.params.members, **common)
    else:
        run_job(
            snakemake.params.kind,
            snakemake.params.spec,
            snakemake.params.key,
            snakemake.params.instances,
            manifest=snakemake.output[0],
            context=snakemake.params.context,
            **common,
        )


with attempted_once(snakemake.log[0], snakemake.resources.get("attempt", 1)):
    run_this_job()
