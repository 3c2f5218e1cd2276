import sys

sys.stderr = open(snakemake.log[0], "w")

from amodal.run.job import run_fused_job, run_job

if snakemake.params.kind == "fused":
    run_fused_job(
        snakemake.params.members,
        shared=dict(snakemake.input.items()),
        gpus=snakemake.resources.get("gpu", 0),
        models=snakemake.config.get("models", {}),
    )
else:
    run_job(
        snakemake.params.kind,
        snakemake.params.spec,
        snakemake.params.key,
        snakemake.params.instances,
        manifest=snakemake.output[0],
        shared=dict(snakemake.input.items()),
        gpus=snakemake.resources.get("gpu", 0),
        models=snakemake.config.get("models", {}),
        context=snakemake.params.context,
    )
