from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/shards.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/paper_tables.smk"
include: "workflow/rules/html_report.smk"


rule all:
    default_target: True
    input:
        comparison_tables,
        all_paper_tables,
        f"{RESULTS}/report",
        missing_instance_folders,
