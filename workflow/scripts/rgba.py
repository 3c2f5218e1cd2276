import sys

sys.stderr = open(snakemake.log[0], "w")

from amodal import io, provenance
from amodal.rgba import run_rgba
from amodal.stage import run_stage


def main():
    rgba, placement = run_rgba(
        snakemake.params.spec,
        snakemake.input.image,
        snakemake.input.visible,
        snakemake.input.complete,
        snakemake.input.completion,
        snakemake.input.amodal,
    )
    io.write_image(snakemake.output.rgba, rgba)
    io.write_json(snakemake.output.placement, provenance.stamp(placement, "rgba", snakemake.wildcards.rgba))


run_stage(dict(snakemake.input.items()), dict(snakemake.output.items()), main)
