rule evaluate:
    """Raw metric quantities for one instance."""
    input:
        unpack(
            upstream_files(
                "evaluate",
                {
                    "visible": ("ground", "visible_mask.png"),
                    "masks": ("segment", "segments.npz"),
                    "segments": ("segment", "segments.json"),
                    "order": ("order", "order.json"),
                    "rgba": ("rgba", "amodal.png"),
                    "placement": ("rgba", "placement.json"),
                },
            )
        ),
        image=instance_image,
        gt=instance_gt,
    output:
        metrics=f"{stage_dir('evaluate', '{evaluate}')}/metrics.json",
    params:
        spec=stage_spec("evaluate"),
    log:
        f"{LOGS}/stages/{{dataset}}/{{instance}}/evaluate/{{evaluate}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/stages/{{dataset}}/{{instance}}/evaluate/{{evaluate}}.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/amodal.yaml"
    script:
        "../scripts/evaluate.py"
