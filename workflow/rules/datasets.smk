rule make_scene:
    """One scene of a synthetic-occlusion benchmark, with its exact ground truth."""
    input:
        unpack(benchmark_sources),
    output:
        image=f"{DATASET_ROOT}/{{instance}}/image.png",
        scene=f"{DATASET_ROOT}/{{instance}}/scene.json",
        visible=f"{DATASET_ROOT}/{{instance}}/visible_mask.png",
        amodal=f"{DATASET_ROOT}/{{instance}}/amodal_mask.png",
        whole=f"{DATASET_ROOT}/{{instance}}/whole.png",
    params:
        spec=dataset_spec,
    log:
        f"{LOGS}/datasets/{{dataset}}/{{instance}}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../../envs/amodal.yaml"
    script:
        "../scripts/make_scene.py"
