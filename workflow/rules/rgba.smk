rule rgba:
    """The deliverable: visible pixels over completed ones, cropped, with its placement."""
    input:
        unpack(
            upstream_files(
                "rgba",
                {
                    "visible": ("ground", "visible_mask.png"),
                    "complete": ("complete", "complete.json"),
                    "completion": ("complete", "completion.png"),
                    "amodal": ("complete", "amodal_mask.png"),
                },
            )
        ),
        image=instance_image,
    output:
        rgba=f"{stage_dir('rgba', '{rgba}')}/amodal.png",
        placement=f"{stage_dir('rgba', '{rgba}')}/placement.json",
    params:
        spec=stage_spec("rgba"),
    log:
        f"{LOGS}/stages/{{dataset}}/{{instance}}/rgba/{{rgba}}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/amodal.yaml"
    script:
        "../scripts/rgba.py"
