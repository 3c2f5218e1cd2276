"""The visual report's small pictures: photos, masks tinted over photos, RGBA cut-outs.

Each picture is made once from the contents of its source files and kept in a cache folder
under a name derived from those contents (a rerun of the report makes only the pictures
whose sources changed); the report's own folder receives a hard link (or a copy) of it, so
it stays self-contained.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from amodal.imaging import io

THUMB_SIDE = 192  # longest side of every picture in the report, px
_VERSION = "1"  # bump when the pictures' look changes: every cached one is made again
TINTS = {  # RGB and opacity of a mask drawn over a photo
    "visible": ((40, 200, 90), 0.5),
    "occluders": ((230, 40, 40), 0.6),
    "inpaint": ((220, 40, 220), 0.5),
    "amodal": ((40, 110, 240), 0.5),
}


def photo(path, side: int = THUMB_SIDE) -> Image.Image:
    """An image file as upright RGB (as every stage sees it), its longest side at most `side`.
    Callers must not change the image returned (it is shared)."""
    found = os.stat(path)
    return _photo(str(path), found.st_mtime_ns, found.st_size, side)


@lru_cache(maxsize=8)  # an instance's photo serves several of its pictures; a changed file is read again
def _photo(path: str, mtime_ns: int, size: int, side: int) -> Image.Image:
    with Image.open(path) as im:
        im.draft("RGB", (side, side))  # JPEG: decode at a reduced scale when that is enough
        rgb = Image.fromarray(io.upright_rgb8(im))
    rgb.thumbnail((side, side), Image.Resampling.LANCZOS)
    return rgb


def cutout(path, side: int = THUMB_SIDE) -> Image.Image:
    """An RGBA image, its longest side at most `side` (transparency kept)."""
    with Image.open(path) as im:
        rgba = im.convert("RGBA")
    rgba.thumbnail((side, side), Image.Resampling.LANCZOS)
    return rgba


def tinted(base: Image.Image, masks: list[tuple[str, str]]) -> Image.Image:
    """`base` with each (mask file, tint name) drawn over it in the tint's colour; a mask is
    scaled to `base` (its share of each pixel sets the opacity, so thin parts stay visible)."""
    out = np.asarray(base.convert("RGB"), dtype=np.float32)
    for mask_path, tint in masks:
        colour, opacity = TINTS[tint]
        with Image.open(mask_path) as im:
            share = im.convert("L").resize(base.size, Image.Resampling.BOX)
        alpha = (np.asarray(share, dtype=np.float32) / 255.0)[..., None] * opacity
        out = out * (1 - alpha) + np.asarray(colour, dtype=np.float32) * alpha
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8))


def is_placeholder(path) -> bool:
    """A failed stage writes 1x1 images in place of its pictures (amodal.run.isolation.write_failed)."""
    try:
        with Image.open(path) as im:
            return im.size[0] <= 1 and im.size[1] <= 1
    except (OSError, ValueError, SyntaxError):
        return True


def content_key(*parts) -> str:
    digest = hashlib.sha256(_VERSION.encode())
    for part in parts:
        if isinstance(part, Path):
            digest.update(hashlib.sha256(part.read_bytes()).digest())
        else:
            digest.update(repr(part).encode())
    return digest.hexdigest()[:20]


class Thumbnails:
    """Pictures for one report folder, made through a cache shared by every build."""

    def __init__(self, report_dir, cache_dir):
        self.report_dir, self.cache_dir = Path(report_dir), Path(cache_dir)
        self.used: set[str] = set()

    def _place(self, key: str, suffix: str, make) -> str:
        name = f"{key[:2]}/{key}{suffix}"
        cached = self.cache_dir / name
        if not cached.exists():
            cached.parent.mkdir(parents=True, exist_ok=True)
            picture = make()
            with io.atomic_path(cached) as tmp:
                if suffix == ".jpg":
                    picture.convert("RGB").save(tmp, format="JPEG", quality=85)
                else:
                    picture.save(tmp, format="PNG")
                os.chmod(tmp, 0o644)  # the report may be served as it is (mkstemp makes files private)
        target = self.report_dir / "thumbs" / name
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(cached, target)
            except OSError:  # another file system, or one without hard links
                shutil.copyfile(cached, target)
        self.used.add(name)
        return f"thumbs/{name}"

    def photo(self, path, masks: list[tuple[str, str]] = ()) -> str | None:
        """A photo (with masks tinted over it); None when a file is missing or unreadable."""
        sources = [Path(path), *(Path(m) for m, _ in masks)]
        if any(not p.is_file() or is_placeholder(p) for p in sources):
            return None
        key = content_key("photo", THUMB_SIDE, *sources, *(tint for _, tint in masks))
        return self._safe(lambda: self._place(key, ".jpg", lambda: tinted(photo(path), list(masks))))

    def cutout(self, path) -> str | None:
        """An RGBA picture kept transparent (the page draws it on a checkerboard)."""
        path = Path(path)
        if not path.is_file() or is_placeholder(path):
            return None
        key = content_key("cutout", THUMB_SIDE, path)
        return self._safe(lambda: self._place(key, ".png", lambda: cutout(path)))

    @staticmethod
    def _safe(make) -> str | None:
        try:
            return make()
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
            return None  # an unreadable picture is left out; the instance's record says why

    def prune_cache(self) -> None:
        """Forget cached pictures this build did not use (the cache would otherwise only grow)."""
        if not self.cache_dir.is_dir():
            return
        for path in self.cache_dir.glob("*/*"):
            if f"{path.parent.name}/{path.name}" not in self.used:
                path.unlink()
