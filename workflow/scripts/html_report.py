import sys

sys.stderr = open(snakemake.log[0], "w")

from amodal.html_report import build_report

datasets = list(snakemake.params.instances)
build_report(
    snakemake.output[0],
    cache_dir=snakemake.params.cache,
    experiments=snakemake.params.experiments,
    instances=snakemake.params.instances,
    comparison_tables=dict(zip(datasets, zip(snakemake.input.tables, snakemake.input.table_csvs))),
    experiment_tables={
        tuple(pair): paths
        for pair, paths in zip(snakemake.params.pairs, zip(snakemake.input.experiment_tables, snakemake.input.metrics))
    },
)
