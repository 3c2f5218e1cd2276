import sys

sys.stderr = open(snakemake.log[0], "w")

from amodal import io, provenance
from amodal.segment import run_segment
from amodal.stage import run_stage


def main():
    masks, record = run_segment(
        snakemake.params.spec, snakemake.input.visible, snakemake.input.gt, snakemake.wildcards.instance
    )
    io.write_mask_stack(snakemake.output.masks, masks)
    io.write_json(snakemake.output.record, provenance.stamp(record, "segment", snakemake.wildcards.segment))


run_stage(dict(snakemake.input.items()), dict(snakemake.output.items()), main)
