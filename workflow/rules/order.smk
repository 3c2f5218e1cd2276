rule order:
    """Which segments occlude the target?"""
    input:
        unpack(
            upstream_files(
                "order",
                {
                    "visible": ("ground", "visible_mask.png"),
                    "masks": ("segment", "segments.npz"),
                    "segments": ("segment", "segments.json"),
                },
            )
        ),
        image=instance_image,
        gt=instance_gt,
    output:
        record=f"{stage_dir('order', '{order}')}/order.json",
        occluders=f"{stage_dir('order', '{order}')}/occluder_mask.png",
    params:
        spec=stage_spec("order"),
    log:
        f"{LOGS}/stages/{{dataset}}/{{instance}}/order/{{order}}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/amodal.yaml"
    script:
        "../scripts/order.py"
