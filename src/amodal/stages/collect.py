"""An experiment's instance folder: its deliverable and metrics, and the stage folders they came from."""

from __future__ import annotations

import shutil

from amodal.imaging import io


def collect_instance(inputs: dict, outputs: dict, *, stages: dict) -> None:
    """Copy one experiment's deliverable and metrics next to a map of the stage folders used
    (`stages`: the experiment's planned stages, in stage order)."""
    for name in ("metrics", "rgba", "placement"):
        with io.atomic_path(outputs[name]) as tmp:
            shutil.copyfile(inputs[name], tmp)
    io.write_json(outputs["stages"], dict(stages))
