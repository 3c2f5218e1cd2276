import sys

sys.stderr = open(snakemake.log[0], "w")

from amodal import io, provenance
from amodal.tag import run_tag
from amodal.stage import run_stage


def main():
    record = run_tag(snakemake.params.spec, snakemake.input.gt, snakemake.wildcards.instance)
    io.write_json(snakemake.output.record, provenance.stamp(record, "tag", snakemake.wildcards.tag))


run_stage(dict(snakemake.input.items()), dict(snakemake.output.items()), main)
