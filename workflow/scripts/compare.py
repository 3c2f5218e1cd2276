import sys

sys.stderr = open(snakemake.log[0], "w")

from amodal.tables.render import compare_experiments

compare_experiments(
    list(snakemake.input.summaries),
    list(snakemake.input.metrics),
    experiments=snakemake.params.experiments,
    descriptions=snakemake.params.descriptions,
    dataset=snakemake.wildcards.dataset,
    table_path=snakemake.output.table,
    csv_path=snakemake.output.csv,
)
