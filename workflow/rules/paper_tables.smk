rule paper_tables:
    """The paper's tables of one dataset: methods (Table 3; Table 4 over the ablation
    experiments) with bootstrap intervals, and failures by kind (Table 5)."""
    input:
        unpack(paper_table_inputs),
    output:
        **paper_table_outputs(("methods", "failures")),
    log:
        f"{LOGS}/tables/{{dataset}}/paper_tables.log",
    localrule: True
    conda:
        "../../envs/amodal.yaml"
    params:
        experiments=config["experiments"],
        settings=experiment_settings,
        bootstrap=config["tables"]["bootstrap"],
        reference=config["tables"]["reference"],
    script:
        "../scripts/paper_tables.py"


rule ground_truth_tables:
    """The metrics against the ground truth of one dataset that has it, per experiment and per
    experiment and category, with bootstrap intervals."""
    input:
        unpack(paper_table_inputs),
    output:
        **paper_table_outputs(("ground_truth", "ground_truth_by_category")),
    log:
        f"{LOGS}/tables/{{dataset}}/ground_truth_tables.log",
    localrule: True
    conda:
        "../../envs/amodal.yaml"
    params:
        experiments=config["experiments"],
        settings=experiment_settings,
        bootstrap=config["tables"]["bootstrap"],
    script:
        "../scripts/ground_truth_tables.py"
