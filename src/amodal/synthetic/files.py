"""The file names of the synthetic benchmark's folder format, written by `amodal.synthetic.scenes`
and read by `amodal.datasets.synthetic`, `amodal.datasets.truth` and the visual report.

A benchmark folder holds `instances.csv`, `benchmark.json` and one folder per scene; a scene's
folder holds the files of `SCENE_FILES` and `objects/<k>.png`, every object's visible mask.
"""

BENCHMARK_FILES = {"instances": "instances.csv", "record": "benchmark.json"}
SCENE_FILES = {
    "image": "image.png",
    "visible_mask": "visible_mask.png",
    "amodal_mask": "amodal_mask.png",
    "whole": "whole.png",
    "record": "scene.json",  # written last: its presence means the scene is complete
}
OBJECTS_DIR = "objects"
