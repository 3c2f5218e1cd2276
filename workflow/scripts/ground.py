import sys

sys.stderr = open(snakemake.log[0], "w")

from amodal import io, provenance
from amodal.ground import run_ground
from amodal.stage import run_stage


def main():
    mask, record = run_ground(
        snakemake.params.spec, snakemake.input.image, snakemake.input.gt, snakemake.wildcards.instance
    )
    io.write_mask(snakemake.output.mask, mask)
    io.write_json(snakemake.output.record, provenance.stamp(record, "ground", snakemake.wildcards.ground))


run_stage(dict(snakemake.input.items()), dict(snakemake.output.items()), main)
