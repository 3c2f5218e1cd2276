import sys

sys.stderr = open(snakemake.log[0], "w")

from amodal import io, provenance
from amodal.evaluate import run_evaluate

record = run_evaluate(
    snakemake.params.spec,
    image=snakemake.input.image,
    visible=snakemake.input.visible,
    segments_npz=snakemake.input.masks,
    segments_json=snakemake.input.segments,
    order=snakemake.input.order,
    complete=snakemake.input.complete,
    rgba=snakemake.input.rgba,
    placement=snakemake.input.placement,
    gt=snakemake.input.gt,
    instance=snakemake.wildcards.instance,
)
io.write_json(snakemake.output.metrics, provenance.stamp(record, "evaluate", snakemake.wildcards.evaluate))
