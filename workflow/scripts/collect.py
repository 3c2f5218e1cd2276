import sys

sys.stderr = open(snakemake.log[0], "w")

from amodal.report import collect_instance

collect_instance(
    dict(snakemake.input.items()),
    dict(snakemake.output.items()),
    keys=snakemake.params.stage_keys,
    stage_root=snakemake.params.stage_root.format(**snakemake.wildcards),
)
