rule tag:
    """What else is in the image?"""
    input:
        image=instance_image,
        gt=instance_gt,
    output:
        record=f"{stage_dir('tag', '{tag}')}/tags.json",
    params:
        spec=stage_spec("tag"),
    log:
        f"{LOGS}/stages/{{dataset}}/{{instance}}/tag/{{tag}}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/amodal.yaml"
    script:
        "../scripts/tag.py"
