rule aggregate:
    """One metrics table per experiment and dataset."""
    input:
        collect_manifests,
    output:
        csv=report(
            f"{RESULTS}/{{experiment}}/{{dataset}}/metrics.csv",
            caption="../report/experiment_table.rst",
            category="Experiments",
            subcategory="{experiment}",
        ),
        table=report(
            f"{RESULTS}/{{experiment}}/{{dataset}}/table.md",
            caption="../report/experiment_table.rst",
            category="Experiments",
            subcategory="{experiment}",
        ),
        summary=f"{RESULTS}/{{experiment}}/{{dataset}}/summary.json",
    log:
        f"{LOGS}/{{experiment}}/{{dataset}}/aggregate.log",
    localrule: True
    conda:
        "../../envs/amodal.yaml"
    params:
        metrics=experiment_metrics,
        not_ok=not_ok_instances,
        description=experiment_description,
        evaluate=experiment_evaluate,
        instances=instance_facts_rows,
    script:
        "../scripts/aggregate.py"


rule compare:
    """Experiments side by side for one dataset, with the metric definitions."""
    input:
        summaries=expand(
            f"{RESULTS}/{{experiment}}/{{{{dataset}}}}/summary.json",
            experiment=config["experiments"],
        ),
        metrics=expand(
            f"{RESULTS}/{{experiment}}/{{{{dataset}}}}/metrics.csv",
            experiment=config["experiments"],
        ),
    output:
        table=report(
            f"{RESULTS}/tables/{{dataset}}.md",
            caption="../report/comparison.rst",
            category="Tables",
            subcategory="{dataset}",
        ),
        csv=report(
            f"{RESULTS}/tables/{{dataset}}.csv",
            caption="../report/comparison.rst",
            category="Tables",
            subcategory="{dataset}",
        ),
    log:
        f"{LOGS}/tables/{{dataset}}.log",
    localrule: True
    conda:
        "../../envs/amodal.yaml"
    params:
        experiments=config["experiments"],
        descriptions=experiment_descriptions,
    script:
        "../scripts/compare.py"
