"""The collect stage copies an experiment's deliverables; a file removed inside a stage folder
(which Snakemake cannot see) stops it with the command that recomputes that folder."""

import json

import pytest

from amodal.plan import layout
from amodal.stages.collect import LostStageFile, collect_instance


def stage_files(results, instance="scene_0001"):
    rgba = layout.stage_folder(str(results), "bench", instance, "rgba", "blend-e17ef0e5")
    evaluate = layout.stage_folder(str(results), "bench", instance, "evaluate", "standard-366253d3")
    return {
        "metrics": f"{evaluate}/metrics.json",
        "rgba": f"{rgba}/amodal.png",
        "placement": f"{rgba}/placement.json",
    }


def test_the_deliverables_are_copied_beside_the_map_of_stage_folders(tmp_path):
    inputs = stage_files(tmp_path / "results")
    for name, path in inputs.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(name)
    inputs = {name: str(tmp_path / path) for name, path in inputs.items()}
    outputs = layout.collected_outputs(str(tmp_path / "exp" / "bench" / "scene_0001"))
    (tmp_path / "exp" / "bench" / "scene_0001").mkdir(parents=True)
    collect_instance(inputs, outputs, stages={"rgba": "blend-e17ef0e5"})
    assert [open(outputs[name]).read() for name in ("metrics", "rgba", "placement")] == ["metrics", "rgba", "placement"]
    assert json.load(open(outputs["stages"])) == {"rgba": "blend-e17ef0e5"}


def test_a_file_removed_inside_a_stage_folder_names_the_invalidate_command(tmp_path):
    results = tmp_path / "results"
    inputs = stage_files(results)
    for name, path in inputs.items():
        if name != "rgba":  # amodal.png removed by hand
            (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / path).write_text(name)
    with pytest.raises(LostStageFile) as lost:
        collect_instance(inputs, layout.collected_outputs(str(tmp_path / "out")), stages={})
    message = str(lost.value)
    assert inputs["rgba"] in message and "is missing from its stage folder" in message
    assert (
        f"amodal invalidate --results {results} --dataset bench --stage rgba --key blend-e17ef0e5 scene_0001" in message
    )
