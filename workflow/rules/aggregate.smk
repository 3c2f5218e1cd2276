rule aggregate:
    """One metrics table per experiment and dataset."""
    input:
        collect_manifests,
    output:
        csv=f"{RESULTS}/{{experiment}}/{{dataset}}/metrics.csv",
        table=f"{RESULTS}/{{experiment}}/{{dataset}}/table.md",
        summary=f"{RESULTS}/{{experiment}}/{{dataset}}/summary.json",
    params:
        metrics=experiment_metrics,
        not_ok=not_ok_instances,
        description=experiment_description,
    log:
        f"{LOGS}/{{experiment}}/{{dataset}}/aggregate.log",
    localrule: True
    conda:
        "../../envs/amodal.yaml"
    script:
        "../scripts/aggregate.py"


rule compare:
    """Experiments side by side for one dataset, with the metric definitions."""
    input:
        summaries=expand(
            f"{RESULTS}/{{experiment}}/{{{{dataset}}}}/summary.json",
            experiment=config["experiments"],
        ),
    output:
        table=f"{RESULTS}/tables/{{dataset}}.md",
        csv=f"{RESULTS}/tables/{{dataset}}.csv",
    params:
        experiments=config["experiments"],
        descriptions=experiment_descriptions,
    log:
        f"{LOGS}/tables/{{dataset}}.log",
    localrule: True
    conda:
        "../../envs/amodal.yaml"
    script:
        "../scripts/compare.py"
