import sys

sys.stderr = open(snakemake.log[0], "w")

from amodal import io, provenance
from amodal.segment import run_segment

masks, record = run_segment(
    snakemake.params.spec, snakemake.input.visible, snakemake.input.gt, snakemake.wildcards.instance
)
io.write_mask_stack(snakemake.output.masks, masks)
io.write_json(snakemake.output.record, provenance.stamp(record, "segment", snakemake.wildcards.segment))
