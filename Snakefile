from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/datasets.smk"
include: "workflow/rules/ground.smk"
include: "workflow/rules/tag.smk"
include: "workflow/rules/segment.smk"
include: "workflow/rules/order.smk"
include: "workflow/rules/prompt.smk"
include: "workflow/rules/complete.smk"
include: "workflow/rules/rgba.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/aggregate.smk"


rule all:
    input:
        all_targets,
    default_target: True


rule tables:
    input:
        comparison_tables,
