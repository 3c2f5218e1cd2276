import sys

sys.stderr = open(snakemake.log[0], "w")

from amodal.tables.paper_files import write_ground_truth_tables

write_ground_truth_tables(
    list(snakemake.input.summaries),
    list(snakemake.input.metrics),
    experiments=snakemake.params.experiments,
    settings=snakemake.params.settings,
    dataset=snakemake.wildcards.dataset,
    outputs=dict(snakemake.output.items()),
    bootstrap_settings=snakemake.params.bootstrap,
)
