rule segment:
    """Where is everything else (other objects, background regions)?"""
    input:
        unpack(
            upstream_files(
                "segment",
                {
                    "visible": ("ground", "visible_mask.png"),
                    "ground": ("ground", "ground.json"),
                    "tags": ("tag", "tags.json"),
                },
            )
        ),
        image=instance_image,
        gt=instance_gt,
    output:
        masks=f"{stage_dir('segment', '{segment}')}/segments.npz",
        record=f"{stage_dir('segment', '{segment}')}/segments.json",
    params:
        spec=stage_spec("segment"),
    log:
        f"{LOGS}/stages/{{dataset}}/{{instance}}/segment/{{segment}}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/amodal.yaml"
    script:
        "../scripts/segment.py"
