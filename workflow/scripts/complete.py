import sys

sys.stderr = open(snakemake.log[0], "w")

from amodal import provenance
from amodal.complete import run_complete, write_completion
from amodal.stage import run_stage


def main():
    result, record = run_complete(
        snakemake.params.spec,
        snakemake.input.image,
        snakemake.input.visible,
        snakemake.input.ground,
        snakemake.input.occluders,
        snakemake.input.prompt,
        snakemake.input.wallpaper,
        snakemake.wildcards.instance,
    )
    write_completion(
        result,
        provenance.stamp(record, "complete", snakemake.wildcards.complete),
        record_path=snakemake.output.record,
        completion_path=snakemake.output.completion,
        amodal_path=snakemake.output.amodal,
        iterations_dir=snakemake.output.iterations,
    )


run_stage(dict(snakemake.input.items()), dict(snakemake.output.items()), main)
