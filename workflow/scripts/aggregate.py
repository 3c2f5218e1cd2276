import sys

sys.stderr = open(snakemake.log[0], "w")

from amodal.tables.render import aggregate_experiment

aggregate_experiment(
    snakemake.params.metrics,
    not_ok=snakemake.params.not_ok,
    experiment=snakemake.wildcards.experiment,
    dataset=snakemake.wildcards.dataset,
    description=snakemake.params.description,
    evaluate=snakemake.params.evaluate,
    instances=snakemake.params.instances,
    csv_path=snakemake.output.csv,
    table_path=snakemake.output.table,
    summary_path=snakemake.output.summary,
)
