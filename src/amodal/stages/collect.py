"""An experiment's instance folder: its deliverable and metrics, and the stage folders they came from."""

from __future__ import annotations

import shutil
from pathlib import Path

from amodal.imaging import io


class LostStageFile(Exception):
    """A file removed from inside a stage folder that Snakemake still counts as done."""


def collect_instance(inputs: dict, outputs: dict, *, stages: dict) -> None:
    """Copy one experiment's deliverable and metrics next to a map of the stage folders used
    (`stages`: the experiment's planned stages, in stage order)."""
    for name in ("metrics", "rgba", "placement"):
        if not Path(inputs[name]).is_file():
            raise LostStageFile(lost_file_message(inputs[name]))
        with io.atomic_path(outputs[name]) as tmp:
            shutil.copyfile(inputs[name], tmp)
    io.write_json(outputs["stages"], dict(stages))


def lost_file_message(path) -> str:
    """What to do about a file missing from its stage folder (<results>/stages/<dataset>/
    <instance>/<stage>/<key>/<file>, amodal.plan.layout.stage_folder)."""
    path = Path(path)
    key_folder = path.parent
    stage, instance, dataset = (
        key_folder.parent.name,
        key_folder.parent.parent.name,
        key_folder.parent.parent.parent.name,
    )
    results = key_folder.parent.parent.parent.parent.parent
    return (
        f"{path} is missing from its stage folder (Snakemake sees a removed folder, not a file removed "
        f"inside one): run `amodal invalidate --results {results} --dataset {dataset} --stage {stage} "
        f"--key {key_folder.name} {instance}`, then the workflow again"
    )
