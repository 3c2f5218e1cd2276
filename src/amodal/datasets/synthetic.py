"""The instance table of a generated synthetic benchmark (`amodal.synthetic` writes it): one
instance per scene, its image and scene.json, known before the scenes exist.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from amodal.datasets.table import finish_table, instance_row
from amodal.synthetic.files import SCENE_FILES


def synthetic_table(out_dir, n_scenes: int) -> pd.DataFrame:
    """The instances a synthetic benchmark of `n_scenes` scenes will have, without reading it.

    The workflow needs the ids before the scenes are generated; the query is "" here because
    it lives in each scene.json.
    """
    if isinstance(n_scenes, bool) or not isinstance(n_scenes, int) or n_scenes < 0:
        raise ValueError(f"n_scenes must be a non-negative integer, got {n_scenes!r}")
    out_dir = Path(out_dir)
    rows = []
    for k in range(n_scenes):
        id_ = f"scene_{k:04d}"
        folder = out_dir / id_
        rows.append(instance_row(id_, folder / SCENE_FILES["image"], gt=folder / SCENE_FILES["record"]))
    return finish_table(rows)
