import sys

sys.stderr = open(snakemake.log[0], "w")

from amodal import io, provenance
from amodal.evaluate import failed_record, run_evaluate
from amodal.stage import run_stage


def main():
    record = run_evaluate(
        snakemake.params.spec,
        image=snakemake.input.image,
        visible=snakemake.input.visible,
        segments_npz=snakemake.input.masks,
        segments_json=snakemake.input.segments,
        order=snakemake.input.order,
        rgba=snakemake.input.rgba,
        placement=snakemake.input.placement,
        gt=snakemake.input.gt,
        instance=snakemake.wildcards.instance,
    )
    io.write_json(snakemake.output.metrics, provenance.stamp(record, "evaluate", snakemake.wildcards.evaluate))


run_stage(dict(snakemake.input.items()), dict(snakemake.output.items()), main, failed_record)
