rule complete:
    """The whole object, pass by pass, inside the seed's crop."""
    input:
        unpack(
            upstream_files(
                "complete",
                {
                    "visible": ("ground", "visible_mask.png"),
                    "ground": ("ground", "ground.json"),
                    "occluders": ("order", "occluder_mask.png"),
                    "order": ("order", "order.json"),
                    "prompt": ("prompt", "prompt.json"),
                },
            )
        ),
        image=instance_image,
        wallpaper=config["wallpaper"],
    output:
        record=f"{stage_dir('complete', '{complete}')}/complete.json",
        completion=f"{stage_dir('complete', '{complete}')}/completion.png",
        amodal=f"{stage_dir('complete', '{complete}')}/amodal_mask.png",
        iterations=directory(f"{stage_dir('complete', '{complete}')}/iterations"),
    params:
        spec=stage_spec("complete"),
    log:
        f"{LOGS}/stages/{{dataset}}/{{instance}}/complete/{{complete}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/stages/{{dataset}}/{{instance}}/complete/{{complete}}.tsv"
    threads: 1
    resources:
        mem_mb=memory_by_attempt(2000),
        runtime=30,
    conda:
        "../../envs/amodal.yaml"
    script:
        "../scripts/complete.py"
