rule ground:
    """Where is the queried object visible?"""
    input:
        image=instance_image,
        gt=instance_gt,
    output:
        mask=f"{stage_dir('ground', '{ground}')}/visible_mask.png",
        record=f"{stage_dir('ground', '{ground}')}/ground.json",
    params:
        spec=stage_spec("ground"),
    log:
        f"{LOGS}/stages/{{dataset}}/{{instance}}/ground/{{ground}}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/amodal.yaml"
    script:
        "../scripts/ground.py"
