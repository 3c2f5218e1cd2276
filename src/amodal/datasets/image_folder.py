"""Finding an annotation's image in the image folder a dataset spec names: the path as the
annotation writes it, else its basename, and never a file outside the folder.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath


def normalise_name(name: str) -> str:
    """An annotation's filename as a POSIX path: surrounding whitespace gone, backslashes as '/'."""
    return PurePosixPath(name.strip().replace("\\", "/")).as_posix()


def _inside(folder: Path, path: Path) -> bool:
    """Whether `path`, with '..' and symlinks resolved, lies inside `folder` (also resolved)."""
    root = os.path.realpath(folder)
    return os.path.commonpath([root, os.path.realpath(path)]) == root


def resolve_image(images_dir: Path, filename: str) -> tuple[Path, list[Path], str]:
    """(path to use, candidates tried, problem): the path relative to the folder, then the basename.

    Annotation files often carry a folder prefix (images_example/...) that the image folder
    a user points us at does not have. Only a file inside the image folder is ever used: a
    filename that leads out of it ('..', an absolute path, a symlink to elsewhere) and has no
    namesake inside gives `problem`, a sentence naming where it leads; otherwise `problem` is "".
    """
    candidates = [images_dir / filename]
    by_name = images_dir / PurePosixPath(filename).name
    if by_name != candidates[0]:
        candidates.append(by_name)
    for candidate in candidates:
        if candidate.is_file() and _inside(images_dir, candidate):
            return candidate, candidates, ""
    for candidate in candidates:
        if not _inside(images_dir, candidate):
            return (
                candidate,
                candidates,
                (
                    f"{filename!r} leads outside the image folder {images_dir} "
                    f"(to {os.path.realpath(candidate)}); only files inside it are read"
                ),
            )
    return candidates[0], candidates, ""


def missing_image_message(candidates: list[Path], source) -> str:
    """The message of a row whose image is at none of `candidates`; `source` is the annotation file."""
    tried = " or ".join(str(c) for c in candidates)
    return f"image not found at {tried}; put the image there or fix its filename in {source}"
