"""What produced a file: package versions recorded in every stage record (as nf-core modules do)."""

from __future__ import annotations

import platform
from functools import lru_cache
from importlib import metadata

PACKAGES = (
    "amodal",
    "numpy",
    "opencv-python-headless",
    "scikit-image",
    "pillow",
    "pandas",
    "torch",
    "diffusers",
    "transformers",
    "segment-anything",
    "groundingdino-py",
    "open-clip-torch",
    "torchvision",
    "torchmetrics",
    "gradio-client",
)


@lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def stamp(record: dict, stage: str, key: str | None = None) -> dict:
    """The record with the stage, its folder key and the versions that made it."""
    return dict(record, stage=stage, key=key, versions=versions())
