"""Model families: each module builds its network from a config (random weights) and loads a
checkpoint in a second, explicit step, with device and dtype as arguments.

Nothing here is downloaded at run time: checkpoints come from a configured local path or
the user's caches (`amodal.models.weights`), and a missing one is a `MissingCheckpoint` that
names the file and the command that fetches it.
"""

from __future__ import annotations

from pathlib import Path


class MissingCheckpoint(FileNotFoundError):
    """A checkpoint a backend needs is not on disk."""

    def __init__(self, what: str, path, weights_name: str, config_key: str):
        self.path = str(path)
        self.weights_name = weights_name
        super().__init__(
            f"{what} checkpoint not found at {path}; run `amodal weights fetch {weights_name}` on a machine "
            f"with internet, or set {config_key} to the file"
        )


def require_file(path, what: str, weights_name: str, config_key: str) -> Path:
    """`path` as a Path if it is an existing file (or folder), else MissingCheckpoint."""
    if path is None or not Path(path).exists():
        raise MissingCheckpoint(what, path, weights_name, config_key)
    return Path(path)
