"""The instance table, the one form every dataset format is read into (`amodal.datasets.load`).

An instance is one (image, text query[, ground truth]) unit of work. Whatever the source format,
the workflow sees a DataFrame with the columns in `COLUMNS`:

    id       unique and filesystem-safe ([A-Za-z0-9._-]+): it names the instance's result folder
    image    path of the image (relative paths stay relative to the working directory)
    query    text query ("" where it is read later, e.g. from a synthetic scene.json)
    gt       path of a ground-truth JSON, or "" when there is none
    status   "ok", or a short code such as "missing_image"
    message  "", or a sentence naming the file and what to do

Defective inputs do not stop a load: they become rows with status != "ok", so reports can list
them while the workflow skips them. Only problems with a whole file (unreadable, not JSON, wrong
top-level shape) raise.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable

import pandas as pd

from amodal.errors import InstanceError
from amodal.imaging.io import atomic_path

COLUMNS = ["id", "image", "query", "gt", "status", "message"]
OK = "ok"

SAFE_ID = re.compile(r"[A-Za-z0-9._-]+")
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


MAX_ID_PART = 100  # ids name folders: a long filename or query must not exceed a file name's limit


def safe_id(text: str, fallback: str = "instance") -> str:
    """`text` made filesystem-safe and at most MAX_ID_PART characters; leading dots go so an
    id is never hidden, '.' or '..'."""
    cleaned = _UNSAFE_CHARS.sub("_", text.strip()).lstrip(".")[:MAX_ID_PART]
    return cleaned or fallback


def instance_row(id_: str, image, query: str = "", gt="", status: str = OK, message: str = "") -> dict:
    """One row of an instance table, paths as strings; `finish_table` makes rows a table."""
    return {"id": id_, "image": str(image), "query": query, "gt": str(gt), "status": status, "message": message}


def dedupe_ids(ids: Iterable[str]) -> list[str]:
    """Ids made unique: the first keeps its id, later repeats get -2, -3, ... in order.

    A suffix is never one of the original ids, so renaming cannot create a new clash.
    """
    ids = list(ids)
    taken = set(ids)
    seen: set[str] = set()
    unique = []
    for id_ in ids:
        if id_ in seen:
            n = 2
            while f"{id_}-{n}" in taken:
                n += 1
            id_ = f"{id_}-{n}"
            taken.add(id_)
        seen.add(id_)
        unique.append(id_)
    return unique


def finish_table(rows: list[dict], extra_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """Rows as a validated table, with unique ids and messages that name their instance."""
    table = pd.DataFrame(rows, columns=COLUMNS + list(extra_columns))
    table["id"] = dedupe_ids(table["id"])
    bad = table["message"] != ""
    table.loc[bad, "message"] = [
        f"instance {i!r}: {m}" for i, m in zip(table.loc[bad, "id"], table.loc[bad, "message"])
    ]
    return validate_table(table)


def validate_table(df: pd.DataFrame) -> pd.DataFrame:
    """Check the instance-table contract; returns `df`, raises ValueError naming what is wrong."""
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"instance table lacks columns {missing}; it needs {COLUMNS}")
    ids = df["id"].tolist()
    unsafe = [i for i in ids if not isinstance(i, str) or not SAFE_ID.fullmatch(i) or i in (".", "..")]
    if unsafe:
        raise ValueError(
            f"instance ids are not filesystem-safe ([A-Za-z0-9._-]+): {unsafe}; "
            "rename them (datasets.safe_id does this)"
        )
    repeated = sorted(i for i, n in Counter(ids).items() if n > 1)
    if repeated:
        raise ValueError(
            f"instance ids are not unique: {repeated}; give each instance its own id (datasets.dedupe_ids does this)"
        )
    blank = [i for i, s in zip(ids, df["status"]) if not isinstance(s, str) or not s]
    if blank:
        raise ValueError(f"instances {blank} have an empty status; use 'ok' or a short code")
    return df


def get_instance(df: pd.DataFrame, instance_id: str) -> pd.Series:
    """The row of one instance; raises InstanceError if it is not ok to process."""
    rows = df[df["id"] == instance_id]
    if rows.empty:
        raise KeyError(f"no instance {instance_id!r} in the table; rerun the dataset stage if the dataset changed")
    row = rows.iloc[0]
    if row["status"] != OK:
        raise InstanceError(instance_id, row["image"], f"{row['status']}: {row['message']}")
    return row


def write_table(df: pd.DataFrame, path) -> None:
    validate_table(df)
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)


def read_table(path) -> pd.DataFrame:
    # Without keep_default_na an empty gt or message would come back as NaN, not "".
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    return validate_table(table)
