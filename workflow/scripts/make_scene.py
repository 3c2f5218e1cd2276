import sys

sys.stderr = open(snakemake.log[0], "w")

from pathlib import Path

from amodal.benchmark import build_scene

spec = snakemake.params.spec
build_scene(
    Path(snakemake.output.scene).parent.parent,
    snakemake.wildcards.instance,
    cutouts_dir=spec["cutouts"],
    backgrounds_dir=spec["backgrounds"],
    seed=spec["seed"],
    hidden_fraction=tuple(spec["hidden_fraction"]),
    border_share=spec["border_share"],
    occluders=tuple(spec["occluders"]),
    behind=tuple(spec["behind"]),
    image_size=spec["image_size"],
)
