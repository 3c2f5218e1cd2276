import sys

sys.stderr = open(snakemake.log[0], "w")

from amodal import io, provenance
from amodal.order import run_order
from amodal.stage import run_stage


def main():
    record, occluders = run_order(
        snakemake.params.spec,
        snakemake.input.visible,
        snakemake.input.masks,
        snakemake.input.segments,
        snakemake.input.gt,
        snakemake.wildcards.instance,
    )
    io.write_mask(snakemake.output.occluders, occluders)
    io.write_json(snakemake.output.record, provenance.stamp(record, "order", snakemake.wildcards.order))


run_stage(dict(snakemake.input.items()), dict(snakemake.output.items()), main)
