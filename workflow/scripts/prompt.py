import sys

sys.stderr = open(snakemake.log[0], "w")

from amodal import io, provenance
from amodal.prompt import run_prompt
from amodal.stage import run_stage


def main():
    record = run_prompt(snakemake.params.spec, snakemake.params.query, snakemake.input.gt)
    io.write_json(snakemake.output.record, provenance.stamp(record, "prompt", snakemake.wildcards.prompt))


run_stage(dict(snakemake.input.items()), dict(snakemake.output.items()), main)
