rule collect:
    """One experiment's deliverable and metrics for one instance, with the stage folders they came from."""
    input:
        unpack(experiment_instance_files),
    output:
        metrics=f"{RESULTS}/{{experiment}}/{{dataset}}/{{instance}}/metrics.json",
        rgba=f"{RESULTS}/{{experiment}}/{{dataset}}/{{instance}}/amodal.png",
        placement=f"{RESULTS}/{{experiment}}/{{dataset}}/{{instance}}/placement.json",
        stages=f"{RESULTS}/{{experiment}}/{{dataset}}/{{instance}}/stages.json",
    params:
        stage_keys=experiment_keys,
        stage_root=STAGE_ROOT,
    log:
        f"{LOGS}/{{experiment}}/{{dataset}}/{{instance}}/collect.log",
    localrule: True
    conda:
        "../../envs/amodal.yaml"
    script:
        "../scripts/collect.py"


rule aggregate:
    """One metrics table per experiment and dataset."""
    input:
        metrics=experiment_metrics,
    output:
        csv=f"{RESULTS}/{{experiment}}/{{dataset}}/metrics.csv",
        table=f"{RESULTS}/{{experiment}}/{{dataset}}/table.md",
        summary=f"{RESULTS}/{{experiment}}/{{dataset}}/summary.json",
    params:
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
