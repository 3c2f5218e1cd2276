import sys

sys.stderr = open(snakemake.log[0], "w")

from amodal.report.html import build_report, paper_tables_by_dataset

datasets = list(snakemake.params.instances)
build_report(
    snakemake.output[0],
    cache_dir=snakemake.params.cache,
    experiments=snakemake.params.experiments,
    instances=snakemake.params.instances,
    comparison_tables=dict(zip(datasets, zip(snakemake.input.tables, snakemake.input.table_csvs))),
    paper_tables=paper_tables_by_dataset(
        snakemake.params.paper_tables,
        snakemake.input.paper_tables,
        snakemake.input.paper_csvs,
        snakemake.input.paper_texs,
    ),
    experiment_tables={
        tuple(pair): paths
        for pair, paths in zip(snakemake.params.pairs, zip(snakemake.input.experiment_tables, snakemake.input.metrics))
    },
)
