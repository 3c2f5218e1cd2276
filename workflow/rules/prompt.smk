rule prompt:
    """What should the inpainter draw?"""
    input:
        unpack(
            upstream_files(
                "prompt",
                {
                    "visible": ("ground", "visible_mask.png"),
                    "ground": ("ground", "ground.json"),
                    "tags": ("tag", "tags.json"),
                },
            )
        ),
        gt=instance_gt,
    output:
        record=f"{stage_dir('prompt', '{prompt}')}/prompt.json",
    params:
        spec=stage_spec("prompt"),
        query=instance_query,
    log:
        f"{LOGS}/stages/{{dataset}}/{{instance}}/prompt/{{prompt}}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/amodal.yaml"
    script:
        "../scripts/prompt.py"
